"""The exception tree of tensiond.

Every error tensiond raises on purpose derives from :class:`TensiondError`; third-party errors
are wrapped at the stage boundary with ``raise ... from e`` and carry the resource they concern.

    TensiondError
     ├── ConfigError            invalid configuration (carries every problem with its path)
     ├── FeedError              a feed could not be fetched or parsed (carries the feed URL)
     │    ├── FetchError        network, HTTP status, limits, refused address
     │    │    └── BlockedAddressError   a private/loopback/link-local target was refused
     │    └── ParseError        the bytes are not a usable feed
     ├── ModelError             the classifier could not be loaded or run
     ├── StorageError           the database could not be reached or migrated
     └── DeliveryError          an alert could not be delivered (carries channel and reason)
"""

from __future__ import annotations

from collections.abc import Sequence


class TensiondError(Exception):
    """Root of every error tensiond raises on purpose."""


class ConfigError(TensiondError, ValueError):
    """The configuration is invalid; ``problems`` lists each one with its path."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


class FeedError(TensiondError):
    """A feed failed; ``url`` names it and ``kind`` is a short, bounded category for metrics."""

    kind = "feed"

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        self.message = message
        super().__init__(f"{url}: {message}")


class FetchError(FeedError):
    """The feed could not be fetched."""

    def __init__(self, url: str, message: str, kind: str = "network") -> None:
        self.kind = kind
        super().__init__(url, message)


class BlockedAddressError(FetchError):
    """The feed resolves to an address that the configuration does not allow."""

    def __init__(self, url: str, address: str) -> None:
        self.address = address
        super().__init__(
            url,
            f"refused: resolves to non-public address {address} "
            "(set fetch.allow_private_networks: true to allow)",
            kind="blocked",
        )


class ParseError(FeedError):
    """The fetched bytes are not a usable feed."""

    kind = "parse"


class ModelError(TensiondError):
    """The classifier could not be loaded or run."""


class StorageError(TensiondError):
    """The database could not be reached, migrated or written."""


class DeliveryError(TensiondError):
    """An alert could not be delivered.

    ``retriable`` tells the outbox whether to try again later; ``reason`` is Slack's error code
    or a short category, never a token or a message body.
    """

    def __init__(
        self, channel: str, reason: str, *, retriable: bool, retry_after: float | None = None
    ) -> None:
        self.channel = channel
        self.reason = reason
        self.retriable = retriable
        self.retry_after = retry_after
        super().__init__(f"delivery to {channel} failed: {reason}")
