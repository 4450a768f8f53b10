"""Retry handler for slack-sdk: any 5xx is retriable (the built-in one covers only 500 and 503).

Each handler answers only "is this retriable?"; the interval calculator does the backoff with
jitter. 429 is deliberately *not* retried here: the outbox reschedules that channel after
Retry-After instead of putting a worker thread to sleep.
"""

from __future__ import annotations

from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState


class ServerErrorRetryHandler(RetryHandler):
    """Retry on any HTTP 5xx answer."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and 500 <= response.status_code < 600
