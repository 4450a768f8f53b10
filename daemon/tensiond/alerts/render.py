"""Block Kit messages for alerts, with every piece of feed text escaped.

Slack reads ``<...>`` as links and mentions and ``&`` as the start of an entity, so feed text is
escaped (``&`` ``<`` ``>``) before it goes anywhere in a message; the only live link is the
item's own URL, http(s) only, with its host shown. Limits: 50 blocks, 3,000 characters a
section, a visible truncation marker that never splits an entity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from tensiond.types import Event

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FALLBACK = 4000
MARKER = "…"
LABEL_TITLES = {
    "weapons_test": "Weapons test",
    "armed_conflict": "Armed conflict",
    "military_posture": "Military posture",
    "threat": "Threat",
    "coercion": "Coercion",
    "diplomatic_dispute": "Diplomatic dispute",
    "cooperation": "Cooperation",
    "unrest": "Unrest",
    "other": "Other",
}
_ENTITY_MAX = len("&amp;")


def escape(text: str) -> str:
    """Escape Slack's three control characters in untrusted text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(escaped: str, limit: int) -> str:
    """Cut escaped text to ``limit`` characters with a marker, never inside an entity."""
    if len(escaped) <= limit:
        return escaped
    cut = limit - len(MARKER)
    ampersand = escaped.rfind("&", max(0, cut - _ENTITY_MAX), cut)
    if ampersand != -1 and ";" not in escaped[ampersand:cut]:
        cut = ampersand
    return escaped[:cut] + MARKER


