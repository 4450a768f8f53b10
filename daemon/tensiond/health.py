"""The health and metrics endpoint: ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tensiond.metrics import Metrics

log = logging.getLogger("tensiond.health")


class HealthServer:
    """Serves health and metrics on ``host:port`` from a daemon thread."""

    def __init__(
        self, listen: str, metrics: Metrics, alive: Callable[[], bool], ready: Callable[[], bool]
    ) -> None:
        host, _, port = listen.rpartition(":")
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner._answer(self)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.metrics, self.alive, self.ready = metrics, alive, ready
        self.server = ThreadingHTTPServer((host.strip("[]") or "127.0.0.1", int(port)), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        self.thread.start()
        log.info("http_listening address=%s", self.address)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(request, 200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            ok = self.alive()
            self._send(request, 200 if ok else 503, b"ok\n" if ok else b"stalled\n")
        elif path == "/readyz":
            ok = self._safely(self.ready)
            self._send(request, 200 if ok else 503, b"ready\n" if ok else b"not ready\n")
        else:
            self._send(request, 404, b"not found\n")

    @staticmethod
    def _safely(check: Callable[[], bool]) -> bool:
        try:
            return check()
        except Exception:  # a failing check means "not ready", never a crashed handler
            return False

    @staticmethod
    def _send(
        request: BaseHTTPRequestHandler, status: int, body: bytes, kind: str = "text/plain"
    ) -> None:
        request.send_response(status)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
