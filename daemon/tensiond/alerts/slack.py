"""Delivery: slack-sdk's ``WebClient`` against ``slack.api_url``, or the console without a token.

A sender posts one rendered message and returns Slack's ``ts``; every failure becomes a
:class:`DeliveryError` that says whether it is worth retrying (and after how long for a 429).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, Protocol, TextIO

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import RandomJitter

from tensiond.alerts.retry import ServerErrorRetryHandler
from tensiond.config.schema import SlackSettings
from tensiond.exceptions import DeliveryError

log = logging.getLogger(__name__)

PERMANENT = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "invalid_blocks",
        "msg_too_long",
        "invalid_arguments",
    }
)
BACKOFF = BackoffRetryIntervalCalculator(backoff_factor=0.5, jitter=RandomJitter())
NEEDS_FALLBACK = frozenset({"invalid_blocks", "msg_too_long", "invalid_blocks_format"})


class Sender(Protocol):
    name: str

    def post(self, channel: str, message: Mapping[str, Any]) -> str: ...


def _retry_after(headers: Mapping[str, Any]) -> float:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(1.0, float(value if not isinstance(value, list) else value[0]))
            except (TypeError, ValueError):
                break
    return 30.0


class SlackSender:
    """Posts to Slack (or any Slack-compatible endpoint) with retries for resets and 5xx."""

    name = "slack"

    def __init__(self, settings: SlackSettings, token: str) -> None:
        self.client = WebClient(
            token=token,
            base_url=settings.api_url,
            timeout=int(settings.timeout.total_seconds()),
            retry_handlers=[
                ConnectionErrorRetryHandler(settings.max_retries, BACKOFF),
                ServerErrorRetryHandler(settings.max_retries, BACKOFF),
            ],
        )

    def post(self, channel: str, message: Mapping[str, Any]) -> str:
        try:
            return self._post(channel, message)
        except DeliveryError as error:
            if error.reason not in NEEDS_FALLBACK:
                raise
            log.warning("slack_fallback channel=%s reason=%s", channel, error.reason)
            return self._post(channel, {"text": message.get("text", "")})

    def _post(self, channel: str, message: Mapping[str, Any]) -> str:
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                text=message.get("text", ""),
                blocks=message.get("blocks"),
                unfurl_links=False,
                unfurl_media=False,
                link_names=False,
            )
        except SlackApiError as error:
            raise self._api_error(channel, error) from None
        except (SlackClientError, OSError) as error:
            raise DeliveryError(
                channel, f"connection: {type(error).__name__}", retriable=True
            ) from None
        return str(response.get("ts") or "")

    @staticmethod
    def _api_error(channel: str, error: SlackApiError) -> DeliveryError:
        response = error.response
        status = response.status_code
        reason = (
            str(response.get("error") or f"http_{status}") if response.data else f"http_{status}"
        )
        if status == 429 or reason == "ratelimited":
            return DeliveryError(
                channel, "ratelimited", retriable=True, retry_after=_retry_after(response.headers)
            )
        if status >= 500:
            return DeliveryError(channel, f"http_{status}", retriable=True)
        return DeliveryError(channel, reason, retriable=reason not in PERMANENT)


class ConsoleSender:
    """Without a Slack token: alerts are written, clearly formatted, to the console."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.count = 0

    def post(self, channel: str, message: Mapping[str, Any]) -> str:
        self.count += 1
        alert = message.get("alert", {})
        lines = [
            f"ALERT {channel}  [{alert.get('label', '?')}] tension {alert.get('tension', '?')}",
            f"  {alert.get('title', message.get('text', ''))}",
        ]
        if alert.get("actors"):
            lines.append(f"  actors: {', '.join(alert['actors'])}")
        lines.append(f"  source: {alert.get('source', '?')}  {alert.get('link') or ''}".rstrip())
        if alert.get("why"):
            lines.append(f"  why: {'; '.join(alert['why'])}")
        self.stream.write("\n".join(lines) + "\n\n")
        self.stream.flush()
        return f"console-{self.count}"
