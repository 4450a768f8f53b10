"""Parse only what changed: entries already seen byte for byte are cut before feedparser runs.

A news feed that changed since the last poll usually carries two or three new stories on top of
thirty it carried before. feedparser is pure Python and costs about half a millisecond per entry,
so re-parsing the unchanged ones is most of a poll's CPU. Each ``<item>`` or ``<entry>`` element
is fingerprinted with the document's prolog and root tag (namespaces and entity declarations change
how it parses); an element whose fingerprint was in the feed at the previous poll parses to an item
that is already stored, so it is left out of the bytes handed to feedparser.

Only exact bytes are skipped, and only when the document splits cleanly: one kind of entry element,
as many openings as closings, none nested, none inside a CDATA section or a comment. Anything else
(UTF-16, prefixed elements, odd markup) is parsed whole, as is a feed seen for the first time
since start. :func:`without_known` never changes what is parsed, only how much.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

MAX_ENTRIES: Final = 2_000  # a feed with more entries is parsed whole (and not remembered)

_OPEN: Final = re.compile(rb"<(item|entry)(?=[\s>/])")
_CLOSE: Final = re.compile(rb"</(item|entry)\s*>")
_HIDDEN: Final = re.compile(rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->", re.DOTALL)
_ROOT: Final = re.compile(rb"<[A-Za-z_][^>]*>")


@dataclass(frozen=True)
class Delta:
    """The bytes to parse, the fingerprints of every entry in the document, and how many entries
    were left out as already seen."""

    content: bytes
    entries: frozenset[bytes]
    skipped: int


def _fingerprint(context: bytes, element: bytes) -> bytes:
    return hashlib.blake2b(element, digest_size=12, key=context).digest()


def _spans(content: bytes) -> list[tuple[int, int]] | None:
    """The (start, end) of every entry element, or None when the document does not split cleanly."""
    opens, closes = list(_OPEN.finditer(content)), list(_CLOSE.finditer(content))
    if not opens or len(opens) != len(closes) or len(opens) > MAX_ENTRIES:
        return None
    if len({m.group(1) for m in opens} | {m.group(1) for m in closes}) != 1:
        return None
    for hidden in _HIDDEN.finditer(content):
        text = hidden.group()
        if _OPEN.search(text) or _CLOSE.search(text):
            return None
    spans, previous_end = [], 0
    for opening, closing in zip(opens, closes, strict=True):
        start, end = opening.start(), closing.end()
        if start < previous_end or end <= start:
            return None  # nested, or a closing before its opening
        spans.append((start, end))
        previous_end = end
    return spans


def _entries(content: bytes) -> list[tuple[int, int, bytes]]:
    """Each entry's (start, end, fingerprint) in document order; none when it does not split."""
    spans = _spans(content)
    root = _ROOT.search(content, 0, spans[0][0]) if spans else None
    if spans is None or root is None:
        return []
    context = hashlib.blake2b(content[: root.end()], digest_size=32).digest()
    return [(start, end, _fingerprint(context, content[start:end])) for start, end in spans]


def fingerprints(content: bytes) -> list[bytes]:
    """The fingerprints of the document's entries, in order (empty when it does not split)."""
    return [fingerprint for _, _, fingerprint in _entries(content)]


def without_known(content: bytes, known: frozenset[bytes]) -> Delta:
    """The document without the entries in ``known`` (fingerprints from the previous poll)."""
    entries = _entries(content)
    if not entries:
        return Delta(content, frozenset(), 0)
    kept, skipped, position = [], 0, 0
    for start, end, fingerprint in entries:
        kept.append(content[position:start])
        if fingerprint in known:
            skipped += 1
        else:
            kept.append(content[start:end])
        position = end
    kept.append(content[position:])
    every = frozenset(fingerprint for _, _, fingerprint in entries)
    return Delta(b"".join(kept) if skipped else content, every, skipped)


class SeenEntries:
    """The entry fingerprints of each feed's last successfully stored poll, in memory.

    Losing them (a restart, a reload) costs one full parse per feed, nothing else; they are
    replaced only after the items of the poll were stored, so a failed store never hides an entry.
    """

    def __init__(self) -> None:
        self._feeds: dict[str, frozenset[bytes]] = {}

    def known(self, feed_url: str) -> frozenset[bytes]:
        return self._feeds.get(feed_url, frozenset())

    def remember(self, feed_url: str, entries: frozenset[bytes]) -> None:
        if entries:
            self._feeds[feed_url] = entries
        else:
            self._feeds.pop(feed_url, None)

    def __len__(self) -> int:
        return len(self._feeds)
