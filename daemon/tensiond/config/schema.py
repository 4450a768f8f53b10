"""The configuration schema: one frozen :class:`Settings` validated from YAML.

Every model forbids unknown keys, so a typo is an error with its path, not a silent default.
``config/tensiond.yaml`` documents each option; a test checks it matches this schema.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

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
    quantize: Literal["feed_forward", "all", "none"] = "feed_forward"


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

    _labels = field_validator("severities")(_check_labels)

    @field_validator("modality_factors")
    @classmethod
    def _known_modalities(cls, mapping: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(mapping) - set(MODALITIES))
        if unknown:
            raise ValueError(f"unknown modality(ies) {unknown}; modalities are {list(MODALITIES)}")
        return mapping


class RouteSettings(Model):
    name: str
    channel: str
    labels: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    feed_tags: tuple[str, ...] = ()
    min_tension: Score | None = None
    continue_: bool = Field(default=False, alias="continue")

    @field_validator("labels")
    @classmethod
    def _known(cls, labels: tuple[str, ...]) -> tuple[str, ...]:
        _check_labels(dict.fromkeys(labels))
        return labels


class AlertingSettings(Model):
    default_threshold: Score = 60
    thresholds: dict[str, Score] = Field(default_factory=dict)
    default_channel: str = "#tension-alerts"
    routes: tuple[RouteSettings, ...] = ()
    max_age: Duration = timedelta(hours=24)
    repeat_interval: Duration = timedelta(hours=24)
    deliver_interval: Duration = timedelta(seconds=2)
    max_attempts: int = Field(default=8, ge=1, le=100)

    _labels = field_validator("thresholds")(_check_labels)

    def threshold_for(self, label: str) -> float:
        return self.thresholds.get(label, self.default_threshold)


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


class Settings(Model):
    """Everything tensiond reads from its configuration, frozen after validation."""

    state_dir: str = ""
    feeds: tuple[FeedSettings, ...] = ()
    fetch: FetchSettings = FetchSettings()
    model: ModelSettings = ModelSettings()
    scoring: ScoringSettings = ScoringSettings()
    alerting: AlertingSettings = AlertingSettings()
    slack: SlackSettings = SlackSettings()
    storage: StorageSettings = StorageSettings()
    http: HttpSettings = HttpSettings()
    logging: LoggingSettings = LoggingSettings()
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
