"""Canonical URLs and stable item ids: the same story has one id on every poll and every feed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import urls

from tensiond.feeds.ids import MAX_ID_LENGTH, canonical_url, item_id

WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        pytest.param(
            "HTTPS://News.Example.COM/World/A", "https://news.example.com/World/A", id="case"
        ),
        pytest.param("http://news.example:80/a", "http://news.example/a", id="default-http-port"),
        pytest.param(
            "https://news.example:443/a", "https://news.example/a", id="default-https-port"
        ),
        pytest.param("https://news.example:8443/a", "https://news.example:8443/a", id="other-port"),
        pytest.param("https://news.example/a#comments", "https://news.example/a", id="fragment"),
        pytest.param("https://news.example", "https://news.example/", id="empty-path"),
        pytest.param("  https://news.example/a  ", "https://news.example/a", id="spaces"),
        pytest.param("https://user:pw@news.example/a", "https://news.example/a", id="user-info"),
        pytest.param(
            "https://news.example/a?utm_source=rss&utm_medium=feed&id=7",
            "https://news.example/a?id=7",
            id="utm",
        ),
        pytest.param(
            "https://news.example/a?fbclid=x&gclid=y&mc_cid=1&mc_eid=2&ocid=3&cmpid=4",
            "https://news.example/a",
            id="click-ids",
        ),
        pytest.param(
            "https://news.example/a?at_medium=RSS&at_campaign=KARANGA&CMP=twt&ns_source=x"
            "&ns_mchannel=y&ns_campaign=z&ns_linkname=w&ns_fee=0&taid=1&ito=2&smid=3"
            "&guccounter=1&rss=1&ref=home&ref_src=twsrc&share=1",
            "https://news.example/a",
            id="outlet-trackers",
        ),
        pytest.param(
            "https://news.example/a?b=2&a=1&UTM_Campaign=x",
            "https://news.example/a?a=1&b=2",
            id="sorted",
        ),
        pytest.param(
            "https://news.example/a?q=a%20b", "https://news.example/a?q=a%20b", id="as-written"
        ),
        pytest.param("https://[2001:db8::1]:443/a", "https://[2001:db8::1]/a", id="ipv6-host"),
        pytest.param("urn:uuid:1234", "urn:uuid:1234", id="not-http"),
        pytest.param("http://[::1/a", "http://[::1/a", id="invalid"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@given(urls())
def test_canonical_url_is_idempotent_on_urls(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@given(st.text())
def test_canonical_url_is_idempotent_on_any_text(text: str) -> None:
    once = canonical_url(text)
    assert canonical_url(once) == once


@given(urls(), st.sampled_from(["utm_source=x", "fbclid=1", "ref=rss", "at_medium=RSS"]))
def test_tracking_parameters_do_not_change_the_canonical_url(url: str, tracker: str) -> None:
    base = url.split("#")[0]
    tracked = base + ("&" if "?" in base else "?") + tracker
    assert canonical_url(tracked) == canonical_url(base)


@pytest.mark.parametrize(
    ("guid", "link", "expected"),
    [
        pytest.param(
            "https://News.example/a?utm_source=rss",
            "https://other.example/x",
            "https://news.example/a",
            id="url-guid-canonicalised",
        ),
        pytest.param(
            None, "https://news.example/b?fbclid=1#top", "https://news.example/b", id="link-only"
        ),
        pytest.param("  ", "javascript:alert(1)", "sha1:", id="blank-guid-and-bad-link"),
        pytest.param("post-7", "https://news.example/c", "guid:", id="opaque-guid-wins"),
    ],
)
def test_item_id_prefers_guid_then_link_then_title(
    guid: str | None, link: str | None, expected: str
) -> None:
    assert item_id(guid, link, "T", WHEN, "https://feeds.example/rss").startswith(expected)


def test_the_same_guid_through_two_feeds_gives_one_id() -> None:
    guid = "urn:uuid:8c6f4b1e-3a0f-4c7e-9d1b-2f5e6a7b8c9d"
    first = item_id(guid, "https://a.example/1", "A", WHEN, "https://a.example/rss")
    second = item_id(guid, "https://b.example/2", "B", None, "https://b.example/world.xml")
    assert first == second and first.startswith("guid:")


def test_the_same_url_through_two_feeds_gives_one_id() -> None:
    first = item_id(None, "https://n.example/a?utm_source=x", "A", WHEN, "https://n.example/rss")
    second = item_id("https://n.example/a?ref=rss#c", None, "B", None, "https://agg.example/rss")
    assert first == second == "https://n.example/a"


def test_a_short_guid_is_shared_by_feeds_of_one_host_only() -> None:
    same_host = {
        item_id("48213", None, "A", None, "https://n.example/world.xml"),
        item_id("48213", None, "A", None, "https://N.example:443/home.xml"),
    }
    other_host = item_id("48213", None, "A", None, "https://other.example/rss")
    assert len(same_host) == 1 and other_host not in same_host


def test_title_hash_depends_on_title_date_and_feed() -> None:
    base = item_id(None, None, "Talks  resume", WHEN, "https://n.example/rss")
    assert base == item_id(None, None, "talks resume", WHEN, "https://n.example/rss")
    assert base != item_id(None, None, "Talks resume", None, "https://n.example/rss")
    assert base != item_id(None, None, "Talks resume", WHEN, "https://m.example/rss")
    assert base.startswith("sha1:")


@given(
    st.one_of(st.none(), st.text()),
    st.one_of(st.none(), st.text(), urls()),
    st.one_of(st.none(), st.text()),
)
def test_item_ids_are_bounded_and_stable(
    guid: str | None, link: str | None, title: str | None
) -> None:
    identifier = item_id(guid, link, title, None, "https://n.example/rss")
    assert 0 < len(identifier) <= MAX_ID_LENGTH
    assert identifier == item_id(guid, link, title, None, "https://n.example/rss")


def test_long_urls_are_hashed() -> None:
    link = "https://n.example/" + "a" * 2000
    identifier = item_id(None, link, "T", None, "https://n.example/rss")
    assert identifier.startswith("sha1:") and len(identifier) <= MAX_ID_LENGTH
