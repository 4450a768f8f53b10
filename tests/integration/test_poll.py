"""The poll stage against a real feed server: items stored once, validators sent, bad feeds
recorded and backed off while the others go on, big polls parsed in worker processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tensiond import pipeline
from tensiond.clock import SimulatedClock
from tensiond.feeds.fetch import Fetcher
from tensiond.feeds.pool import ParsePool
from tensiond.metrics import Metrics
from tensiond.storage.repository import Repository
from tests.conftest import make_settings
from tests.feedserver import FeedServer, Route

NOW = datetime.now(UTC).replace(microsecond=0)


def rss(prefix: str, count: int = 3) -> bytes:
    items = "".join(
        f"<item><title>{prefix} story {n}</title>"
        f"<link>https://news.example/{prefix}/{n}?utm_source=rss</link>"
        f"<guid>https://news.example/{prefix}/{n}</guid>"
        f"<description>&lt;b&gt;Lede&lt;/b&gt; {n}</description></item>"
        for n in range(count)
    )
    channel = f"<channel><title>{prefix}</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


def build(
    repository: Repository, tmp_path: Path, urls: list[str], pool: ParsePool | None
) -> pipeline.Services:
    settings = make_settings(
        tmp_path,
        feeds=[{"url": url, "name": f"feed{n}"} for n, url in enumerate(urls)],
        fetch={"allow_private_networks": True, "jitter": 0, "timeout": "5s"},
    )
    repository.sync_feeds([(f.url, f.name) for f in settings.feeds], NOW)
    return pipeline.Services(
        settings=settings, repository=repository, fetcher=Fetcher(settings.fetch),
        classifier=None, sender=None, clock=SimulatedClock(NOW), metrics=Metrics(),  # type: ignore[arg-type]
        owner="test", parse_pool=pool,
    )  # fmt: skip


@pytest.mark.parametrize("feeds", [3, 20], ids=["inline-parsing", "worker-processes"])
def test_poll_stores_new_items_once_and_sends_validators_next_time(
    repository: Repository, tmp_path: Path, feeds: int
) -> None:
    pool = ParsePool(2)
    try:
        with FeedServer() as server:
            urls = [
                server.route(f"/f{n}.xml", Route(body=rss(f"f{n}"), etag=f'"v{n}"'))
                for n in range(feeds)
            ]
            run = build(repository, tmp_path, urls, pool)
            report = pipeline.poll(run)
            assert (report.feeds, report.new_items, report.errors) == (feeds, feeds * 3, 0)
            run.clock.advance(timedelta(minutes=11))  # type: ignore[attr-defined]
            again = pipeline.poll(run)
            assert (again.feeds, again.new_items) == (feeds, 0)
            assert server.requests_to("/f0.xml")[-1].headers.get("if-none-match") == '"v0"'
            assert repository.count("items") == feeds * 3
            stored = repository.item("https://news.example/f0/1")
            assert stored is not None and stored.summary == "Lede 1"
    finally:
        pool.close()


def test_a_bad_feed_is_recorded_and_backed_off_while_others_go_on(
    repository: Repository, tmp_path: Path
) -> None:
    with FeedServer() as server:
        good = server.route("/good.xml", Route(body=rss("good")))
        html = server.route(
            "/html.xml",
            Route(body=b"<html><body>oops</body></html>", headers={"Content-Type": "text/html"}),
        )
        gone = server.route("/gone.xml", Route(status=503, headers={"Retry-After": "120"}))
        run = build(repository, tmp_path, [good, html, gone], None)
        report = pipeline.poll(run)
        assert (report.new_items, report.errors) == (3, 2)
        states = {state.url: state for state in repository.feed_states()}
        assert states[good].failures == 0
        assert states[html].failures == 1 and states[gone].failures == 1
        retry_at = states[gone].next_poll_at
        assert retry_at is not None and retry_at >= NOW + timedelta(seconds=120)
        assert run.metrics.fetch_errors.labels("http_5xx")._value.get() == 1
        assert run.metrics.fetch_errors.labels("parse")._value.get() == 1


@pytest.mark.parametrize("feeds", [3, 20], ids=["inline-parsing", "worker-processes"])
def test_a_changed_feed_parses_only_its_new_entries(
    repository: Repository, tmp_path: Path, feeds: int, caplog: pytest.LogCaptureFixture
) -> None:
    pool = ParsePool(2)
    try:
        with FeedServer() as server:
            urls = [server.route(f"/f{n}.xml", Route(body=rss(f"f{n}"))) for n in range(feeds)]
            run = build(repository, tmp_path, urls, pool)
            assert pipeline.poll(run).new_items == feeds * 3
            assert len(run.seen_entries) == feeds, len(run.seen_entries)
            for n in range(feeds):  # two new stories on top; the three old ones unchanged
                newer = rss(f"f{n}", 5).replace(b"story 3<", b"story 3 (new)<")
                server.route(f"/f{n}.xml", Route(body=newer))
            run.clock.advance(timedelta(minutes=11))  # type: ignore[attr-defined]
            caplog.set_level("INFO", logger="tensiond.pipeline")
            caplog.clear()
            report = pipeline.poll(run)
            assert (report.new_items, report.errors) == (feeds * 2, 0)
            assert repository.item("https://news.example/f0/3").title == "f0 story 3 (new)"  # type: ignore[union-attr]
            polled = [r.getMessage() for r in caplog.records if "feed_polled" in r.getMessage()]
            assert len(polled) == feeds and all("items=2 unchanged=3 new=2" in m for m in polled)
    finally:
        pool.close()
