"""The backtest's results as tables for a person, or as one JSON object for a program."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tensiond.backtest.labelled import Score
from tensiond.backtest.simulation import Alerted, MessageKey, Outcome
from tensiond.backtest.sweep import Sweep, Value, show
from tensiond.storage.history import OutboxCount

KINDS = ("post", "update", "reply", "group", "digest")
SHOWN = (*KINDS, "index")  # index: the tension index's alerts, in the outbox, not simulated
TITLE_WIDTH = 70
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?\Z|-\Z")


@dataclass(frozen=True)
class Window:
    """What was replayed: the counted span, and the items and events seen in it."""

    since: datetime
    until: datetime
    items: int
    events: int
    warmup: datetime  # replay starts here, so alerts already open before ``since`` are known


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  "
) -> list[str]:
    """Columns padded to their widest cell; columns of numbers right-aligned, text left."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    numeric = [bool(cells) and all(_NUMBER.match(r[i]) for r in cells) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        padded = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return (indent + "  ".join(padded)).rstrip()

    return [line(list(headers)), *(line(row) for row in cells)]


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def _kind_order(key: MessageKey) -> tuple[str, str, int]:
    route, channel, kind = key
    return (route, channel, SHOWN.index(kind) if kind in SHOWN else len(SHOWN))


def _alert_line(mark: str, alert: Alerted) -> str:
    title = alert.title if len(alert.title) <= TITLE_WIDTH else alert.title[: TITLE_WIDTH - 1] + "…"
    return (
        f"  {mark} {_when(alert.at)}  {alert.channel:<18} {alert.how:<6} {alert.label:<18} "
        f"{alert.tension:>3}  {title}"
    )


def _listing(
    heading: str, mark: Callable[[Alerted], str], alerts: Sequence[Alerted], limit: int
) -> list[str]:
    lines = [f"{heading} ({len(alerts)}):"]
    shown = alerts if limit <= 0 else alerts[:limit]
    lines += [_alert_line(mark(alert), alert) for alert in shown]
    if len(shown) < len(alerts):
        lines.append(f"    ... and {len(alerts) - len(shown)} more (--limit 0 lists all)")
    return lines


def _outbox(counts: Sequence[OutboxCount]) -> Counter[MessageKey]:
    found: Counter[MessageKey] = Counter()
    for row in counts:
        found[(row.route, row.channel, row.kind)] += row.count
    return found


def _firsts(outcome: Outcome) -> set[tuple[int, str]]:
    return {(alert.event_id, alert.channel) for alert in outcome.alerted}


def comparison_lines(
    window: Window,
    outbox: Sequence[OutboxCount],
    current: Outcome,
    candidate: Outcome | None,
    posted: set[tuple[int, str]],
    limit: int,
) -> list[str]:
    """The tables of ``tensiond backtest``: per route, channel and kind, what the outbox holds,
    what the current settings send in the simulation, and what the candidate's would."""
    sent = _outbox(outbox)
    lines = [
        f"replayed {window.items} items in {window.events} events, {_when(window.since)} to "
        f"{_when(window.until)} UTC (history from {_when(window.warmup)} builds up the state)",
        "",
    ]
    headers = ["route", "channel", "kind", "outbox", "current"]
    keys = set(sent) | set(current.messages)
    if candidate is not None:
        headers += ["candidate", "change"]
        keys |= set(candidate.messages)
    rows: list[list[object]] = []
    for key in sorted(keys, key=_kind_order):
        row: list[object] = [*key, sent[key], current.messages[key]]
        if candidate is not None:
            change = candidate.messages[key] - current.messages[key]
            row += [candidate.messages[key], f"{change:+d}" if change else "0"]
        rows.append(row)
    lines += table(headers, rows) if rows else ["  no messages in this window"]
    if any(row.kind == "index" for row in outbox):
        lines.append("  (index: the tension index's spike and easing alerts, not simulated)")
    failed = sum(row.count for row in outbox if row.state == "failed")
    pending = sum(row.count for row in outbox if row.state == "pending")
    if failed or pending:
        lines.append(f"  (outbox: {failed} failed, {pending} still pending)")
    pairs = [("current", current)] + ([("candidate", candidate)] if candidate else [])
    lines.append("")
    for name, outcome in pairs:
        lines.append(
            f"{name}: {outcome.muted} first alerts muted, {outcome.inhibited} inhibited, "
            f"{outcome.held} held for a digest"
        )
    lines.append(_fidelity(current, posted))
    lines.append("")
    if candidate is None:
        alerts = current.alerted
        return lines + _listing("alerts under the current settings", lambda _a: " ", alerts, limit)
    before, after = _firsts(current), _firsts(candidate)
    lines += _listing(
        "alerts the candidate would send (+: not under the current settings)",
        lambda alert: "+" if (alert.event_id, alert.channel) not in before else " ",
        candidate.alerted,
        limit,
    )
    dropped = [a for a in current.alerted if (a.event_id, a.channel) not in after]
    gone = _listing("alerts it would no longer send", lambda _a: "-", dropped, limit)
    return [*lines, "", *gone]


def check(current: Outcome, posted: set[tuple[int, str]]) -> dict[str, int]:
    """How the replay of the current settings agrees with the outbox, post by post."""
    simulated = {(a.event_id, a.channel) for a in current.alerted if a.how == "post"}
    return {
        "both": len(simulated & posted),
        "only_outbox": len(posted - simulated),
        "only_simulated": len(simulated - posted),
    }


