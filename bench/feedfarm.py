"""A farm of feed servers on loopback for benchmarks, in its own process.

Serves N feeds over several ports (so per-host limits behave as with many outlets), each with an
ETag and Last-Modified that change only when the feed is bumped, so conditional GETs get 304.
Feed bodies are RSS 2.0 built from the team's corpus texts (never from third-party feeds).
"""

from __future__ import annotations

import json
import multiprocessing
import random
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]


def corpus_texts() -> list[str]:
    texts = []
    for path in sorted((ROOT / "models" / "corpus").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    return texts


def item_xml(title: str, summary: str, link: str, when: datetime) -> str:
    return (
        f"<item><title>{escape(title[:200])}</title><link>{link}</link>"
        f"<guid>{link}</guid><pubDate>{format_datetime(when)}</pubDate>"
        f"<description>&lt;p&gt;{escape(summary)}&lt;/p&gt;</description></item>"
    )


def build_feed(
    number: int, position: int, texts: list[str], items: int, extra: list[str] | None = None
) -> bytes:
    """Feed ``number`` showing its stories ``position`` .. ``position + items - 1``, newest first.

    A story's bytes depend only on the feed and the story's number, so moving the window by k
    puts k new stories on top, drops k at the bottom and leaves the rest as they were, as a news
    feed changes between polls."""
    base = datetime(2026, 3, 1, tzinfo=UTC)
    entries = list(extra or [])
    for story in range(position + items - 1, position - 1, -1):
        text = random.Random(number * 1_000_003 + story).choice(texts)
        title, _, rest = text.partition(". ")
        link = f"https://outlet{number}.example/story/{story}"
        entries.append(item_xml(title, rest or text, link, base + timedelta(minutes=story * 7)))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Outlet {number}</title><link>https://outlet{number}.example/</link>"
        f"<description>bench</description><lastBuildDate>{position}</lastBuildDate>"
        f"{''.join(entries)}</channel></rss>"
    ).encode()


def _serve(ports: list[int], feeds: int, items: int, ready: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    texts = corpus_texts()
    versions = dict.fromkeys(range(feeds), 0)
    positions = dict.fromkeys(range(feeds), 0)
    bodies = {n: build_feed(n, 0, texts, items) for n in range(feeds)}
    extras: dict[int, list[str]] = {n: [] for n in range(feeds)}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                if self.path == "/add":  # one new story on top of a feed: {feed, title, ...}
                    number = int(data["feed"])
                    when = datetime.fromisoformat(data["published"])
                    extras[number].insert(
                        0, item_xml(data["title"], data["summary"], data["link"], when)
                    )
                    versions[number] += 1
                    bodies[number] = build_feed(
                        number, positions[number], texts, items, extras[number]
                    )
                if self.path == "/advance":  # {feeds: [...], stories: k}: k new on top of each
                    for number in data["feeds"]:
                        versions[number] += 1
                        positions[number] += int(data["stories"])
                        bodies[number] = build_feed(
                            number, positions[number], texts, items, extras[number]
                        )
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            number = int(self.path.strip("/").split(".")[0].removeprefix("feed"))
            with lock:
                version, body = versions[number], bodies[number]
            etag = f'"{number}-{version}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    servers = []
    for port in ports:
        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.set()
    threading.Event().wait()


class FeedFarm:
    """``with FeedFarm(500) as farm: farm.urls; farm.bump([1, 2])``."""

    def __init__(
        self, feeds: int, items: int = 40, ports: int = 25, base_port: int = 18100
    ) -> None:
        self.feeds, self.items = feeds, items
        self.ports = [base_port + offset for offset in range(ports)]
        self.urls = [f"http://127.0.0.1:{self.ports[n % ports]}/feed{n}.xml" for n in range(feeds)]

    def __enter__(self) -> FeedFarm:
        ready = multiprocessing.Event()
        self.process = multiprocessing.Process(
            target=_serve, args=(self.ports, self.feeds, self.items, ready), daemon=True
        )
        self.process.start()
        ready.wait(60)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(5)

    def advance(self, numbers: list[int], stories: int) -> None:
        """``stories`` new stories on top of each of these feeds, as many dropped at the bottom."""
        self._post("/advance", {"feeds": numbers, "stories": stories})

    def bump(self, numbers: list[int]) -> None:
        """New versions of these feeds, every story in them new."""
        self.advance(numbers, self.items)

    def add(self, feed: int, title: str, summary: str, link: str, published: datetime) -> None:
        """One new story on top of one feed; the rest of it stays the same."""
        data = {"feed": feed, "title": title, "summary": summary, "link": link}
        self._post("/add", {**data, "published": published.isoformat()})

    def _post(self, path: str, data: object) -> None:
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports[0]}{path}", data=json.dumps(data).encode(), method="POST"
        )
        urllib.request.urlopen(request, timeout=30).read()
