"""The ``tensiond`` command line.

tensiond run --config PATH          the daemon
tensiond once --config PATH         one poll cycle, deliver, exit
tensiond check-config PATH          validate a config; every problem with its path
tensiond classify                   JSONL in (id, text[, summary]) -> JSONL out, same order
tensiond score "headline"           a readable verdict
tensiond train / evaluate FILE      the classifier's training and evaluation
tensiond demo                       the offline demo: local sample feeds, console alerts
tensiond healthcheck                exit 0 when the running daemon answers /healthz
tensiond replay DIR --config PATH   captured snapshots through the pipeline, simulated clock
tensiond index --dyad CN-TW         a dyad's (or --country's) tension index; --png FILE charts it
tensiond backtest --config NEW.yaml the stored history through another config's alerting
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from tensiond import logs
from tensiond.config.load import default_settings, load_settings
from tensiond.config.schema import Settings
from tensiond.exceptions import ConfigError, TensiondError

log = logging.getLogger("tensiond")


def _settings(path: str | None) -> Settings:
    path = path or os.environ.get("TENSIOND_CONFIG")
    return load_settings(path) if path else default_settings()


def iso_moment(text: str) -> datetime:
    """An argparse type: an ISO 8601 time, UTC when it names no offset."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _add_config(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument(
        "--config", "-c", required=required, help="the YAML config (default: $TENSIOND_CONFIG)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tensiond", description="Geopolitical tension alerts from news feeds to Slack."
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in (("run", "run the daemon"), ("once", "one poll cycle, deliver, exit")):
        _add_config(commands.add_parser(name, help=text))
    check = commands.add_parser("check-config", help="validate a config file")
    check.add_argument("path")
    classify = commands.add_parser("classify", help="JSONL stories on stdin -> verdicts on stdout")
    _add_config(classify)
    score = commands.add_parser("score", help="a readable verdict for one headline")
    score.add_argument("text", nargs="+")
    _add_config(score)
    train = commands.add_parser("train", help="train the classifier head on the team's corpus")
    train.add_argument("--corpus", default="models/corpus")
    train.add_argument("--output", default="models/head")
    train.add_argument("--seed", type=int, default=13)
    train.add_argument("--epochs", type=int, default=80, help="epochs of the heads")
    train.add_argument(
        "--adapter-rank", type=int, default=8, help="rank of the encoder's adapter (0: none)"
    )
    train.add_argument("--adapter-epochs", type=int, default=3, help="epochs of adapter tuning")
    _add_config(train)
    evaluate = commands.add_parser("evaluate", help="per-class metrics on a labelled JSONL file")
    evaluate.add_argument("file")
    evaluate.add_argument(
        "--mistakes", type=int, default=0, metavar="N",
        help="also list N wrong verdicts and false alerts, the most confident first",
    )  # fmt: skip
    _add_config(evaluate)
    demo = commands.add_parser("demo", help="run on the bundled sample feeds, no internet needed")
    demo.add_argument("--port", type=int, default=8765)
    demo.add_argument("--once", action="store_true", help="one cycle, then exit")
    _add_config(demo)
    replay = commands.add_parser(
        "replay", help="run captured feed snapshots through the pipeline on a simulated clock"
    )
    replay.add_argument("directory", help="a folder with manifest.jsonl and the snapshot files")
    replay.add_argument("--database", help="keep the replay's database here (default: a temp file)")
    replay.add_argument("--step", default="15s", help="simulated time between delivery passes")
    replay.add_argument("--tail", default="10m", help="simulated time to run after the last one")
    _add_config(replay)
    health = commands.add_parser("healthcheck", help="exit 0 if the daemon answers /healthz")
    _add_config(health)
    index = commands.add_parser("index", help="a dyad's or country's tension index, or its chart")
    from tensiond.index.command import add_arguments

    add_arguments(index)
    _add_config(index)
    backtest = commands.add_parser(
        "backtest", help="replay the stored history through a candidate config's alerting"
    )
    from tensiond.backtest.command import add_arguments as add_backtest_arguments

    add_backtest_arguments(backtest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.version:
        from tensiond import __version__

        print(f"tensiond {__version__}")
        return 0
    if not arguments.command:
        build_parser().print_help()
        return 2
    logs.configure(
        os.environ.get("TENSIOND_LOG_LEVEL", "INFO"), os.environ.get("TENSIOND_LOG_FORMAT", "text")
    )
    try:
        return _dispatch(arguments)
    except ConfigError as error:
        print(f"tensiond: invalid configuration\n{error}", file=sys.stderr)
        return 2
    except TensiondError as error:
        print(f"tensiond: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(arguments: argparse.Namespace) -> int:
    from tensiond import commands

    handlers = {
        "run": commands.run,
        "once": commands.once,
        "check-config": commands.check_config,
        "classify": commands.classify,
        "score": commands.score,
        "train": commands.train,
        "evaluate": commands.evaluate,
        "demo": commands.demo,
        "healthcheck": commands.healthcheck,
        "replay": commands.replay,
        "index": commands.index,
        "backtest": commands.backtest,
    }
    return handlers[arguments.command](arguments)


def config_path(arguments: argparse.Namespace) -> Path | None:
    value = getattr(arguments, "config", None) or os.environ.get("TENSIOND_CONFIG")
    return Path(value) if value else None


if __name__ == "__main__":
    raise SystemExit(main())
