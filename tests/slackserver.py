"""A Slack-compatible Web API server on loopback for tests: records every request.

It speaks the real protocol slack-sdk uses (``POST /api/<method>``, JSON or form bodies, a Bearer
token) and can be scripted to answer 429 with Retry-After, 5xx, ``ok: false`` errors, slow replies
or connection resets, per request, in order.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Reply:
    """One scripted answer: an HTTP status, a JSON body, headers, a delay, or a reset."""

    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False


@dataclass
class Request:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


class SlackServer:
    """``with SlackServer() as slack: ...``; ``slack.url`` goes into ``slack.api_url``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: list[Reply] = []
        self.lock = threading.Lock()
        self.counter = 0
        self.channels: dict[str, str] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self.files: list[dict[str, Any]] = []  # completed uploads: id, channel, thread, title
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                owner._handle(self)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def __enter__(self) -> SlackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def then(self, *replies: Reply) -> None:
        """Queue scripted replies; once they run out, every call succeeds."""
        with self.lock:
            self.script.extend(replies)

    def posts(self, method: str = "chat.postMessage") -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method]

    def wait_for(
        self, count: int, timeout: float = 30.0, method: str = "chat.postMessage"
    ) -> list[Request]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.posts(method)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.posts(method)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        if handler.path.startswith("/upload/"):  # the URL files.getUploadURLExternal handed out
            data = handler.rfile.read(length)
            with self.lock:
                self.uploads[handler.path.rsplit("/", 1)[-1]] = data
            handler.send_response(200)
            handler.send_header("Content-Length", "2")
            handler.end_headers()
            handler.wfile.write(b"OK")
            return
        raw = handler.rfile.read(length).decode() if length else ""
        kind = handler.headers.get("Content-Type", "")
        body: dict[str, Any] = json.loads(raw) if "json" in kind and raw else dict(parse_qsl(raw))
        method = handler.path.rsplit("/", 1)[-1]
        with self.lock:
            self.requests.append(Request(method, body, dict(handler.headers), time.monotonic()))
            reply = self.script.pop(0) if self.script else None
            self.counter += 1
            number = self.counter
        if reply and reply.delay:
            time.sleep(reply.delay)
        if reply and reply.reset:
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            handler.connection.close()
            return
        status = reply.status if reply else 200
        payload = reply.body if reply and reply.body is not None else self._ok(method, body, number)
        if status == 200 and payload.get("ok"):
            payload = self._apply(method, body, payload)
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (reply.headers if reply else {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def channel_id(self, name: str) -> str:
        """Slack answers with channel ids; names given to chat.postMessage map to one each."""
        with self.lock:
            return self._channel_id(name)

    def _channel_id(self, name: str) -> str:
        if name in self.channels.values():
            return name
        return self.channels.setdefault(name, f"C{len(self.channels) + 1:08d}")

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """The latest content of a posted message (after any chat.update)."""
        with self.lock:
            return self.messages[(self._channel_id(channel), ts)]

    def _apply(self, method: str, body: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        """Keep the messages as Slack would: chat.update needs the channel id and a known ts."""
        with self.lock:
            if method == "chat.postMessage":
                channel = self._channel_id(str(body.get("channel", "")))
                key = (channel, str(payload["ts"]))
                self.messages[key] = {
                    "text": body.get("text"), "blocks": body.get("blocks"),
                    "thread_ts": body.get("thread_ts"),
                }  # fmt: skip
                return {**payload, "channel": channel}
            if method == "files.getUploadURLExternal":
                file_id = f"F{len(self.uploads) + len(self.files) + 1:08d}"
                port = self.server.server_address[1]
                url = f"http://127.0.0.1:{port}/upload/{file_id}"
                return {"ok": True, "upload_url": url, "file_id": file_id}
            if method == "files.completeUploadExternal":
                files = body.get("files")
                files = json.loads(files) if isinstance(files, str) else files or []
                for entry in files:
                    if entry["id"] not in self.uploads:
                        return {"ok": False, "error": "file_not_found"}
                    self.files.append(
                        {**entry, "channel": body.get("channel_id"),
                         "thread_ts": body.get("thread_ts"), "bytes": self.uploads[entry["id"]]}
                    )  # fmt: skip
                return {"ok": True, "files": [{"id": entry["id"]} for entry in files]}
            if method == "chat.update":
                key = (str(body.get("channel")), str(body.get("ts")))
                if key[0] not in self.channels.values():
                    return {"ok": False, "error": "channel_not_found"}
                if key not in self.messages:
                    return {"ok": False, "error": "message_not_found"}
                self.messages[key].update(text=body.get("text"), blocks=body.get("blocks"))
                return {"ok": True, "channel": key[0], "ts": key[1]}
        return payload

    @staticmethod
    def _ok(method: str, body: dict[str, Any], number: int) -> dict[str, Any]:
        if method == "chat.update":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}
        return {"ok": True, "channel": body.get("channel", "C0"), "ts": f"1700000000.{number:06d}"}


@contextmanager
def slack_server() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server
