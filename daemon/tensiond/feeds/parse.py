"""Turn fetched bytes into items: feedparser on bytes, then clean text, dates and stable ids.

feedparser never fetches here: it gets a byte stream (a bare ``bytes`` value would be tried as
a file name) and the response headers. First the prolog is cleaned (:func:`clean_prolog`):
feedparser re-declares every "safe" entity it finds before the root, of any length, and its loose
parser then expands them with none of expat's limits (quadratic blowup: minutes and gigabytes).
Text is stripped of HTML by our own extractor, so feedparser's sanitizer and URI resolution are
off.
"""

from __future__ import annotations

import calendar
import io
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import feedparser
from feedparser.exceptions import CharacterEncodingOverride, NonXMLContentType

from tensiond.exceptions import ParseError
from tensiond.feeds.delta import without_known
from tensiond.feeds.ids import item_id
from tensiond.types import Item

TITLE_LIMIT: Final = 500
SUMMARY_LIMIT: Final = 2000
FUTURE_TOLERANCE: Final = timedelta(days=1)
EARLIEST: Final = datetime(1990, 1, 1, tzinfo=UTC)
_RAW_LIMIT_FACTOR: Final = 32
_BOZO_LIMIT: Final = 200
_SPACES: Final = re.compile(r"\s+")
_LOOKS_HTML: Final = re.compile(r"</?[A-Za-z][^>]*>|&#?\w+;")
_BLOCK_TAGS: Final = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
     "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p",
     "pre", "section", "table", "td", "th", "tr", "ul"}
)  # fmt: skip
_SKIPPED_TAGS: Final = frozenset({"script", "style", "template", "noscript", "head"})
_LOOSE_DATE: Final = re.compile(
    r"(\d{1,2})\s+([^\W\d]{3,})\.?\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4})?"
)
_MONTHS: Final = {  # English, Portuguese, Spanish, French, German, Italian abbreviations
    **dict.fromkeys(["jan", "ene", "gen", "jän", "janv"], 1),
    **dict.fromkeys(["feb", "fev", "fév", "févr"], 2),
    **dict.fromkeys(["mar", "mär", "mrz"], 3),
    **dict.fromkeys(["apr", "abr", "avr"], 4),
    **dict.fromkeys(["may", "mai", "mag"], 5),
    **dict.fromkeys(["jun", "juin", "giu"], 6),
    **dict.fromkeys(["jul", "juil", "lug"], 7),
    **dict.fromkeys(["aug", "ago", "aoû", "aou"], 8),
    **dict.fromkeys(["sep", "set"], 9),
    **dict.fromkeys(["oct", "out", "okt", "ott"], 10),
    **dict.fromkeys(["nov"], 11),
    **dict.fromkeys(["dec", "dez", "dic", "déc"], 12),
}
_PROLOG_TOKEN: Final = re.compile(r"<\?|<!--|<!|<[A-Za-z0-9_]")  # the last one: the root
_XML_DECLARATION: Final = re.compile(
    r"<\?xml\s+version\s*=\s*([\"'])[\d.]{1,8}\1(\s+encoding\s*=\s*([\"'])[A-Za-z][\w.:-]{0,39}\3)?"
    r"(\s+standalone\s*=\s*([\"'])(yes|no)\5)?\s*\?>"
)
_DOCTYPE_NAME: Final = re.compile(r"<!DOCTYPE\s+([A-Za-z_:][\w.:-]{0,63})", re.IGNORECASE)
_DOCTYPE_STOP: Final = re.compile(r"[\"'\[>]")
_DECLARATION_STOP: Final = re.compile(r"[\"'>]")
_SUBSET_STOP: Final = re.compile(r"[\"'\]]|<!--|<\?")
_SUBSET_CLOSE: Final = re.compile(r"\s*>")
_SAFE_ENTITY: Final = re.compile(
    r"<!ENTITY\s+([A-Za-z_][\w.-]{0,31})\s+(\"(?:&#x?[0-9A-Fa-f]{1,6};|[^\"&%<]{0,8})\")\s*>"
)
_NETSCAPE_DOCTYPE: Final = (
    '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
    '"http://my.netscape.com/publish/formats/rss-0.91.dtd"'
)
_WIDE_CODECS: Final = (  # (leading bytes, codec, BOM to put back)
    (b"\xff\xfe\x00\x00", "utf-32-le", b"\xff\xfe\x00\x00"),
    (b"\x00\x00\xfe\xff", "utf-32-be", b"\x00\x00\xfe\xff"),
    (b"\xff\xfe", "utf-16-le", b"\xff\xfe"),
    (b"\xfe\xff", "utf-16-be", b"\xfe\xff"),
    (b"<\x00\x00\x00", "utf-32-le", b""),
    (b"\x00\x00\x00<", "utf-32-be", b""),
    (b"<\x00", "utf-16-le", b""),
    (b"\x00<", "utf-16-be", b""),
)


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed: its title, its usable items, and a short note when the XML was not clean."""

    title: str
    items: tuple[Item, ...]
    bozo: str | None = None
    entries: frozenset[bytes] = frozenset()  # fingerprints of every entry (see feeds.delta)
    skipped: int = 0  # entries left unparsed as already seen


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, dropping tags, scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(self._skipping - 1, 0)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _skip_quoted(text: str, start: int, stop: re.Pattern[str]) -> tuple[int, str] | None:
    """Find the next ``stop`` match at or after ``start`` outside quotes, comments and PIs."""
    position = start
    while (match := stop.search(text, position)) is not None:
        token = match.group()
        if token not in ('"', "'", "<!--", "<?"):
            return match.start(), token
        closer = {"<!--": "-->", "<?": "?>"}.get(token, token)
        end = text.find(closer, match.end())
        if end < 0:
            return None
        position = end + len(closer)
    return None


def _subset_end(text: str, start: int) -> tuple[int, int] | None:
    """Find the ``]`` closing an internal subset and the end of its ``>``; a stray ``]`` is not."""
    position = start
    while (found := _skip_quoted(text, position, _SUBSET_STOP)) is not None:
        closing = _SUBSET_CLOSE.match(text, found[0] + 1)
        if closing is not None:
            return found[0], closing.end()
        position = found[0] + 1
    return None


def _doctype(text: str, start: int) -> tuple[str, int] | None:
    """Rebuild the DOCTYPE at ``start`` without external id and with safe entities only.

    Returns the new declaration and where the old one ended, or ``None`` when it is unterminated.
    """
    found = _skip_quoted(text, start + len("<!DOCTYPE"), _DOCTYPE_STOP)
    if found is None:
        return None
    subset, end = "", found[0] + 1
    if found[1] == "[":
        bounds = _subset_end(text, end)
        if bounds is None:
            return None
        subset, end = text[end : bounds[0]], bounds[1]
    name = _DOCTYPE_NAME.match(text, start)
    if "netscape" in text[start:end].lower():
        head = _NETSCAPE_DOCTYPE  # feedparser tells RSS 0.91 (Netscape) by it
    elif name is not None:
        head = f"<!DOCTYPE {name[1]}"
    else:
        return "", end
    safe = "\n".join(f"<!ENTITY {m[1]} {m[2]}>" for m in _SAFE_ENTITY.finditer(subset))
    return head + (f" [\n{safe}\n]>" if safe else ">"), end


def _construct_end(text: str, token: re.Match[str]) -> int | None:
    """Where the PI, comment or declaration opened by ``token`` ends; ``None`` if it does not."""
    closer = {"<?": "?>", "<!--": "-->"}.get(token.group())
    if closer is not None:
        end = text.find(closer, token.end())
        return None if end < 0 else end + len(closer)
    found = _skip_quoted(text, token.end(), _DECLARATION_STOP)
    return None if found is None else found[0] + 1


def _clean_prolog(text: str) -> str:
    """Rewrite the prolog to the XML declaration and one DOCTYPE with safe entities only.

    Comments, other processing instructions and stray declarations before the root element
    are dropped: feedparser takes ``<!ENTITY`` lines from anywhere before the first ``<\\w``,
    even from inside them. An unterminated construct drops the rest of the document.
    """
    pieces: list[str] = []
    position, doctype_seen = 0, False
    while (token := _PROLOG_TOKEN.search(text, position)) is not None:
        pieces.append(text[position : token.start()])
        start = token.start()
        if token.group()[1] not in "?!":  # the root element: the rest is the document
            pieces.append(text[start:])
            return "".join(pieces)
        declaration = _XML_DECLARATION.match(text, start) if position == 0 else None
        if declaration is not None:
            pieces.append(declaration.group())
            position = declaration.end()
        elif text[start : start + len("<!DOCTYPE")].upper() == "<!DOCTYPE":
            rebuilt = _doctype(text, start)
            if rebuilt is None:
                break
            pieces.append("" if doctype_seen else rebuilt[0])
            position, doctype_seen = rebuilt[1], True
        else:
            end = _construct_end(text, token)
            if end is None:
                break
            position = end
    return "".join(pieces)


def clean_prolog(content: bytes) -> bytes:
    """Clean a document's prolog: no external ids, no entities but short literal ones.

    See :func:`_clean_prolog`. A kept entity is a character reference or at most 8 plain
    characters, so no declaration can refer to another entity, to a file or to a URL, or
    expand by more than a few times.
    ASCII-compatible encodings are scanned byte for byte (through Latin-1, which maps bytes to
    characters one to one); UTF-16 and UTF-32 documents are decoded and encoded back.
    """
    for prefix, codec, bom in _WIDE_CODECS:
        if content.startswith(prefix):
            text = content[len(bom) :].decode(codec, "replace")
            return bom + _clean_prolog(text).encode(codec)
    return _clean_prolog(content.decode("latin-1")).encode("latin-1")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clean_text(raw: str, limit: int, *, html: bool | None = None) -> str:
    """Strip tags, unescape entities, collapse whitespace and cap ``raw`` at ``limit`` characters.

    ``html`` says whether ``raw`` is markup; when ``None`` it is guessed from the text.
    """
    raw = raw[: limit * _RAW_LIMIT_FACTOR]
    if html is None:
        html = bool(_LOOKS_HTML.search(raw))
    if html:
        if raw.rfind("<") > raw.rfind(">"):  # a tag cut by the raw limit
            raw = raw[: raw.rfind("<")]
        extractor = _TextExtractor()
        extractor.feed(raw)
        extractor.close()
        raw = "".join(extractor.parts)
    return _truncate(_SPACES.sub(" ", raw).strip(), limit)


def _detail_text(entry: Mapping[str, Any], key: str, limit: int) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        return ""
    detail = entry.get(f"{key}_detail") or {}
    kind = str(detail.get("type", ""))
    return clean_text(value, limit, html=True if "html" in kind else None)


def _summary(entry: Mapping[str, Any]) -> str:
    """The summary, else the first non-empty content (Atom ``content``, ``content:encoded``)."""
    summary = _detail_text(entry, "summary", SUMMARY_LIMIT)
    for content in () if summary else entry.get("content") or ():
        value = content.get("value")
        if isinstance(value, str) and value:
            html = True if "html" in str(content.get("type", "")) else None
            summary = clean_text(value, SUMMARY_LIMIT, html=html)
        if summary:
            break
    return summary


def _link(entry: Mapping[str, Any], feed_url: str) -> str | None:
    """The item's link made absolute; only http(s) links are kept."""
    raw = entry.get("link")
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        link = urljoin(feed_url, raw.strip())
        scheme = urlsplit(link).scheme.lower()
    except ValueError:
        return None
    return link if scheme in ("http", "https") else None


