"""The configuration schema: one frozen :class:`Settings` validated from YAML.

Every model forbids unknown keys, so a typo is an error with its path, not a silent default.
``config/tensiond.yaml`` documents each option; a test checks it matches this schema.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from tensiond.config.units import parse_duration, parse_size
from tensiond.types import LABELS, MODALITIES

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]
Score = Annotated[float, Field(ge=0, le=100)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_labels(mapping: dict[str, object]) -> dict[str, object]:
    unknown = sorted(set(mapping) - set(LABELS))
    if unknown:
        raise ValueError(f"unknown label(s) {unknown}; labels are {list(LABELS)}")
    return mapping


class FeedSettings(Model):
    url: str
    name: str = ""
    interval: Duration | None = None
    tags: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https"):
            raise ValueError(
                f"only http and https feeds are allowed, not {parts.scheme or 'no'} scheme"
            )
        if not parts.hostname:
            raise ValueError("the URL has no host")
        return url.strip()

    @model_validator(mode="after")
    def _default_name(self) -> FeedSettings:
        if not self.name:
            object.__setattr__(self, "name", urlsplit(self.url).hostname or self.url)
        return self


class FetchSettings(Model):
    timeout: Duration = timedelta(seconds=20)
    connect_timeout: Duration = timedelta(seconds=5)
    max_body: Size = 15 * 2**20
    max_redirects: int = Field(default=5, ge=0, le=20)
    user_agent: str = (
        "tensiond/0.1 (geopolitical tension monitor; +https://example.invalid/tensiond)"
    )
    allow_private_networks: bool = False
    concurrency: int = Field(default=16, ge=1, le=256)
    per_host_concurrency: int = Field(default=2, ge=1, le=64)
    interval: Duration = timedelta(minutes=10)
    min_interval: Duration = timedelta(minutes=1)
    max_backoff: Duration = timedelta(hours=6)
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    parse_processes: int = Field(default=2, ge=0, le=64)


class ModelSettings(Model):
    encoder: str = ""
    head: str = ""
    batch_size: int = Field(default=32, ge=1, le=1024)
    max_length: int = Field(default=128, ge=16, le=512)
    threads: int = Field(default=0, ge=0, le=256)
    quantize: Literal["feed_forward", "all", "none"] = "none"


class ScoringSettings(Model):
    severities: dict[str, Score] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "weapons_test": 80,
            "armed_conflict": 90,
            "military_posture": 65,
            "threat": 70,
            "coercion": 65,
            "diplomatic_dispute": 45,
            "cooperation": 10,
            "unrest": 55,
            "other": 0,
        }
    )
    modality_factors: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: {
            "actual": 1.0,
            "threatened": 0.9,
            "hypothetical": 0.4,
            "historical": 0.2,
            "negated": 0.3,
        }
    )
    actor_weights: dict[str, Annotated[float, Field(ge=0, le=3)]] = Field(default_factory=dict)
    intensity_bonus: Score = 15
    off_topic_factor: Annotated[float, Field(ge=0, le=1)] = 0.6

    _labels = field_validator("severities")(_check_labels)

    @field_validator("modality_factors")
    @classmethod
    def _known_modalities(cls, mapping: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(mapping) - set(MODALITIES))
        if unknown:
            raise ValueError(f"unknown modality(ies) {unknown}; modalities are {list(MODALITIES)}")
        return mapping


_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _check_dyads(dyads: tuple[str, ...]) -> tuple[str, ...]:
    """Dyads as the classifier writes them: two codes, sorted, joined by '-' ("CN-TW")."""
    return tuple(normalise_dyad(dyad) for dyad in dyads)


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like 'Europe/Berlin')"
        ) from None
    return name


class Matchers(Model):
    """What an alert must be for a route, mute or rule to apply (unset matches anything)."""

    labels: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    dyads: tuple[str, ...] = ()
    feed_tags: tuple[str, ...] = ()
    min_tension: Score | None = None

    @field_validator("labels")
    @classmethod
    def _known(cls, labels: tuple[str, ...]) -> tuple[str, ...]:
        _check_labels(dict.fromkeys(labels))
        return labels

    _dyads = field_validator("dyads")(_check_dyads)


class QuietHours(Model):
    """A daily window in which a route's alerts go to its digest instead of the channel."""

    start: str
    end: str
    timezone: str = "UTC"
    days: tuple[Weekday, ...] = WEEKDAYS
    bypass_tension: Score | None = None  # at or above this, an alert is sent even when quiet

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError(f"{value!r} is not a time of day like '22:00'")
        return value

    _tz = field_validator("timezone")(_check_timezone)


