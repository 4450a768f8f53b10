"""Block Kit messages for alerts, with every piece of feed text escaped.

Slack reads ``<...>`` as links and mentions and ``&`` as the start of an entity, so feed text is
escaped (``&`` ``<`` ``>``) before it goes anywhere in a message; the only live link is the
item's own URL, http(s) only, with its host shown. Limits: 50 blocks, 3,000 characters a
section, a visible truncation marker that never splits an entity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from tensiond.types import Alert

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


def render(alert: Alert, actor_name: Callable[[str], str] = str) -> dict[str, Any]:
    """The ``chat.postMessage`` arguments for an alert: fallback text and Block Kit blocks."""
    title = truncate(escape(alert.title), 600)
    link = safe_link(alert.link)
    host = urlsplit(link).hostname if link else None
    headline = f"<{link}|{title}>" if link else title
    label = LABEL_TITLES.get(alert.label, alert.label)
    actors = ", ".join(escape(actor_name(code)) for code in alert.actors) or "no actors named"
    facts = f"*{label}* · tension *{alert.tension}* {tension_bar(alert.tension)} · {actors}"
    if alert.modality != "actual":
        facts += f" · _{alert.modality}_"
    source = escape(alert.source) + (
        f" ({escape(host)})" if host and host not in alert.source else ""
    )
    when = alert.published.strftime("%Y-%m-%d %H:%M UTC") if alert.published else "time unknown"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(headline, MAX_SECTION)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(facts, MAX_SECTION)}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": truncate(f"{source} · {when}", MAX_SECTION)}],
        },
    ]
    if alert.why:
        why = "Why: " + "; ".join(escape(reason) for reason in alert.why)
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": truncate(why, MAX_SECTION)}],
            }
        )
    return {"text": fallback_text(alert), "blocks": blocks[:MAX_BLOCKS]}


def fallback_text(alert: Alert) -> str:
    """Plain text for notifications and for the fallback after ``invalid_blocks``."""
    label = LABEL_TITLES.get(alert.label, alert.label)
    text = f"[{label} · tension {alert.tension}] {escape(alert.title)}"
    link = safe_link(alert.link)
    if link:
        text += f" {link}"
    return truncate(text, MAX_FALLBACK)
