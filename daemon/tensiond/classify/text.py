"""Text preparation: what the classifier reads of a story."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")
MAX_CHARS = 600


def prepare(title: str, summary: str = "") -> str:
    """Headline, then the summary when it adds something, normalised and capped."""
    title = normalise(title)
    summary = normalise(summary)
    if summary and summary[:60].lower() not in title.lower():
        text = f"{title.rstrip('.')}. {summary}" if title else summary
    else:
        text = title or summary
    return text[:MAX_CHARS]


def normalise(text: str) -> str:
    """NFC, no control characters, single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch if ch.isprintable() or ch.isspace() else " " for ch in text)
    return _SPACE.sub(" ", text).strip()
