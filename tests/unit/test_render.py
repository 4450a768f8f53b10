"""Rendering: feed text never pings anyone, never links anywhere, never breaks the limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensiond.alerts.render import (
    MAX_BLOCKS,
    MAX_SECTION,
    escape,
    render,
    render_list,
    render_reply,
    safe_link,
    truncate,
)
from tensiond.types import Event
from tests.factories import make_event, source

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ENTITY = re.compile(r"&(amp|lt|gt);")


def alert(
    title: str, link: str | None = "https://news.example/a", why: tuple[str, ...] = ()
) -> Event:
    return make_event(
        title, label="armed_conflict", tension=88, actors=("RU", "UA"), link=link, why=why,
        sources=(
            source("news.example", title=title, link=link),
            source("<!channel>&evil.example", title=title, link=link),
        ),
    )  # fmt: skip


def texts_of(message: dict) -> list[str]:
    found = [message["text"]]
    for block in message["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        for element in block.get("elements", []):
            found.append(element["text"])
    return found


def test_mentions_in_feed_text_ping_nobody() -> None:
    message = render(alert("<!channel> <!here> <!everyone> <@U123> <!subteam^S1> & co"))
    for text in texts_of(message):
        assert "<!" not in text and "<@" not in text
    assert "&lt;!channel&gt;" in message["blocks"][0]["text"]["text"]


def test_a_link_in_feed_text_shows_literally_and_only_the_item_url_is_live() -> None:
    message = render(alert("<https://evil.example|Reuters> says"))
    headline = message["blocks"][0]["text"]["text"]
    assert headline.startswith("<https://news.example/a|")
    assert "&lt;https://evil.example|Reuters&gt;" in headline
    assert headline.count("<") == 1


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "file:///etc/passwd", "ftp://x/y", "", None, "https://"],
    ids=["javascript", "file", "ftp", "empty", "none", "no-host"],
)
def test_only_http_links_are_live(url: str | None) -> None:
    assert safe_link(url) is None
    assert "<" not in render(alert("Title", link=url))["blocks"][0]["text"]["text"]


def test_a_url_cannot_break_out_of_slack_link_syntax() -> None:
    link = safe_link("https://news.example/a|b>c<d")
    assert link is not None and "|" not in link and ">" not in link and "<" not in link


@settings(max_examples=150, deadline=None)
@given(st.text(), st.lists(st.text(max_size=400), max_size=5))
def test_rendered_text_never_holds_raw_brackets_and_every_ampersand_is_an_entity(
    title: str, why: list[str]
) -> None:
    event = alert(title, link=None, why=tuple(why))
    for message in (
        render(event),
        render_reply(title, event),
        render_list(title, [event] * 30),
    ):
        assert len(message["blocks"]) <= MAX_BLOCKS
        for text in texts_of(message):
            assert "<" not in text and ">" not in text
            for position in [m.start() for m in re.finditer("&", text)]:
                assert ENTITY.match(text, position), text
            assert len(text) <= 4000


@given(st.text(alphabet="&<>ab", max_size=200), st.integers(min_value=8, max_value=120))
def test_truncation_never_splits_an_entity(raw: str, limit: int) -> None:
    cut = truncate(escape(raw), limit)
    assert len(cut) <= limit
    for position in [m.start() for m in re.finditer("&", cut)]:
        assert ENTITY.match(cut, position)


def test_long_text_is_cut_with_a_visible_marker() -> None:
    message = render(alert("x" * 10_000, why=("y" * 10_000,)))
    for block in message["blocks"]:
        text = block.get("text", {}).get("text") or block["elements"][0]["text"]
        assert len(text) <= MAX_SECTION
    assert message["blocks"][0]["text"]["text"].endswith("…>")
