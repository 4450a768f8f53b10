"""Named crash points for the delivery tests.

``TENSIOND_CRASH_AT=<name>`` makes the process exit hard (no cleanup, no flush, like a power cut)
the first time it reaches that point. The names mark the edges of the outbox's promises:

    alert_committed   alert rows are committed, Slack not yet called
    slack_accepted    Slack answered ok, the row is not yet marked sent
"""

from __future__ import annotations

import os

EXIT_CODE = 86
POINTS = frozenset({"alert_committed", "slack_accepted"})


def crash_point(name: str) -> None:
    """Exit at once if the environment names this point."""
    if os.environ.get("TENSIOND_CRASH_AT") == name:
        os._exit(EXIT_CODE)