class DigestSettings(Model):
    """When a route's held-back events are listed in one message."""

    times: tuple[str, ...] = ("08:00",)
    timezone: str = "UTC"

    @field_validator("times")
    @classmethod
    def _clocks(cls, times: tuple[str, ...]) -> tuple[str, ...]:
        if not times:
            raise ValueError("a digest needs at least one time of day")
        for value in times:
            if not _CLOCK.match(value):
                raise ValueError(f"{value!r} is not a time of day like '08:00'")
        return tuple(sorted(set(times)))

    _tz = field_validator("timezone")(_check_timezone)


class RouteSettings(Matchers):
    """A node of the route tree: matchers, a channel, timings; children refine it.

    Unset channel, timings, quiet hours and digest are inherited from the parent route (the root
    is ``alerting`` itself). Children are tried in order; the first that matches wins unless it
    says ``continue``; when no child matches, the route itself takes the alert.
    """

    name: str
    channel: str = ""
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    quiet_hours: tuple[QuietHours, ...] | None = None
    digest: DigestSettings | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: tuple[RouteSettings, ...] = ()


class InhibitRule(Model):
    """While an alert matching ``source`` is open, alerts matching ``target`` that share the
    ``equal`` facts with it are not sent (Alertmanager's inhibition)."""

    source: Matchers
    target: Matchers
    equal: tuple[Literal["dyad", "actors", "region"], ...] = ("dyad",)
    duration: Duration = timedelta(hours=24)


class Mute(Matchers):
    """Silence what matches until a moment (ISO 8601, with a zone or UTC)."""

    until: datetime
    comment: str = ""

    @field_validator("until")
    @classmethod
    def _aware(cls, until: datetime) -> datetime:
        return until if until.tzinfo else until.replace(tzinfo=UTC)


class RateSettings(Model):
    """Slack allows about one message a second per channel; stay under it, never drop."""

    per_second: float = Field(default=1.0, gt=0, le=50)
    burst: int = Field(default=3, ge=1, le=100)
    group_after: int = Field(default=5, ge=1, le=1000)  # new alerts per channel per pass


class AlertingSettings(Model):
    default_threshold: Score = 60
    thresholds: dict[str, Score] = Field(default_factory=dict)
    default_channel: str = "#tension-alerts"
    routes: tuple[RouteSettings, ...] = ()
    group_wait: Duration = timedelta(0)
    group_interval: Duration = timedelta(minutes=1)
    repeat_interval: Duration = timedelta(hours=24)
    develop_delta: Score = 10
    confirm_sources: int = Field(default=3, ge=2, le=50)
    easing_window: Duration = timedelta(hours=72)
    quiet_hours: tuple[QuietHours, ...] = ()
    digest: DigestSettings = DigestSettings()
    inhibit_rules: tuple[InhibitRule, ...] = (
        InhibitRule(
            source=Matchers(labels=("armed_conflict",)),
            target=Matchers(labels=("threat", "military_posture")),
        ),
    )
    mutes: tuple[Mute, ...] = ()
    rate: RateSettings = RateSettings()
    max_age: Duration = timedelta(hours=24)
    deliver_interval: Duration = timedelta(seconds=1)
    max_attempts: int = Field(default=8, ge=1, le=100)

    _labels = field_validator("thresholds")(_check_labels)

    def threshold_for(self, label: str) -> float:
        return self.thresholds.get(label, self.default_threshold)

    @model_validator(mode="after")
    def _unique_route_names(self) -> AlertingSettings:
        seen: set[str] = set()
        stack = list(self.routes)
        while stack:
            route = stack.pop()
            if route.name in seen:
                raise ValueError(f"two routes are named {route.name!r}; route names must be unique")
            seen.add(route.name)
            stack.extend(route.routes)
        return self


