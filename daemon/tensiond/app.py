"""Assembling tensiond: settings -> database -> model -> sender, ready to run."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from pathlib import Path

from tensiond.alerts.slack import ConsoleSender, Sender, SlackSender
from tensiond.classify.model import Classifier
from tensiond.clock import Clock, SystemClock
from tensiond.config.schema import Settings
from tensiond.feeds.fetch import Fetcher
from tensiond.feeds.pool import ParsePool
from tensiond.metrics import Metrics
from tensiond.pipeline import Services
from tensiond.storage.engine import database_url, default_state_dir, make_engine, migrate
from tensiond.storage.index_store import IndexStore
from tensiond.storage.repository import Repository

log = logging.getLogger("tensiond.app")


def state_dir(settings: Settings) -> Path:
    if settings.state_dir:
        path = Path(settings.state_dir).expanduser()
        return path if path.is_absolute() else settings.base_dir / path
    return default_state_dir()


def open_repository(settings: Settings) -> Repository:
    """Open the configured database and bring its schema up to date."""
    engine = make_engine(database_url(settings.storage.url, state_dir(settings)))
    migrate(engine)
    return Repository(engine)


def make_sender(settings: Settings) -> Sender:
    """Slack when the token's environment variable is set, else the console."""
    token = os.environ.get(settings.slack.token_env, "").strip()
    if token:
        return SlackSender(settings.slack, token)
    log.warning("slack_disabled reason=no_token env=%s alerts=console", settings.slack.token_env)
    return ConsoleSender()


def owner_id() -> str:
    """Who holds a lease: host, process and a random suffix (a restarted process is new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    classifier: Classifier | None = None,
    sender: Sender | None = None,
    metrics: Metrics | None = None,
) -> Services:
    """Load everything the daemon needs; raises a TensiondError naming what failed."""
    repository = open_repository(settings)
    now = (clock or SystemClock()).now()
    repository.sync_feeds([(feed.url, feed.name) for feed in settings.feeds], now)
    model = classifier or Classifier.load(settings)
    return Services(
        settings=settings,
        repository=repository,
        fetcher=Fetcher(settings.fetch),
        classifier=model,
        sender=sender or make_sender(settings),
        clock=clock or SystemClock(),
        metrics=metrics or Metrics(),
        owner=owner_id(),
        stopping=threading.Event(),
        index_store=IndexStore(repository.engine),
        parse_pool=ParsePool(settings.fetch.parse_processes)
        if settings.fetch.parse_processes
        else None,
    )
