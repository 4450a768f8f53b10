"""The index's arithmetic: what one story weighs, and how a decayed sum moves with time.

An index is a sum of signed weights, each halving every ``half_life`` since its story:

    index(now) = max(0, sum of weight_i * 2 ** (-(now - at_i) / half_life))

kept as a running value: ``index(now) = index(then) * decay(now - then) + new weights``, so an
update costs the size of the batch, not of the history. Pure functions; the caller gives ``now``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from tensiond.config.schema import IndexSettings
from tensiond.index.records import IndexKey, Observation

_COUNTRY = re.compile(r"[A-Z]{2}\Z")


def decay_factor(elapsed: timedelta, half_life: timedelta) -> float:
    """2 ** (-elapsed / half_life); 1.0 for no (or negative) elapsed time."""
    if elapsed <= timedelta(0):
        return 1.0
    return float(2.0 ** (-(elapsed / half_life)))


def decayed(value: float, since: datetime, now: datetime, half_life: timedelta) -> float:
    """A value recorded at ``since``, seen at ``now``."""
    return value * decay_factor(now - since, half_life)


def weight(observation: Observation, settings: IndexSettings) -> float:
    """What one story adds: tension / 100 times its modality's weight.

    ``other`` weighs nothing; ``cooperation`` subtracts ``cooperation_weight`` (times the
    modality's weight) whatever its tension, since its tension says how little tension there is.
    """
    modality = settings.modality_weights.get(observation.modality, 0.0)
    if observation.label == "other" or modality == 0:
        return 0.0
    if observation.label == "cooperation":
        return -settings.cooperation_weight * modality
    return observation.tension / 100 * modality


def keys_of(observation: Observation) -> list[IndexKey]:
    """Its dyads, and its actors that are countries (organisations count only in dyads)."""
    countries = [actor for actor in dict.fromkeys(observation.actors) if _COUNTRY.match(actor)]
    return [
        *(IndexKey("dyad", dyad) for dyad in dict.fromkeys(observation.dyads)),
        *(IndexKey("country", code) for code in countries),
    ]


Contribution = tuple[datetime, float]


def contributions(
    observations: Iterable[Observation], settings: IndexSettings, now: datetime
) -> dict[IndexKey, list[Contribution]]:
    """Each key's weighted stories; a story dated after ``now`` counts as of ``now``."""
    by_key: defaultdict[IndexKey, list[Contribution]] = defaultdict(list)
    for observation in observations:
        amount = weight(observation, settings)
        if amount == 0:
            continue
        at = min(observation.at, now)
        for key in keys_of(observation):
            by_key[key].append((at, amount))
    return dict(by_key)


def advance(
    value: float,
    since: datetime,
    added: Sequence[Contribution],
    now: datetime,
    half_life: timedelta,
) -> float:
    """The index at ``now``: the old value decayed, plus each new weight decayed from its time.

    The index never goes below 0: cooperation cannot bank credit against the next clash.
    """
    total = decayed(value, since, now, half_life)
    total += sum(amount * decay_factor(now - at, half_life) for at, amount in added)
    return max(0.0, total)