def _fidelity(current: Outcome, posted: set[tuple[int, str]]) -> str:
    found = check(current, posted)
    return (
        f"simulation check: {found['both']} events posted both in the outbox and in the "
        f"simulation of the current settings; {found['only_outbox']} only in the outbox, "
        f"{found['only_simulated']} only simulated"
    )


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {
        "messages": [
            {"route": r, "channel": c, "kind": k, "count": n}
            for (r, c, k), n in sorted(
                outcome.messages.items(), key=lambda pair: _kind_order(pair[0])
            )
        ],
        "totals": {kind: outcome.total(kind) for kind in KINDS},
        "held": outcome.held,
        "muted": outcome.muted,
        "inhibited": outcome.inhibited,
        "alerts": [
            {
                "at": alert.at.isoformat(),
                "route": alert.route,
                "channel": alert.channel,
                "event_id": alert.event_id,
                "how": alert.how,
                "label": alert.label,
                "tension": alert.tension,
                "title": alert.title,
            }
            for alert in outcome.alerted
        ],
    }


def comparison_json(
    window: Window,
    outbox: Sequence[OutboxCount],
    current: Outcome,
    candidate: Outcome | None,
    posted: set[tuple[int, str]],
) -> dict[str, Any]:
    return {
        "since": window.since.isoformat(),
        "until": window.until.isoformat(),
        "items": window.items,
        "events": window.events,
        "outbox": [
            {
                "route": r.route,
                "channel": r.channel,
                "kind": r.kind,
                "state": r.state,
                "count": r.count,
            }
            for r in outbox
        ],
        "check": check(current, posted),
        "current": outcome_json(current),
        "candidate": outcome_json(candidate) if candidate is not None else None,
    }


# sweeps ------------------------------------------------------------------------------------


def _sweep_row(label: str, outcome: Outcome) -> list[object]:
    counts: list[object] = [outcome.total(kind) for kind in KINDS]
    return [label, *counts, outcome.held, outcome.muted, outcome.inhibited]


def sweep_lines(
    window: Window,
    sweep: Sweep,
    results: Sequence[tuple[Value, Outcome]],
    current: Outcome,
    current_value: Value | None,
) -> list[str]:
    """One row per value, the current settings first for reference; per channel when several."""
    lines = [
        f"replayed {window.items} items in {window.events} events, {_when(window.since)} to "
        f"{_when(window.until)} UTC; messages per value of {sweep.key}",
        "",
    ]
    plural = {"post": "posts", "update": "updates", "reply": "replies", "group": "groups"}
    headers = [sweep.key, *(plural.get(k, k + "s") for k in KINDS), "held", "muted", "inhibited"]
    rows = [_sweep_row(f"current ({show(current_value)})", current)]
    rows += [_sweep_row(show(value), outcome) for value, outcome in results]
    lines += table(headers, rows)
    channels = sorted(
        {c for _v, o in results for c in o.by_channel("post") | o.by_channel("group")}
    )
    if len(channels) > 1:
        lines += ["", "posts and grouped messages per channel:"]
        per_channel = [
            [show(value), *(o.by_channel("post")[c] + o.by_channel("group")[c] for c in channels)]
            for value, o in results
        ]
        lines += table([sweep.key, *channels], per_channel)
    return lines


def sweep_json(
    window: Window, sweep: Sweep, results: Sequence[tuple[Value, Outcome]], current: Outcome
) -> dict[str, Any]:
    def summary(outcome: Outcome) -> dict[str, Any]:
        data: dict[str, Any] = {kind: outcome.total(kind) for kind in KINDS}
        data |= {"held": outcome.held, "muted": outcome.muted, "inhibited": outcome.inhibited}
        channels = outcome.by_channel("post") + outcome.by_channel("group")
        return data | {"posts_by_channel": dict(sorted(channels.items()))}

    return {
        "key": sweep.key,
        "since": window.since.isoformat(),
        "until": window.until.isoformat(),
        "current": summary(current),
        "values": [{"value": show(value), **summary(outcome)} for value, outcome in results],
    }


# labelled evaluation -----------------------------------------------------------------------


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def labelled_lines(
    stories: int, should: int, version: str, found: Sequence[Score], top: Score | None
) -> list[str]:
    lines = [
        f"{stories} labelled stories, {should} should alert; model {version}",
        "an alert: routing's rule (label not 'other', tension at or over the threshold; "
        "per-label thresholds of the config kept)",
        "",
    ]
    rows = [
        [f"{s.threshold:g}", s.alerts, s.hits, s.false_alarms, s.missed,
         _ratio(s.precision), _ratio(s.recall), f"{s.f1:.3f}"]
        for s in found
    ]  # fmt: skip
    headers = ["threshold", "alerts", "hits", "false", "missed", "precision", "recall", "f1"]
    lines += table(headers, rows)
    lines.append("")
    if top is None:
        lines.append("no threshold alerts on any story that should alert")
    else:
        lines.append(
            f"best F1 {top.f1:.3f} at threshold {top.threshold:g} "
            f"(precision {_ratio(top.precision)}, recall {_ratio(top.recall)})"
        )
    return lines


def labelled_json(
    stories: int, should: int, version: str, found: Sequence[Score], top: Score | None
) -> dict[str, Any]:
    def row(score: Score) -> dict[str, Any]:
        return {
            "threshold": score.threshold, "alerts": score.alerts, "hits": score.hits,
            "false_alarms": score.false_alarms, "missed": score.missed,
            "precision": score.precision, "recall": score.recall, "f1": score.f1,
        }  # fmt: skip

    return {
        "stories": stories,
        "should_alert": should,
        "model": version,
        "thresholds": [row(score) for score in found],
        "best": row(top) if top is not None else None,
    }
