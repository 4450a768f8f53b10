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


def _require_aware(name: str, moment: datetime | None) -> None:
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
        _require_aware("next_poll_at", self.next_poll_at)


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
        _require_aware("published", self.published)
        _require_aware("seen_at", self.seen_at)

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
class Alert:
    """A decision to tell a channel about an item; becomes an outbox row."""

    key: str
    item_id: str
    route: str
    channel: str
    label: str
    tension: int
    title: str
    link: str | None
    source: str
    actors: tuple[str, ...]
    modality: str
    why: tuple[str, ...]
    published: datetime | None
    created_at: datetime

    def __post_init__(self) -> None:
        _require_aware("created_at", self.created_at)


@dataclass(frozen=True)
class OutboxEntry:
    """A claimed outbox row: the alert to send and how often it was tried."""

    id: int
    key: str
    channel: str
    payload: Mapping[str, object]
    attempts: int
