"""Prometheus metrics. Label values come from small fixed sets: never an item, URL or title."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """One registry per app, so tests can build several apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.fetches = Counter(
            "tensiond_fetches", "Feed fetches by outcome", ["outcome"], registry=r
        )
        self.fetch_errors = Counter(
            "tensiond_fetch_errors", "Feed fetch and parse errors by kind", ["kind"], registry=r
        )
        self.items = Counter("tensiond_items_new", "New items stored", registry=r)
        self.classifications = Counter(
            "tensiond_classifications", "Items classified by label", ["label"], registry=r
        )
        self.alerts = Counter("tensiond_alerts", "Alerts by state reached", ["state"], registry=r)
        self.events = Counter("tensiond_events_new", "Events started (new stories)", registry=r)
        self.index_signals = Counter(
            "tensiond_index_signals", "Index spikes and easings", ["scope", "kind"], registry=r
        )
        self.slack_requests = Counter(
            "tensiond_slack_requests", "Slack API calls by outcome", ["outcome"], registry=r
        )
        self.slack_ratelimited = Counter(
            "tensiond_slack_ratelimited", "Slack 429 answers", registry=r
        )
        self.slack_latency = Histogram(
            "tensiond_slack_latency_seconds", "Time for one Slack post", registry=r
        )
        self.config_reloads = Counter(
            "tensiond_config_reloads", "Config reloads by result", ["result"], registry=r
        )
        self.config_last_reload_ok = Gauge(
            "tensiond_config_last_reload_ok", "1 if the last reload was applied", registry=r
        )
        self.ready = Gauge(
            "tensiond_ready", "1 once config, database and model are loaded", registry=r
        )
        self.last_cycle = Gauge(
            "tensiond_last_poll_timestamp_seconds", "When the last poll cycle ended", registry=r
        )
        self.config_last_reload_ok.set(1)
