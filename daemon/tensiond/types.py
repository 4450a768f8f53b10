"""The immutable records passed between stages.

Each arrow of the pipeline carries one of these; they validate what they can where they are built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

LABELS: Final = (
    "weapons_test",
    "armed_conflict",
    "military_posture",
    "threat",
    "coercion",
    "diplomatic_dispute",
    "cooperation",
    "unrest",
    "other",
)
MODALITIES: Final = ("actual", "threatened", "hypothetical", "historical", "negated")
MESSAGE_KINDS: Final = ("post", "update", "reply", "group", "digest")


def require_aware(name: str, moment: datetime | None) -> None:
    if moment is not None and moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True)
class FetchRequest:
    """What the fetcher is asked for: a URL and the validators from the last good fetch."""

    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one fetch: a response (200 or 304) or an error, never both."""

    url: str
    status: int | None = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    max_age: float | None = None
    retry_after: float | None = None
    elapsed: float = 0.0
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def not_modified(self) -> bool:
        return self.error is None and self.status == 304


@dataclass(frozen=True)
class FeedState:
    """A feed's polling state as stored."""

    url: str
    name: str
    etag: str | None = None
    last_modified: str | None = None
    next_poll_at: datetime | None = None
    failures: int = 0
    last_error: str | None = None
    last_status: int | None = None

    def __post_init__(self) -> None:
        require_aware("next_poll_at", self.next_poll_at)


@dataclass(frozen=True)
class Item:
    """One story from one feed, keyed by a canonical id stable across polls and feeds."""

    id: str
    feed_url: str
    feed_name: str
    title: str
    summary: str
    link: str | None
    published: datetime | None
    seen_at: datetime

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("Item.id must not be empty")
        require_aware("published", self.published)
        require_aware("seen_at", self.seen_at)

    @property
    def text(self) -> str:
        """The text the classifier reads: the headline, then the summary when it adds anything."""
        if self.summary and self.summary not in self.title:
            return f"{self.title}. {self.summary}" if self.title else self.summary
        return self.title


@dataclass(frozen=True)
class Classification:
    """What the model read in an item."""

    item_id: str
    label: str
    probabilities: Mapping[str, float]
    tension: int
    actors: tuple[str, ...]
    dyads: tuple[str, ...]
    modality: str
    why: tuple[str, ...]
    model_version: str

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"unknown label {self.label!r}")
        if self.modality not in MODALITIES:
            raise ValueError(f"unknown modality {self.modality!r}")
        if not 0 <= self.tension <= 100:
            raise ValueError(f"tension {self.tension} outside 0..100")


@dataclass(frozen=True)
class Source:
    """One outlet's report of an event: the first item it gave, and how much it is trusted."""

    name: str
    tier: int
    item_id: str
    title: str
    link: str | None
    at: datetime
    label: str
    tension: int


@dataclass(frozen=True, eq=False)
class Event:
    """One happening, as reported by one or more items from any outlets.

    The label, tension, modality, title and link are those of the item that speaks for the
    event (the most tense report of an actual event); actors, dyads and terms gather all
    reports; ``centroid`` is the mean of the reports' story vectors, normalised.
    """

    id: int
    label: str
    tension: int
    modality: str
    actors: tuple[str, ...]
    dyads: tuple[str, ...]
    feed_tags: tuple[str, ...]
    item_id: str
    title: str
    link: str | None
    why: tuple[str, ...]
    sources: tuple[Source, ...]
    terms: frozenset[str]
    centroid: tuple[float, ...]
    size: int
    first_seen: datetime
    last_seen: datetime

    def __post_init__(self) -> None:
        require_aware("first_seen", self.first_seen)
        require_aware("last_seen", self.last_seen)

    def independent_sources(self, max_tier: int) -> int:
        """Distinct outlets of at most ``max_tier`` (1 is the most trusted) that report it."""
        return len({source.name for source in self.sources if source.tier <= max_tier})


@dataclass(frozen=True)
class Message:
    """A decision to ask Slack for something: becomes an outbox row.

    ``kind`` is post (a new message about an event), update (``chat.update`` of the message
    ``parent_key`` posted), reply (in that message's thread), group (several events at once,
    when a channel's rate budget is spent) or digest (what quiet hours held back). Posts and
    updates carry no payload: they are rendered from the event when sent, so they always show
    its latest sources.
    """

    key: str
    kind: str
    route: str
    channel: str
    event_id: int | None
    item_id: str
    due: datetime
    parent_key: str | None = None
    payload: Mapping[str, object] | None = None

    def __post_init__(self) -> None:
        if self.kind not in MESSAGE_KINDS:
            raise ValueError(f"unknown message kind {self.kind!r}")
        if self.kind in ("update", "reply") and not self.parent_key:
            raise ValueError(f"a {self.kind} needs the key of the message it belongs to")
        require_aware("due", self.due)


@dataclass(frozen=True)
class Notice:
    """What one route has told about one event (stored; one per route and event).

    ``state``: open (posted, or due to be), held (for the digest), digested, grouped (sent as
    part of a grouped message when the channel's budget was spent).
    """

    route: str
    channel: str
    event_id: int
    state: str
    post_key: str | None
    label: str
    tension: int
    sources: int
    confirmed: bool
    dyads: tuple[str, ...]
    messages: int
    eased: tuple[int, ...]
    created_at: datetime
    notified_at: datetime
    updated_at: datetime | None = None
    digested_at: datetime | None = None


@dataclass(frozen=True)
class OutboxEntry:
    """A claimed outbox row: the alert to send and how often it was tried."""

    id: int
    key: str
    channel: str
    payload: Mapping[str, object]
    attempts: int
    kind: str = "post"
    route: str = ""
    event_id: int | None = None
    parent_key: str | None = None
