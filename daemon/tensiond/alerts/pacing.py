"""A channel's message budget: a token bucket, asked with ``now``, that never sleeps.

Slack allows about one message a second per channel, with short bursts. ``take`` either spends a
token and returns 0, or returns how many seconds until one is free; the caller puts the message
back until then and goes on with other channels.
"""

from __future__ import annotations

from datetime import datetime


class TokenBucket:
    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = float(burst)
        self.tokens = float(burst)
        self.at: datetime | None = None

    def _refill(self, now: datetime) -> None:
        if self.at is not None:
            elapsed = max(0.0, (now - self.at).total_seconds())
            self.tokens = min(self.burst, self.tokens + elapsed * self.per_second)
        self.at = now if self.at is None or now > self.at else self.at

    def take(self, now: datetime) -> float:
        """Spend a token (0.0) or say how long until one is free (seconds, > 0)."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.per_second