class EventSettings(Model):
    """How items from many outlets become one event (see docs/events.md)."""

    window: Duration = timedelta(hours=36)
    max_span: Duration = timedelta(hours=72)
    similarity: Annotated[float, Field(ge=0, le=2)] = 0.6
    strong_similarity: Annotated[float, Field(ge=0, le=1)] = 0.8
    term_weight: Annotated[float, Field(ge=0, le=1)] = 0.3
    dyad_bonus: Annotated[float, Field(ge=0, le=1)] = 0.15
    dyad_window: Duration = timedelta(hours=12)
    source_tiers: dict[str, Annotated[int, Field(ge=1, le=3)]] = Field(
        default_factory=lambda: dict.fromkeys(
            [
                "reuters.com",
                "apnews.com",
                "afp.com",
                "bbc.co.uk",
                "bbc.com",
                "nhk.or.jp",
                "yna.co.kr",
                "kyodonews.net",
                "dw.com",
                "france24.com",
                "aljazeera.com",
                "theguardian.com",
                "npr.org",
                "news.un.org",
                "scmp.com",
                "nytimes.com",
                "washingtonpost.com",
                "ft.com",
            ],
            1,
        )
    )
    default_tier: Annotated[int, Field(ge=1, le=3)] = 2
    confirm_tier: Annotated[int, Field(ge=1, le=3)] = 2

    def tier_of(self, source: str) -> int:
        host = source.lower()
        while host:
            if host in self.source_tiers:
                return self.source_tiers[host]
            host = host.partition(".")[2]
        return self.default_tier


class SlackSettings(Model):
    api_url: str = "https://slack.com/api/"
    token_env: str = "SLACK_BOT_TOKEN"  # noqa: S105 (the variable's name, not a secret)
    timeout: Duration = timedelta(seconds=10)
    max_retries: int = Field(default=3, ge=0, le=10)

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("slack.api_url must be an http(s) URL")
        return url if url.endswith("/") else url + "/"


class StorageSettings(Model):
    url: str = ""
    retention: Duration = timedelta(days=30)


class HttpSettings(Model):
    listen: str = "127.0.0.1:9464"

    @field_validator("listen")
    @classmethod
    def _host_port(cls, listen: str) -> str:
        if not listen:
            return listen
        host, _, port = listen.rpartition(":")
        if not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"{listen!r} is not host:port (use '' to disable)")
        if host.strip("[]"):
            try:
                ipaddress.ip_address(host.strip("[]"))
            except ValueError:
                if host != "localhost":
                    raise ValueError(f"{host!r} is not an IP address") from None
        return listen


class LoggingSettings(Model):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


# The regions of config/actors.yaml (a fixed set; a unit test keeps the two the same).
REGIONS: tuple[str, ...] = (
    "north_america", "latin_america", "caribbean", "western_europe", "eastern_europe",
    "nordic_baltic", "balkans", "caucasus", "central_asia", "russia", "middle_east", "gulf",
    "north_africa", "west_africa", "sahel", "central_africa", "east_africa", "horn_of_africa",
    "southern_africa", "south_asia", "east_asia", "southeast_asia", "oceania",
)  # fmt: skip
_ACTOR_CODE = re.compile(r"[A-Z]{2}\Z|[A-Z][A-Z0-9_]{2,}\Z")
# Only what happened or is being threatened moves the index; the rest is ignored by default.
INDEX_MODALITY_WEIGHTS = {
    "actual": 1.0,
    "threatened": 1.0,
    "hypothetical": 0.0,
    "historical": 0.0,
    "negated": 0.0,
}


def normalise_dyad(text: str) -> str:
    """Read a dyad: "kr-kp" -> "KP-KR" (two distinct actor codes, upper-cased, sorted)."""
    parts = text.strip().upper().split("-")
    if len(parts) != 2 or not all(_ACTOR_CODE.match(part) for part in parts):
        raise ValueError(f"{text!r} is not a dyad: two actor codes joined by '-', e.g. 'KP-KR'")
    if parts[0] == parts[1]:
        raise ValueError(f"{text!r} pairs a code with itself")
    return "-".join(sorted(parts))


class IndexOverride(Model):
    """Thresholds for one dyad, country or region; unset fields keep the index defaults."""

    spike_z: Annotated[float, Field(gt=0, le=100)] | None = None
    easing_z: Annotated[float, Field(ge=-100, le=100)] | None = None
    min_level: Annotated[float, Field(ge=0)] | None = None


