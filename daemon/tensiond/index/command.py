"""``tensiond index``: a dyad's or a country's index as a table, or as a PNG chart.

tensiond index --dyad CN-TW --days 14 --png cn-tw.png
tensiond index --country KP
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from tensiond.classify.actors import Gazetteer, default_gazetteer_path
from tensiond.cli import iso_moment
from tensiond.config.schema import Settings, normalise_dyad
from tensiond.exceptions import TensiondError
from tensiond.index.records import IndexKey
from tensiond.index.view import IndexView, chart_png, index_view

BAR_WIDTH = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--dyad", help="a pair of actor codes, e.g. CN-TW (either order)")
    which.add_argument("--country", help="an ISO 3166 alpha-2 code, e.g. KP")
    parser.add_argument("--days", type=_days, default=14, help="days to show (1..365, default 14)")
    parser.add_argument("--png", metavar="FILE", help="write a 600x200 PNG chart to FILE")
    parser.add_argument("--at", type=iso_moment, help="as of this ISO 8601 time (default: now)")


def _days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 365:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 1 to 365")
    return int(text)


def _gazetteer(settings: Settings) -> Gazetteer:
    if not settings.actors:
        return Gazetteer.load(default_gazetteer_path())
    path = Path(settings.actors).expanduser()
    return Gazetteer.load(path if path.is_absolute() else settings.base_dir / path)


def resolve_key(dyad: str | None, country: str | None, gazetteer: Gazetteer) -> IndexKey:
    """The index key the user asked for; TensiondError naming what is wrong with it."""
    if dyad is not None:
        try:
            key = normalise_dyad(dyad)
        except ValueError as error:
            raise TensiondError(f"--dyad: {error}") from None
        unknown = [code for code in key.split("-") if code not in gazetteer]
        if unknown:
            raise TensiondError(f"--dyad {dyad}: unknown actor code(s) {', '.join(unknown)}")
        return IndexKey("dyad", key)
    code = (country or "").strip().upper()
    if code not in gazetteer:
        raise TensiondError(f"--country {country}: unknown country code (use e.g. KP, TW, US)")
    if gazetteer.actor(code).kind != "country":
        raise TensiondError(f"--country {country}: {code} is an organisation; use --dyad")
    return IndexKey("country", code)


def _days_of(view: IndexView) -> Iterator[tuple[date, float, float]]:
    """(day, highest, last) of each UTC day of the view."""
    days: dict[date, list[float]] = {}
    for moment, value in zip(view.times, view.values, strict=True):
        days.setdefault(moment.date(), []).append(value)
    for day, values in days.items():
        yield day, max(values), values[-1]


def _state_line(view: IndexView, settings: Settings) -> str:
    state = view.state
    if state is None:
        return "no stories counted yet"
    if state.spiking and state.spike_at:
        return f"spiking since {state.spike_at:%Y-%m-%d %H:%M} UTC (peak {state.peak:.2f})"
    if view.now - state.first_at < settings.index.min_history:
        level = settings.index.cold_start_level
        rule = f"spikes only at {level:g}" if level is not None else "does not spike"
        return (
            f"cold start: first counted {state.first_at:%Y-%m-%d %H:%M} UTC; until it is "
            f"{settings.index.min_history.days}d old it {rule}"
        )
    return "normal"


def render_table(view: IndexView, names: str, settings: Settings) -> str:
    """The view as readable text: the value now, its normal, z, the state, a row per day."""
    thresholds = view.thresholds
    lines = [
        f"{view.key.scope} {view.key.key} ({names}), last {view.days} days, "
        f"at {view.now:%Y-%m-%d %H:%M} UTC",
        f"  index now  {view.value:.2f}",
        f"  baseline   {view.baseline.median:.2f} median, {view.spread:.2f} spread "
        f"({view.baseline.samples} hours)",
        f"  z          {view.z:+.1f}  (spike at z >= {thresholds.spike_z:g} and index >= "
        f"{thresholds.min_level:g}; easing at z <= {thresholds.easing_z:g})",
        f"  state      {_state_line(view, settings)}",
        "",
        f"  {'day':<10}  {'highest':>7}  {'at end':>7}",
    ]
    ceiling = max([*view.values, view.spike_level, 1e-9])
    for day, highest, last in _days_of(view):
        bar = "#" * round(BAR_WIDTH * highest / ceiling)
        lines.append(f"  {day:%Y-%m-%d}  {highest:7.2f}  {last:7.2f}  {bar}".rstrip())
    return "\n".join(lines)


def run(arguments: argparse.Namespace, settings: Settings) -> int:
    from tensiond.app import state_dir
    from tensiond.storage.engine import database_url, make_engine, migrate
    from tensiond.storage.index_store import IndexStore

    gazetteer = _gazetteer(settings)
    key = resolve_key(arguments.dyad, arguments.country, gazetteer)
    engine = make_engine(database_url(settings.storage.url, state_dir(settings)))
    try:
        migrate(engine)
        now = arguments.at or datetime.now(UTC)
        view = index_view(
            IndexStore(engine), key, settings.index, now, days=arguments.days,
            region_of=gazetteer.region,
        )  # fmt: skip
    finally:
        engine.dispose()
    if arguments.png:
        try:
            Path(arguments.png).write_bytes(chart_png(view))
        except OSError as error:
            raise TensiondError(f"--png {arguments.png}: {error.strerror}") from error
        print(f"wrote {arguments.png} ({view.key.key}, {view.days} days)", file=sys.stderr)
        return 0
    names = " - ".join(gazetteer.name(code) for code in key.key.split("-"))
    print(render_table(view, names, settings))
    return 0
