"""The index's immutable records: what goes in (observations), what is kept, what comes out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from tensiond.types import LABELS, MODALITIES, Classification, require_aware

Scope = Literal["dyad", "country"]
Kind = Literal["spike", "easing"]
SCOPES: tuple[Scope, ...] = ("dyad", "country")


@dataclass(frozen=True, order=True)
class IndexKey:
    """What an index is kept for: a dyad ("CN-TW", sorted) or a country ("KP")."""

    scope: Scope
    key: str

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"unknown index scope {self.scope!r}")
        if not self.key:
            raise ValueError("an index key must not be empty")

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


@dataclass(frozen=True)
class Observation:
    """One classified story as the index sees it."""

    at: datetime
    actors: tuple[str, ...]
    dyads: tuple[str, ...]
    label: str
    tension: int
    modality: str

    def __post_init__(self) -> None:
        require_aware("at", self.at)
        if self.label not in LABELS:
            raise ValueError(f"unknown label {self.label!r}")
        if self.modality not in MODALITIES:
            raise ValueError(f"unknown modality {self.modality!r}")
        if not 0 <= self.tension <= 100:
            raise ValueError(f"tension {self.tension} outside 0..100")

    @classmethod
    def of(cls, verdict: Classification, at: datetime) -> Observation:
        """The observation of a verdict; ``at`` is when the story happened (published/seen)."""
        return cls(at, verdict.actors, verdict.dyads, verdict.label, verdict.tension,
                   verdict.modality)  # fmt: skip


@dataclass(frozen=True)
class IndexPoint:
    """The index of a key right after an update at ``at`` (it decays until the next one)."""

    scope: Scope
    key: str
    at: datetime
    value: float

    def __post_init__(self) -> None:
        require_aware("at", self.at)


@dataclass(frozen=True)
class Baseline:
    """A key's normal: the median and robust spread of its hourly index over the window."""

    median: float
    spread: float
    samples: int
    computed_at: datetime

    def __post_init__(self) -> None:
        require_aware("computed_at", self.computed_at)


@dataclass(frozen=True)
class KeyState:
    """What is kept per key so an update costs O(batch): the decayed value and the spike state.

    ``reference_median``/``reference_spread`` are the baseline frozen when the spike fired; the
    easing is judged against them, not against a baseline the spike itself has pushed up.
    """

    scope: Scope
    key: str
    value: float
    updated_at: datetime
    first_at: datetime
    baseline: Baseline | None = None
    spiking: bool = False
    spike_at: datetime | None = None
    peak: float = 0.0
    reference_median: float = 0.0
    reference_spread: float = 0.0

    def __post_init__(self) -> None:
        require_aware("updated_at", self.updated_at)
        require_aware("first_at", self.first_at)
        require_aware("spike_at", self.spike_at)

    @property
    def index_key(self) -> IndexKey:
        return IndexKey(self.scope, self.key)

    def history(self, now: datetime) -> timedelta:
        return now - self.first_at


@dataclass(frozen=True)
class Signal:
    """A dyad's or a country's index rose well above its normal (spike) or fell back (easing).

    ``baseline`` and ``spread`` are what ``z`` was measured against: the current baseline for a
    spike, the one frozen at the spike for an easing. ``threshold`` is the z that was crossed
    (for a cold-start spike, the absolute ``cold_start_level``). ``peak`` is the highest index
    since the spike; ``since`` is when the spike fired (easing only).
    """

    scope: Scope
    key: str
    kind: Kind
    at: datetime
    value: float
    baseline: float
    spread: float
    z: float
    threshold: float
    peak: float
    since: datetime | None = None
    cold_start: bool = False

    def __post_init__(self) -> None:
        require_aware("at", self.at)
        require_aware("since", self.since)

    @property
    def id(self) -> str:
        """Stable across replays: the same signal for the same key at the same moment."""
        return f"index:{self.scope}:{self.key}:{self.kind}:{self.at.isoformat()}"