def _to_datetime(parsed: time.struct_time | None) -> datetime | None:
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def _localised_date(text: object) -> datetime | None:
    """Read an RFC 822 date with foreign month names, as in "Seg, 24 Set 2018 19:42:40 -0300"."""
    match = _LOOSE_DATE.search(text) if isinstance(text, str) else None
    word = match[2].lower() if match else ""
    month = _MONTHS.get(word[:4]) or _MONTHS.get(word[:3])
    if match is None or month is None:
        return None
    day, year, hour, minute, second = (int(match[n] or 0) for n in (1, 3, 4, 5, 6))
    zone = match[7] if match[7] and match[7][0] in "+-" else "+0000"
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])) * (-1 if zone[0] == "-" else 1)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC) - offset
    except ValueError:
        return None


def _published(entry: Mapping[str, Any], now: datetime) -> datetime | None:
    """Published, else updated, as UTC; ``None`` when absent or absurd (before 1990, future)."""
    moment = (
        _to_datetime(entry.get("published_parsed"))
        or _to_datetime(entry.get("updated_parsed"))
        or _localised_date(entry.get("published"))
        or _localised_date(entry.get("updated"))
    )
    if moment is None or moment < EARLIEST or moment > now + FUTURE_TOLERANCE:
        return None
    return moment


