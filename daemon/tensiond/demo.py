"""The offline demo: serve the team's sample feeds (demo/feeds.json) on loopback.

Item times are relative to the moment they are served, so the demo's stories are always fresh
enough to alert. One feed is deliberately broken, to show a bad feed being reported and backed off.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape


def _demo_dir() -> Path:
    """demo/ in a source checkout, else the copy packaged inside tensiond (containers)."""
    checkout = Path(__file__).resolve().parents[2] / "demo"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parent / "data" / "demo"


DEMO_DIR = _demo_dir()


def _rss(feed: dict[str, Any], now: datetime) -> str:
    entries = []
    for item in feed["items"]:
        when = format_datetime(now - timedelta(hours=item["hours_ago"]))
        entries.append(
            f"<item><title>{escape(item['title'])}</title><link>{escape(item['link'])}</link>"
            f'<guid isPermaLink="false">{escape(item["guid"])}</guid><pubDate>{when}</pubDate>'
            f"<description>{escape(item['summary'])}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(feed['title'])}</title><link>https://demo.invalid/</link>"
        f"<description>tensiond demo feed</description>{''.join(entries)}</channel></rss>"
    )


def _atom(feed: dict[str, Any], now: datetime) -> str:
    entries = []
    for item in feed["items"]:
        when = (now - timedelta(hours=item["hours_ago"])).isoformat(timespec="seconds")
        entries.append(
            f'<entry><title>{escape(item["title"])}</title><link href="{escape(item["link"])}"/>'
            f"<id>{escape(item['guid'])}</id><updated>{when}</updated>"
            f"<summary>{escape(item['summary'])}</summary></entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(feed['title'])}</title><id>urn:tensiond:demo</id>"
        f"<updated>{now.isoformat(timespec='seconds')}</updated>{''.join(entries)}</feed>"
    )


def render_feed(feed: dict[str, Any], now: datetime) -> bytes:
    if feed["format"] == "atom":
        return _atom(feed, now).encode()
    if feed["format"] == "broken":
        return b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    return _rss(feed, now).encode()


def load_demo_feeds(folder: Path = DEMO_DIR) -> dict[str, dict[str, Any]]:
    data = json.loads((folder / "feeds.json").read_text(encoding="utf-8"))
    return {"/" + feed["path"]: feed for feed in data["feeds"]}


def serve_demo_feeds(port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start the demo feed server in a daemon thread; ``shutdown()`` stops it."""
    feeds = load_demo_feeds()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            feed = feeds.get(self.path.split("?", 1)[0])
            if feed is None:
                self.send_error(404)
                return
            body = render_feed(feed, datetime.now(UTC))
            kind = "text/html" if feed["format"] == "broken" else "application/xml"
            self.send_response(200)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="demo-feeds", daemon=True).start()
    return server
