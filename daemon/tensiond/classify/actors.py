"""The actors gazetteer: which states and organisations a piece of news text names.

Load it once (``Gazetteer.load(default_gazetteer_path())``) and call :meth:`Gazetteer.actors`
on each item. The data and the rules for ambiguous names live in config/actors.yaml, whose
header documents them; matching is done by :mod:`tensiond.classify.gazetteer_match`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tensiond.classify.gazetteer_match import ActorMention, Matcher
from tensiond.classify.gazetteer_schema import Entry, GazetteerError, load_entries

__all__ = [
    "MAX_DYADS",
    "Actor",
    "ActorMention",
    "Gazetteer",
    "GazetteerError",
    "default_gazetteer_path",
    "dyads",
]

MAX_DYADS = 10
_RELATIVE = Path("config") / "actors.yaml"


@dataclass(frozen=True)
class Actor:
    """A state or organisation.

    ``kind`` is "country" or the organisation's kind (intergovernmental, armed_group, court,
    other). ``country`` is the state the actor belongs to: the code itself for a country, the base
    country for an organisation that has one (HAMAS -> PS), else None. ``region`` is the country's
    region, or that of the organisation's country, else None.
    """

    code: str
    name: str
    region: str | None
    kind: str
    country: str | None


class Gazetteer:
    """Countries and organisations, and the matcher that finds them in text."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        regions = {entry.code: entry.region for entry in entries if entry.kind == "country"}
        self._actors = {
            entry.code: Actor(
                entry.code, entry.name, regions.get(entry.country or ""), entry.kind, entry.country
            )
            for entry in entries
        }
        self._matcher = Matcher(entries)

    @classmethod
    def load(cls, path: Path | str) -> Gazetteer:
        """Read a gazetteer file; :class:`GazetteerError` names the file and each bad entry."""
        return cls(load_entries(Path(path)))

    def find(self, text: str) -> tuple[ActorMention, ...]:
        """Every mention in text order; mentions never overlap and the longest surface wins."""
        return tuple(self._matcher.find(text))

    def actors(self, text: str) -> tuple[str, ...]:
        """Distinct actor codes in order of first mention (organisations stay themselves)."""
        return tuple(dict.fromkeys(mention.code for mention in self.find(text)))

    def actor(self, code: str) -> Actor:
        """The actor with this code; KeyError if there is none."""
        try:
            return self._actors[code]
        except KeyError:
            raise KeyError(f"unknown actor code {code!r}") from None

    def region(self, code: str) -> str | None:
        """The actor's region (an organisation's country's region); None if none or unknown."""
        actor = self._actors.get(code)
        return actor.region if actor else None

    def name(self, code: str) -> str:
        """The actor's display name; an unknown code is returned as it is."""
        actor = self._actors.get(code)
        return actor.name if actor else code

    def codes(self) -> tuple[str, ...]:
        """Every code, countries first, in file order."""
        return tuple(self._actors)

    @property
    def surface_count(self) -> int:
        """How many distinct surfaces (spelling variants included) the matcher knows."""
        return self._matcher.surface_count

    def __contains__(self, code: object) -> bool:
        return code in self._actors

    def __len__(self) -> int:
        return len(self._actors)


def dyads(actors: Sequence[str]) -> tuple[str, ...]:
    """Unordered actor pairs as "AA-BB" (codes sorted within and across pairs), at most 10.

    Pairs are taken among the earliest actors first, so when there are more than five distinct
    actors the pairs of the first-mentioned ones are the ones kept. Repeats are ignored.
    """
    distinct = list(dict.fromkeys(actors))
    pairs: list[str] = []
    for index, later in enumerate(distinct):
        for earlier in distinct[:index]:
            if len(pairs) == MAX_DYADS:
                return tuple(sorted(pairs))
            pairs.append("-".join(sorted((earlier, later))))
    return tuple(sorted(pairs))


def default_gazetteer_path() -> Path:
    """config/actors.yaml in the nearest directory above this module, else packaged data.

    Packaged data is tensiond/data/actors.yaml, for installs without the source tree.
    """
    here = Path(__file__).resolve()
    for directory in here.parents:
        candidate = directory / _RELATIVE
        if candidate.is_file():
            return candidate
    packaged = here.parents[1] / "data" / "actors.yaml"
    if packaged.is_file():
        return packaged
    raise FileNotFoundError(f"no {_RELATIVE} above {here.parent} and no {packaged}")
