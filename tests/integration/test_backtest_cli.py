"""`tensiond backtest` over a history the daemon's own decide step stored in a real database.

The history goes through ``pipeline._decide`` (clustering, routing, notices, the outbox) and real
delivery, on SQLite and PostgreSQL, over one simulated day: a held story in quiet hours and its
digest, a war that is updated, develops, inhibits a threat and eases, a burst that is grouped, and
stories under the threshold. Replaying it with the same config must give what the outbox holds,
message for message; a candidate config must change exactly what its changes touch.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tensiond import pipeline
from tensiond.alerts.slack import ConsoleSender
from tensiond.classify.actors import Gazetteer, default_gazetteer_path
from tensiond.cli import main
from tensiond.clock import SimulatedClock
from tensiond.config.load import load_settings
from tensiond.events.cluster import Report, story_terms
from tensiond.metrics import Metrics
from tensiond.storage.repository import Repository
from tensiond.types import LABELS, Classification, Item, Source

DAY = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = DAY + timedelta(hours=12)
ALERTING: dict[str, Any] = {
    "default_channel": "#alerts",
    "group_interval": "30s",
    "rate": {"group_after": 3},
    "routes": [
        {"name": "asia", "channel": "#asia", "regions": ["east_asia"],
         "quiet_hours": [{"start": "00:00", "end": "06:00"}], "digest": {"times": ["06:00"]}},
    ],
}  # fmt: skip


class Names:
    gazetteer = Gazetteer.load(default_gazetteer_path())


def write_config(path: Path, database: str, alerting: dict[str, Any]) -> Path:
    data = {"state_dir": str(path.parent / "state"), "storage": {"url": database},
            "http": {"listen": ""}, "alerting": alerting}  # fmt: skip
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def axis(story: int) -> np.ndarray:
    vector = np.zeros(64, dtype=np.float32)
    vector[story] = 1.0
    return vector


class Newsroom:
    """Stories reported by outlets at set times, decided and delivered as the daemon does."""

    def __init__(self, repository: Repository, config: Path) -> None:
        self.run = pipeline.Services(
            settings=load_settings(config), repository=repository, fetcher=None,  # type: ignore[arg-type]
            classifier=Names(), sender=ConsoleSender(io.StringIO()),  # type: ignore[arg-type]
            clock=SimulatedClock(DAY), metrics=Metrics(), owner="test",
        )  # fmt: skip

    def report(
        self, at: datetime, story: int, outlet: str, title: str, label: str, tension: int,
        actors: tuple[str, ...],
    ) -> Report:  # fmt: skip
        item = Item(
            id=f"https://{outlet}/{story}/{tension}", feed_url=f"https://{outlet}/rss",
            feed_name=outlet, title=title, summary="", link=f"https://{outlet}/{story}/{tension}",
            published=at, seen_at=at,
        )  # fmt: skip
        dyads = ("-".join(sorted(actors)),) if len(actors) == 2 else ()
        verdict = Classification(
            item_id=item.id, label=label, probabilities=dict.fromkeys(LABELS, 0.1),
            tension=tension, actors=actors, dyads=dyads, modality="actual", why=(),
            model_version="t",
        )  # fmt: skip
        self.run.repository.add_items([item])
        self.run.repository.save_classifications([verdict], at)
        source = Source(outlet, 2, item.id, title, item.link, at, label, tension)
        return Report(item, verdict, axis(story), story_terms(title), source)

    def decide(self, at: datetime, *stories: tuple[Any, ...]) -> None:
        self.run.clock.set(at)
        pipeline._decide(self.run, [self.report(at, *story) for story in stories], at)
        for _second in range(40):  # delivery, a pass a second (updates wait group_interval)
            pipeline.deliver(self.run, limit=100)
            self.run.clock.advance(timedelta(seconds=1))

    def digest(self, at: datetime) -> None:
        self.run.clock.set(at)
        pipeline.digest(self.run)


WAR = ("armed_conflict", ("RU", "UA"))


def live_a_day(newsroom: Newsroom) -> None:
    at = DAY + timedelta(hours=1)  # quiet hours on the asia route: held for the 06:00 digest
    newsroom.decide(at, (1, "a.example", "North Korea fires missile", "weapons_test", 80,
                         ("KP", "KR")))  # fmt: skip
    newsroom.digest(DAY + timedelta(hours=6, minutes=1))
    at = DAY + timedelta(hours=8)
    newsroom.decide(at, (2, "a.example", "Shelling kills 3 in Kharkiv", WAR[0], 85, WAR[1]))
    newsroom.decide(
        at + timedelta(minutes=2), (2, "b.example", "Kharkiv shelled", WAR[0], 85, WAR[1])
    )  # update
    newsroom.decide(
        at + timedelta(minutes=4), (3, "c.example", "Moscow threatens Kyiv", "threat", 75, WAR[1])
    )  # inhibited
    newsroom.decide(
        at + timedelta(minutes=6), (2, "d.example", "Kharkiv toll rises", WAR[0], 96, WAR[1])
    )  # develops
    newsroom.decide(
        at + timedelta(minutes=8),
        (4, "e.example", "Ceasefire talks agreed", "cooperation", 10, WAR[1]),
    )  # eases
    newsroom.decide(
        DAY + timedelta(hours=10),
        *[(10 + n, "f.example", f"Riot number {n} in Sao Paulo", "unrest", 70 + n, ("BR",))
          for n in range(5)],
    )  # a burst: the 3 most tense are posted, the other 2 grouped  # fmt: skip
    newsroom.decide(
        DAY + timedelta(hours=11),
        (20, "g.example", "Envoy summoned over remarks", "diplomatic_dispute", 50, ("FR", "DZ")),
    )  # under the threshold


def backtest(capsys: pytest.CaptureFixture[str], *arguments: str) -> dict[str, Any]:
    code = main(["backtest", "--since", "1d", "--until", UNTIL.isoformat(), "--json", *arguments])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result: dict[str, Any] = json.loads(captured.out)
    return result


def by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], int]:
    found: dict[tuple[str, str, str], int] = {}
    for row in rows:
        key = (row["route"], row["channel"], row["kind"])
        found[key] = found.get(key, 0) + row["count"]
    return found


@pytest.fixture
def history(repository: Repository, database_url: str, tmp_path: Path) -> Path:
    config = write_config(tmp_path / "current.yaml", database_url, ALERTING)
    live_a_day(Newsroom(repository, config))
    return config


def test_replaying_the_same_config_gives_what_the_outbox_holds(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = backtest(capsys, "--current", str(history))
    outbox = by_key(result["outbox"])
    assert outbox == {
        ("asia", "#asia", "digest"): 1,
        ("default", "#alerts", "post"): 4,  # the war and three riots
        ("default", "#alerts", "update"): 2,  # two more outlets on the war
        ("default", "#alerts", "reply"): 2,  # it develops, then eases
        ("default", "#alerts", "group"): 1,  # the other two riots
    }
    assert by_key(result["current"]["messages"]) == outbox
    assert result["candidate"] is None
    current = result["current"]
    assert (current["held"], current["muted"], current["inhibited"]) == (1, 0, 1)
    assert result["items"] == 12 and result["events"] == 10
    assert result["check"] == {"both": 4, "only_outbox": 0, "only_simulated": 0}
    riots = {(a["title"][:13], a["how"]) for a in current["alerts"] if "Riot" in a["title"]}
    assert riots == {("Riot number 4", "post"), ("Riot number 3", "post"),
                     ("Riot number 2", "post"), ("Riot number 1", "group"),
                     ("Riot number 0", "group")}  # fmt: skip


def test_a_candidate_changes_what_its_changes_touch(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alerting = {
        **ALERTING,
        "default_threshold": 45,  # the summoned envoy now alerts
        "mutes": [{"actors": ["BR"], "until": "2026-04-01T00:00:00Z"}],  # no riots
        "inhibit_rules": [],  # the threat is no longer held back by the war
        "routes": [
            *ALERTING["routes"],
            {"name": "europe", "channel": "#europe", "actors": ["RU", "UA"]},
        ],
    }
    candidate = write_config(tmp_path / "candidate.yaml", "sqlite:///unused.db", alerting)
    result = backtest(capsys, "--current", str(history), "--config", str(candidate))
    assert by_key(result["candidate"]["messages"]) == {
        ("asia", "#asia", "digest"): 1,
        ("europe", "#europe", "post"): 2,  # the war and the threat
        ("europe", "#europe", "update"): 2,
        ("europe", "#europe", "reply"): 3,  # develops, and the talks ease both
        ("default", "#alerts", "post"): 1,  # the envoy
    }
    assert result["candidate"]["muted"] == 5 and result["candidate"]["inhibited"] == 0
    titles = {alert["title"] for alert in result["candidate"]["alerts"]}
    assert "Envoy summoned over remarks" in titles and "Moscow threatens Kyiv" in titles
    assert not any("Riot" in title for title in titles)


def test_tables_name_each_route_channel_and_kind(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    candidate = write_config(tmp_path / "candidate.yaml", "", {**ALERTING, "default_threshold": 88})
    code = main(["backtest", "--current", str(history), "--config", str(candidate),
                 "--since", "1d", "--until", UNTIL.isoformat()])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(
        "replayed 12 items in 10 events, 2026-02-28 12:00 to 2026-03-01 12:00"
    )
    header = next(
        line.split() for line in lines if line.split()[:3] == ["route", "channel", "kind"]
    )
    assert header == ["route", "channel", "kind", "outbox", "current", "candidate", "change"]
    posts = next(
        line.split() for line in lines if line.split()[:3] == ["default", "#alerts", "post"]
    )
    assert posts[3:] == ["4", "4", "1", "-3"]  # only the war (85, then 96) reaches 88
    assert "simulation check: 4 events posted both in the outbox and in the simulation" in out
    assert "alerts it would no longer send (6):" in out  # the held missile test, five riots
    assert out.count("Riot number") == 5


def test_a_sweep_prints_the_volume_per_value(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = backtest(capsys, "--current", str(history), "--sweep", "default_threshold=40:90:10")
    values = result["values"]
    assert [row["value"] for row in values] == ["40", "50", "60", "70", "80", "90"]
    posts = [row["post"] + row["group"] for row in values]
    assert posts == sorted(posts, reverse=True) and posts[0] > posts[-1]
    assert values[2]["post"] == result["current"]["post"] == 4  # 60 is the current threshold


@pytest.mark.parametrize(
    ("sweep", "error"),
    [
        ("alerting.nosuch=1:2:1", "--sweep alerting.nosuch: no such alerting setting"),
        ("default_threshold=90:120:10", "--sweep default_threshold=110: Input should be less"),
        ("rate.group_after=1:2:0.5", "--sweep rate.group_after=1.5: Input should be a valid int"),
        ("default_channel=1:2:1", "--sweep default_channel: not a number"),
        ("default_threshold=80:40:5", "needs START <= STOP"),
        ("default_threshold", "use KEY=START:STOP:STEP"),
    ],
    ids=["unknown-key", "over-100", "fraction-for-int", "not-numeric", "reversed", "no-range"],
)
def test_a_bad_sweep_names_what_is_wrong_and_exits_2(
    history: Path, capsys: pytest.CaptureFixture[str], sweep: str, error: str
) -> None:
    code = main(["backtest", "--current", str(history), "--sweep", sweep])
    assert code == 2
    assert error in capsys.readouterr().err


def test_a_missing_database_is_an_error_not_an_empty_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "none.db"
    config = write_config(tmp_path / "c.yaml", f"sqlite:///{database}", ALERTING)
    assert main(["backtest", "--current", str(config)]) == 1
    assert f"no database at {database}" in capsys.readouterr().err
    assert not database.exists()
