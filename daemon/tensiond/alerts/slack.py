"""Delivery: slack-sdk's ``WebClient`` against ``slack.api_url``, or the console without a token.

A sender posts one rendered message and returns Slack's ``ts``; every failure becomes a
:class:`DeliveryError` that says whether it is worth retrying (and after how long for a 429).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Posted:
    """Where Slack put a message: the channel's id (what ``chat.update`` needs) and its ts."""

    channel: str
    ts: str


class Sender(Protocol):
    name: str

    def post(
        self,
        channel: str,
        message: Mapping[str, Any],
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> Posted: ...

    def update(self, channel: str, ts: str, message: Mapping[str, Any]) -> None: ...

    def upload(
        self, channel: str, thread_ts: str, content: bytes, filename: str, title: str
    ) -> None: ...


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

    def post(
        self,
        channel: str,
        message: Mapping[str, Any],
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> Posted:
        thread: dict[str, Any] = (
            {"thread_ts": thread_ts, "reply_broadcast": broadcast} if thread_ts else {}
        )
        response = self._call(
            channel,
            message,
            lambda text, blocks: self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
                link_names=False,
                **thread,
            ),
        )
        return Posted(str(response.get("channel") or channel), str(response.get("ts") or ""))

    def update(self, channel: str, ts: str, message: Mapping[str, Any]) -> None:
        """Edit a posted message in place (``chat.update`` needs the channel's id and the ts)."""
        self._call(
            channel,
            message,
            lambda text, blocks: self.client.chat_update(
                channel=channel, ts=ts, text=text, blocks=blocks, link_names=False
            ),
        )

    def upload(
        self, channel: str, thread_ts: str, content: bytes, filename: str, title: str
    ) -> None:
        """A file (the index chart) in a message's thread, through files_upload_v2."""
        try:
            self.client.files_upload_v2(
                channel=channel, thread_ts=thread_ts, content=content, filename=filename,
                title=title,
            )  # fmt: skip
        except SlackApiError as error:
            raise self._api_error(channel, error) from None
        except (SlackClientError, OSError) as error:
            raise DeliveryError(
                channel, f"upload: {type(error).__name__}", retriable=True
            ) from None

    def _call(
        self,
        channel: str,
        message: Mapping[str, Any],
        method: Callable[[str, Any], Any],
    ) -> Mapping[str, Any]:
        try:
            return self._once(channel, method, message.get("text", ""), message.get("blocks"))
        except DeliveryError as error:
            if error.reason not in NEEDS_FALLBACK:
                raise
            log.warning("slack_fallback channel=%s reason=%s", channel, error.reason)
            return self._once(channel, method, message.get("text", ""), None)

    def _once(
        self, channel: str, method: Callable[[str, Any], Any], text: str, blocks: Any
    ) -> Mapping[str, Any]:
        try:
            response = method(text, blocks)
        except SlackApiError as error:
            raise self._api_error(channel, error) from None
        except (SlackClientError, OSError) as error:
            raise DeliveryError(
                channel, f"connection: {type(error).__name__}", retriable=True
            ) from None
        return dict(response.data) if isinstance(response.data, dict) else {}

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

    def post(
        self,
        channel: str,
        message: Mapping[str, Any],
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> Posted:
        self.count += 1
        alert = message.get("alert", {})
        if thread_ts:
            head = f"  ↳ {channel} (thread {thread_ts}{', also to channel' if broadcast else ''})"
            self._write([head, f"    {message.get('text', '')}"])
        elif not alert:
            self._write([f"MESSAGE {channel}", f"  {message.get('text', '')}"])
        else:
            self._write([f"ALERT {channel}  {self._summary(alert)}", *self._details(alert)])
        return Posted(channel, f"console-{self.count}")

    def update(self, channel: str, ts: str, message: Mapping[str, Any]) -> None:
        alert = message.get("alert", {})
        self._write([f"UPDATE {channel} {ts}  {self._summary(alert)}", *self._details(alert)])

    def upload(
        self, channel: str, thread_ts: str, content: bytes, filename: str, title: str
    ) -> None:
        self._write([f"  ↳ {channel} (thread {thread_ts}): chart {filename}, {len(content)} bytes"])

    @staticmethod
    def _summary(alert: Mapping[str, Any]) -> str:
        sources = alert.get("sources") or []
        count = f" · {len(sources)} source{'s' if len(sources) != 1 else ''}" if sources else ""
        mark = " · confirmed" if alert.get("confirmed") else ""
        return f"[{alert.get('label', '?')}] tension {alert.get('tension', '?')}{count}{mark}"

    @staticmethod
    def _details(alert: Mapping[str, Any]) -> list[str]:
        lines = [f"  {alert.get('title', '')}"]
        if alert.get("actors"):
            lines.append(f"  actors: {', '.join(alert['actors'])}")
        sources = alert.get("sources") or [alert.get("source", "?")]
        lines.append(f"  sources: {', '.join(sources)}  {alert.get('link') or ''}".rstrip())
        if alert.get("why"):
            lines.append(f"  why: {'; '.join(alert['why'])}")
        return lines

    def _write(self, lines: list[str]) -> None:
        self.stream.write("\n".join(lines) + "\n\n")
        self.stream.flush()