def _item(entry: Mapping[str, Any], feed_url: str, feed_name: str, now: datetime) -> Item | None:
    title = _detail_text(entry, "title", TITLE_LIMIT)
    summary = _summary(entry)
    if not title and not summary:
        return None
    link = _link(entry, feed_url)
    published = _published(entry, now)
    guid = entry.get("id")
    identifier = item_id(guid if isinstance(guid, str) else None, link, title, published, feed_url)
    return Item(identifier, feed_url, feed_name, title, summary, link, published, seen_at=now)


def _malformed(result: Mapping[str, Any]) -> bool:
    """Whether feedparser found the XML itself broken (not only a content type or an encoding
    declaration that disagreed with the headers)."""
    notices = (CharacterEncodingOverride, NonXMLContentType)
    return bool(result.get("bozo")) and not isinstance(result.get("bozo_exception"), notices)


def _bozo_message(result: Mapping[str, Any]) -> str | None:
    if not result.get("bozo"):
        return None
    error = result.get("bozo_exception")
    message = f"{type(error).__name__}: {error}" if error is not None else "malformed feed"
    return _truncate(_SPACES.sub(" ", message).strip(), _BOZO_LIMIT)


def _run_feedparser(content: bytes, headers: Mapping[str, str], feed_url: str) -> Any:
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        return feedparser.parse(
            io.BytesIO(clean_prolog(content)),
            response_headers=lowered,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as error:  # feedparser's own bugs on hostile input: a bad feed, not ours
        raise ParseError(feed_url, f"feedparser failed: {type(error).__name__}") from error


def parse_feed(
    content: bytes,
    headers: Mapping[str, str],
    feed_url: str,
    feed_name: str,
    now: datetime,
    known: frozenset[bytes] = frozenset(),
) -> ParsedFeed:
    """Parse a fetched feed into items seen at ``now``.

    Entries whose fingerprints are in ``known`` (the previous poll's, see
    :mod:`tensiond.feeds.delta`) are not parsed again; the result's ``entries`` are the
    fingerprints to pass next time.

    Raises :class:`ParseError` when the bytes are empty, are not RSS or Atom (an HTML page), or
    are too broken to give any entry. A feed that is malformed but still gives entries keeps
    them, with ``bozo`` set to a short note. Items without title and summary are skipped, and an
    id repeated within the feed keeps its first item.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not content.strip():
        raise ParseError(feed_url, "empty document")
    delta = without_known(content, known)
    skipped, result = delta.skipped, None
    if skipped:
        result = _run_feedparser(delta.content, headers, feed_url)
        if _malformed(result):  # parse it whole, so that the cut is never the problem
            skipped, result = 0, None
    if result is None:
        result = _run_feedparser(content, headers, feed_url)
    bozo = _bozo_message(result)
    if not result.entries and bozo:
        raise ParseError(feed_url, bozo)
    if not result.entries and not result.get("version"):
        raise ParseError(feed_url, "not an RSS or Atom feed")
    items: dict[str, Item] = {}
    for entry in result.entries:
        item = _item(entry, feed_url, feed_name, now)
        if item is not None:
            items.setdefault(item.id, item)
    title = _detail_text(result.feed, "title", TITLE_LIMIT)
    return ParsedFeed(title, tuple(items.values()), bozo, delta.entries, skipped)