class IndexSettings(Model):
    """The tension index per country and dyad, and its spike and easing signals (docs/index.md)."""

    enabled: bool = True
    half_life: Duration = timedelta(days=1)
    baseline_window: Duration = timedelta(days=28)
    min_history: Duration = timedelta(days=7)
    spike_z: float = Field(default=5.0, gt=0, le=100)
    easing_z: float = Field(default=1.0, ge=-100, le=100)
    min_level: float = Field(default=1.5, ge=0)
    cold_start_level: float | None = Field(default=None, ge=0)
    min_spread: float = Field(default=0.25, gt=0)
    cooperation_weight: float = Field(default=0.5, ge=0, le=10)
    modality_weights: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: dict(INDEX_MODALITY_WEIGHTS)
    )
    chart_days: int = Field(default=14, ge=1, le=365)
    dyads: dict[str, IndexOverride] = Field(default_factory=dict)
    countries: dict[str, IndexOverride] = Field(default_factory=dict)
    regions: dict[str, IndexOverride] = Field(default_factory=dict)

    @field_validator("modality_weights")
    @classmethod
    def _every_modality(cls, mapping: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(mapping) - set(MODALITIES))
        if unknown:
            raise ValueError(f"unknown modality(ies) {unknown}; modalities are {list(MODALITIES)}")
        return {**INDEX_MODALITY_WEIGHTS, **mapping}

    @field_validator("dyads")
    @classmethod
    def _dyad_keys(cls, mapping: dict[str, IndexOverride]) -> dict[str, IndexOverride]:
        normalised: dict[str, IndexOverride] = {}
        for text, override in mapping.items():
            dyad = normalise_dyad(text)
            if dyad in normalised:
                raise ValueError(f"{text!r} repeats the dyad {dyad}")
            normalised[dyad] = override
        return normalised

    @field_validator("countries")
    @classmethod
    def _country_keys(cls, mapping: dict[str, IndexOverride]) -> dict[str, IndexOverride]:
        bad = sorted(code for code in mapping if not re.fullmatch(r"[A-Z]{2}", code))
        if bad:
            raise ValueError(f"{bad} are not ISO 3166 alpha-2 codes such as 'KP'")
        return mapping

    @field_validator("regions")
    @classmethod
    def _region_keys(cls, mapping: dict[str, IndexOverride]) -> dict[str, IndexOverride]:
        unknown = sorted(set(mapping) - set(REGIONS))
        if unknown:
            raise ValueError(f"unknown region(s) {unknown}; regions are {list(REGIONS)}")
        return mapping

    @model_validator(mode="after")
    def _consistent(self) -> IndexSettings:
        if self.half_life <= timedelta(0):
            raise ValueError("half_life must be longer than 0s")
        if self.baseline_window < timedelta(days=1):
            raise ValueError("baseline_window must be at least 1d")
        if self.min_history > self.baseline_window:
            raise ValueError("min_history cannot be longer than baseline_window")
        if self.cold_start_level is not None and self.cold_start_level < self.min_level:
            raise ValueError("cold_start_level cannot be below min_level")
        overrides = [
            (f"{section}.{key}", override)
            for section in ("dyads", "countries", "regions")
            for key, override in getattr(self, section).items()
        ]
        for where, override in [("", IndexOverride()), *overrides]:
            spike = self.spike_z if override.spike_z is None else override.spike_z
            easing = self.easing_z if override.easing_z is None else override.easing_z
            if easing >= spike:
                place = f" (at {where})" if where else ""
                raise ValueError(f"easing_z ({easing:g}) must be below spike_z ({spike:g}){place}")
        return self


class Settings(Model):
    """Everything tensiond reads from its configuration, frozen after validation."""

    state_dir: str = ""
    feeds: tuple[FeedSettings, ...] = ()
    fetch: FetchSettings = FetchSettings()
    model: ModelSettings = ModelSettings()
    scoring: ScoringSettings = ScoringSettings()
    events: EventSettings = EventSettings()
    alerting: AlertingSettings = AlertingSettings()
    slack: SlackSettings = SlackSettings()
    storage: StorageSettings = StorageSettings()
    http: HttpSettings = HttpSettings()
    logging: LoggingSettings = LoggingSettings()
    index: IndexSettings = IndexSettings()
    actors: str = ""
    base_dir: Path = Path(".")

    @model_validator(mode="after")
    def _unique_feeds(self) -> Settings:
        seen: dict[str, int] = {}
        for position, feed in enumerate(self.feeds):
            if feed.url in seen:
                raise ValueError(f"feeds[{position}] repeats the URL of feeds[{seen[feed.url]}]")
            seen[feed.url] = position
        return self
