"""Parsing only what changed: entries seen at the previous poll are cut before feedparser, and
the cut never changes what a poll yields."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensiond.exceptions import ParseError
from tensiond.feeds.delta import SeenEntries, fingerprints, without_known
from tensiond.feeds.parse import parse_feed
from tests.unit.test_feed_parse import shared_feeds

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "https://news.example/rss.xml"


def item(n: int, title: str | None = None) -> str:
    return (
        f"<item><title>{title or f'Story {n}'}</title><link>https://news.example/{n}</link>"
        f"<guid>https://news.example/{n}</guid><description>Lede {n}</description></item>"
    )


def rss(numbers: list[int], root: str = '<rss version="2.0">', built: str = "") -> bytes:
    items = "\n".join(item(n) for n in numbers)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{root}<channel><title>World</title>'
        f"<lastBuildDate>{built}</lastBuildDate>{items}</channel></rss>"
    ).encode()


def atom(numbers: list[int]) -> bytes:
    entries = "".join(
        f"<entry><id>urn:story:{n}</id><title>Story {n}</title>"
        f'<link href="https://news.example/{n}"/><updated>2026-03-01T10:00:00Z</updated></entry>'
        for n in numbers
    )
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>World</title>'
        f"<id>urn:feed</id><updated>2026-03-01T10:00:00Z</updated>{entries}</feed>"
    ).encode()


def titles(content: bytes, known: frozenset[bytes] = frozenset()) -> list[str]:
    return [i.title for i in parse_feed(content, {}, URL, "World", NOW, known).items]


def test_entries_seen_at_the_last_poll_are_not_parsed_again() -> None:
    first = parse_feed(rss([1, 2, 3]), {}, URL, "World", NOW)
    assert len(first.entries) == 3 and first.skipped == 0
    second = parse_feed(rss([5, 4, 1, 2, 3], built="later"), {}, URL, "World", NOW, first.entries)
    assert [i.title for i in second.items] == ["Story 5", "Story 4"]
    assert second.skipped == 3 and len(second.entries) == 5


def test_atom_entries_are_cut_the_same_way() -> None:
    first = parse_feed(atom([1, 2]), {}, URL, "World", NOW)
    second = parse_feed(atom([3, 1, 2]), {}, URL, "World", NOW, first.entries)
    assert [i.title for i in second.items] == ["Story 3"] and second.skipped == 2


def test_an_edited_entry_is_parsed_again() -> None:
    first = parse_feed(rss([1, 2]), {}, URL, "World", NOW)
    edited = rss([1, 2]).replace(b"Story 2", b"Story 2, updated")
    assert titles(edited, first.entries) == ["Story 2, updated"]


def test_a_new_root_tag_or_prolog_makes_every_entry_new() -> None:
    first = parse_feed(rss([1, 2]), {}, URL, "World", NOW)
    namespaced = rss([1, 2], root='<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">')
    assert titles(namespaced, first.entries) == ["Story 1", "Story 2"]


def test_documents_that_do_not_split_cleanly_are_parsed_whole() -> None:
    hidden = rss([1, 2]).replace(b"Lede 1", b"<![CDATA[ a stray </item> inside ]]>")
    commented = rss([1, 2]).replace(b"<item>", b"<!-- <item> --><item>", 1)
    self_closing = rss([1, 2]).replace(b"</channel>", b"<item/></channel>")
    mixed = rss([1, 2]).replace(b"</channel>", b"<entry><title>x</title></entry></channel>")
    for content in (hidden, commented, self_closing, mixed, rss([1]).decode().encode("utf-16")):
        delta = without_known(content, frozenset({b"anything"}))
        assert delta.content == content and delta.skipped == 0 and not delta.entries


def test_a_cut_that_turns_out_bozo_is_parsed_whole() -> None:
    first = parse_feed(rss([1, 2, 3]), {}, URL, "World", NOW)
    broken = rss([4, 1, 2, 3]).replace(b"Story 4", b"Story 4 &undefined;")
    again = parse_feed(broken, {}, URL, "World", NOW, first.entries)
    assert again.skipped == 0 and again.bozo and len(again.entries) == 4
    assert len(again.items) == 4  # parsed whole, as without the cut


@settings(max_examples=60, deadline=None)
@given(
    before=st.lists(st.integers(0, 30), unique=True, max_size=12),
    after=st.lists(st.integers(0, 30), unique=True, min_size=1, max_size=12),
)
def test_a_cut_parse_yields_exactly_the_entries_not_seen_before(
    before: list[int], after: list[int]
) -> None:
    known = parse_feed(rss(before or [99]), {}, URL, "World", NOW).entries
    full = {i.id: i for i in parse_feed(rss(after), {}, URL, "World", NOW).items}
    cut = parse_feed(rss(after), {}, URL, "World", NOW, known)
    unseen = {key: value for key, value in full.items() if int(key.rsplit("/", 1)[1]) not in before}
    assert {i.id: i for i in cut.items} == unseen
    assert cut.entries == parse_feed(rss(after), {}, URL, "World", NOW).entries


def test_seen_entries_remember_only_a_poll_with_entries() -> None:
    seen = SeenEntries()
    seen.remember(URL, frozenset({b"a"}))
    assert seen.known(URL) == {b"a"} and len(seen) == 1
    seen.remember(URL, frozenset())  # a poll that failed to parse: parse whole next time
    assert seen.known(URL) == frozenset() and len(seen) == 0


@pytest.mark.skipif(not shared_feeds(), reason="no shared feed folder on this machine")
@pytest.mark.parametrize("path", shared_feeds(), ids=lambda path: path.name)
def test_real_feeds_cut_in_two_give_back_every_item(path: Path) -> None:
    """The items of the newest two entries and those of the rest, each parsed with the other
    half known, are the items of the whole feed."""
    content = path.read_bytes()
    try:
        whole = parse_feed(content, {}, URL, "World", NOW)
    except ParseError:
        return
    order = fingerprints(content)
    newest, rest = frozenset(order[:2]), frozenset(order[2:])
    top = parse_feed(content, {}, URL, "World", NOW, rest)
    bottom = parse_feed(content, {}, URL, "World", NOW, newest)
    halves = {i.id: i for i in bottom.items} | {i.id: i for i in top.items}
    assert halves == {i.id: i for i in whole.items}
    assert top.entries == bottom.entries == whole.entries
