"""Stable item ids: the same story gets the same id on every poll and through every feed.

An id is the canonical URL of the item's guid or link when there is one (tracking parameters,
fragments, default ports and parameter order removed), a hash of its opaque guid otherwise, and
a hash of its title and date as a last resort. Ids are at most :data:`MAX_ID_LENGTH` characters.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Final
from urllib.parse import unquote_plus, urlsplit

MAX_ID_LENGTH: Final = 512
_STRONG_GUID_LENGTH: Final = 20
_DEFAULT_PORTS: Final = {"http": "80", "https": "443"}
_TRACKING_PREFIXES: Final = ("utm_", "pk_", "mtm_", "hsa_", "_hs", "__hs")
_TRACKING_NAMES: Final = frozenset(
    {
        "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "twclid", "igshid",
        "mc_cid", "mc_eid", "ocid", "cmpid", "cmp", "at_medium", "at_campaign", "at_custom1",
        "at_custom2", "at_custom3", "at_custom4", "ns_mchannel", "ns_source", "ns_campaign",
        "ns_linkname", "ns_fee", "taid", "ito", "smid", "smtyp", "guccounter", "guce_referrer",
        "guce_referrer_sig", "rss", "ref", "ref_src", "ref_url", "share", "icid", "int_source",
        "int_medium", "int_campaign", "spm", "_ga", "_gl", "mkt_tok", "wt.mc_id", "xtor", "ncid",
        "soc_src", "soc_trk",
    }
)  # fmt: skip
_SPACES: Final = re.compile(r"\s+")


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


def _is_tracking(parameter: str) -> bool:
    name = unquote_plus(parameter.split("=", 1)[0]).strip().lower()
    return name in _TRACKING_NAMES or name.startswith(_TRACKING_PREFIXES)


def _canonical_netloc(scheme: str, netloc: str) -> str:
    """Lower-case the host, drop user info and the scheme's default port."""
    host_port = netloc.rpartition("@")[2].lower()
    host, colon, port = host_port.rpartition(":")
    if not colon or "]" in port:  # no port (an IPv6 literal's colons are inside brackets)
        host, port = host_port, ""
    if port == _DEFAULT_PORTS.get(scheme) or (colon and not port):
        return host
    return f"{host}:{port}" if port else host


def canonical_url(url: str) -> str:
    """Return the canonical form of an http(s) URL; other strings come back stripped.

    The scheme and host are lower-cased, user info, default ports, the fragment and tracking
    parameters (``utm_*``, ``fbclid``, ``gclid``, ...) are dropped, and the remaining query
    parameters are sorted (each kept exactly as written). The function is idempotent.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        return text
    netloc = _canonical_netloc(scheme, parts.netloc)
    kept = sorted(p for p in parts.query.split("&") if p and not _is_tracking(p))
    query = "?" + "&".join(kept) if kept else ""
    return f"{scheme}://{netloc}{parts.path or '/'}{query}"


def is_url(text: str) -> bool:
    """Tell whether ``text`` is an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in _DEFAULT_PORTS and bool(parts.hostname)


def _bounded(identifier: str) -> str:
    return identifier if len(identifier) <= MAX_ID_LENGTH else "sha1:" + _sha1(identifier)


def _guid_id(guid: str, feed_url: str) -> str:
    """Hash an opaque guid; a short one (``"12345"``) is scoped by the feed's host.

    A long guid (a UUID, a ``tag:`` URI) is unique on its own, so the same guid through two
    feeds gives one id. A short one could repeat between unrelated outlets, so it is only
    shared between feeds of the same host.
    """
    if len(guid) >= _STRONG_GUID_LENGTH or guid.lower().startswith(("urn:", "tag:")):
        return "guid:" + _sha1(guid)
    host = urlsplit(canonical_url(feed_url)).netloc
    return "guid:" + _sha1(f"{host} {guid}")


def item_id(
    guid: str | None,
    link: str | None,
    title: str | None,
    published: datetime | None,
    feed_url: str,
) -> str:
    """Return the stable id of an item, at most :data:`MAX_ID_LENGTH` characters.

    In order of preference: the canonical guid when it is a URL, ``guid:`` and a hash of an
    opaque guid, the canonical link, and ``sha1:`` and a hash of the normalised title, the date
    and the feed (an item with none of these gets a hash of the feed alone).
    """
    guid = (guid or "").strip()
    if guid and is_url(guid):
        return _bounded(canonical_url(guid))
    if guid:
        return _guid_id(guid, feed_url)
    if link and is_url(link):
        return _bounded(canonical_url(link))
    normalised = _SPACES.sub(" ", title or "").strip().casefold()
    moment = published.astimezone(UTC).isoformat() if published else ""
    return "sha1:" + _sha1(f"{normalised}\n{moment}\n{canonical_url(feed_url)}")
