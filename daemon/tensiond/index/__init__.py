"""The tension index per country and dyad, and its spike and easing signals.

Pure parts: :mod:`.decay` (weights, the decayed sum), :mod:`.baseline` (a key's normal),
:mod:`.detect` (spike and easing), :mod:`.chart` (a PNG). :mod:`.update` is the one step the
pipeline calls; :mod:`.view` reads a key's series for the CLI and charts. See docs/index.md.
"""

from tensiond.index.records import (
    Baseline,
    IndexKey,
    IndexPoint,
    KeyState,
    Observation,
    Signal,
)
from tensiond.index.update import update_index

__all__ = [
    "Baseline",
    "IndexKey",
    "IndexPoint",
    "KeyState",
    "Observation",
    "Signal",
    "update_index",
]