def safe_link(url: str | None) -> str | None:
    """The URL if it is http(s) with a host, percent-encoding what would break Slack's syntax."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(url.strip(), safe=":/?#[]@!$&'()*+,;=%~-._")


def tension_bar(tension: int) -> str:
    filled = round(tension / 10)
    return "■" * filled + "□" * (10 - filled)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION)}}


def _context(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(text, MAX_SECTION)}],
    }


def _headline(title: str, url: str | None) -> str:
    escaped = truncate(escape(title), 600)
    link = safe_link(url)
    return f"<{link}|{escaped}>" if link else escaped


def _sources_line(event: Event, confirm_tier: int, confirm_sources: int) -> str:
    names = [escape(source.name) for source in event.sources]
    count = len(names)
    shown = ", ".join(names[:6]) + (f" and {count - 6} more" if count > 6 else "")
    line = f"{count} source{'s' if count != 1 else ''}: {shown}"
    independent = event.independent_sources(confirm_tier)
    if independent >= confirm_sources:
        line = f":white_check_mark: *Confirmed* by {independent} independent sources · " + line
    return line


def render(
    event: Event,
    actor_name: Callable[[str], str] = str,
    *,
    confirm_tier: int = 2,
    confirm_sources: int = 3,
) -> dict[str, Any]:
    """The ``chat.postMessage`` / ``chat.update`` arguments for an event: fallback text, Block
    Kit blocks, and the plain facts (``alert``) the console and the database keep."""
    label = LABEL_TITLES.get(event.label, event.label)
    actors = ", ".join(escape(actor_name(code)) for code in event.actors) or "no actors named"
    facts = f"*{label}* · tension *{event.tension}* {tension_bar(event.tension)} · {actors}"
    if event.modality != "actual":
        facts += f" · _{event.modality}_"
    when = event.first_seen.strftime("%Y-%m-%d %H:%M UTC")
    blocks: list[dict[str, Any]] = [
        _section(_headline(event.title, event.link)),
        _section(facts),
        _context(f"{_sources_line(event, confirm_tier, confirm_sources)} · first seen {when}"),
    ]
    if event.why:
        blocks.append(_context("Why: " + "; ".join(escape(reason) for reason in event.why)))
    others = [source for source in event.sources if source.item_id != event.item_id]
    if others:
        lines = [
            f"• {escape(source.name)}: {_headline(source.title, source.link)}"
            for source in others[:10]
        ]
        blocks.append(_section("\n".join(lines)))
    confirmed = event.independent_sources(confirm_tier) >= confirm_sources
    return {
        "text": fallback_text(event, confirmed),
        "blocks": blocks[:MAX_BLOCKS],
        "alert": {
            "label": event.label,
            "tension": event.tension,
            "title": event.title,
            "link": event.link,
            "sources": [source.name for source in event.sources],
            "confirmed": confirmed,
            "actors": [actor_name(code) for code in event.actors],
            "modality": event.modality,
            "why": list(event.why),
        },
    }


def fallback_text(event: Event, confirmed: bool = False) -> str:
    """Plain text for notifications and for the fallback after ``invalid_blocks``."""
    label = LABEL_TITLES.get(event.label, event.label)
    count = len(event.sources)
    sources = f" · {count} sources" if count > 1 else ""
    mark = " · confirmed" if confirmed else ""
    text = f"[{label} · tension {event.tension}{sources}{mark}] {escape(event.title)}"
    link = safe_link(event.link)
    if link:
        text += f" {link}"
    return truncate(text, MAX_FALLBACK)


def _event_line(event: Event) -> str:
    label = LABEL_TITLES.get(event.label, event.label)
    count = len(event.sources)
    return f"• *{label}* · {event.tension} · {_headline(event.title, event.link)} ({count} src)"


def render_reply(headline: str, event: Event) -> dict[str, Any]:
    """A thread reply: the development, easing or repeat, with the report that caused it."""
    label = LABEL_TITLES.get(event.label, event.label)
    source = escape(event.sources[-1].name) if event.sources else ""
    text = f"*{escape(headline)}* · {label} · tension {event.tension}: "
    text += _headline(event.title, event.link) + (f" ({source})" if source else "")
    plain = f"{escape(headline)}: {escape(event.title)}"
    return {"text": truncate(plain, MAX_FALLBACK), "blocks": [_section(text)]}


def render_list(heading: str, events: Sequence[Event]) -> dict[str, Any]:
    """Several events in one message (a grouped overflow or a digest), 20 lines a section."""
    blocks: list[dict[str, Any]] = [_section(f"*{escape(heading)}*")]
    lines = [_event_line(event) for event in events]
    for start in range(0, len(lines), 20):
        if len(blocks) == MAX_BLOCKS - 1:
            blocks.append(_context(f"{len(lines) - start} more not shown"))
            break
        blocks.append(_section("\n".join(lines[start : start + 20])))
    plain = f"{escape(heading)}: " + "; ".join(escape(event.title) for event in events)
    return {"text": truncate(plain, MAX_FALLBACK), "blocks": blocks}


def render_signal(
    signal: Mapping[str, Any], actor_name: Callable[[str], str] = str
) -> dict[str, Any]:
    """A spike or easing of a dyad's or a country's tension index."""
    names = " – ".join(escape(actor_name(code)) for code in str(signal["key"]).split("-"))
    spike = signal["kind"] == "spike"
    head = f"Tension {'spike' if spike else 'easing'}: {names}"
    level = (
        f"index *{signal['value']:.2f}* against a normal of {signal['baseline']:.2f} "
        f"(spread {signal['spread']:.2f}, z {signal['z']:.1f})"
    )
    if not spike:
        level += f"; it peaked at {signal['peak']:.2f}"
    if signal.get("cold_start"):
        level += " · little history yet: judged on the level alone"
    text = f"*{head}*\n{level}"
    plain = f"{head}: index {signal['value']:.2f} vs normal {signal['baseline']:.2f}"
    return {
        "text": truncate(plain, MAX_FALLBACK),
        "blocks": [
            _section(text),
            _context(f"{escape(str(signal['scope']))} index · chart in thread"),
        ],
        "alert": {
            "label": f"index {signal['kind']}",
            "tension": round(float(signal["value"]), 2),
            "title": head,
            "link": None,
            "sources": [],
            "actors": [actor_name(code) for code in str(signal["key"]).split("-")],
            "modality": "actual",
            "why": [level.replace("*", "")],
        },
    }
