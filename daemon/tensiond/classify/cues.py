"""Lexical cues: the words that explain a verdict and the facts that raise its intensity.

The model decides the label; these cues only explain it (``why``) and adjust the tension by facts
the label does not carry: nuclear weapons, casualties, numbers of troops, words of escalation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER_WORDS = {
    "dozens": 24,
    "scores": 40,
    "hundreds": 200,
    "thousands": 2000,
    "tens of thousands": 20000,
}
_WORD_NUMBERS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "a hundred": 100,
}  # fmt: skip

_CASUALTY = re.compile(
    r"(?P<count>\d[\d,]*|tens of thousands|dozens|scores|hundreds|thousands|"
    + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True))
    + r")\s+(?:\w+\s+){0,3}?"
    r"(?:killed|dead|die[ds]?|deaths|fatalities|casualties|wounded|injured|soldiers|civilians|"
    r"people were killed|troops)",
    re.IGNORECASE,
)
_NUCLEAR = re.compile(r"\b(nuclear|atomic|thermonuclear|hydrogen bomb|ICBM|warheads?)\b", re.I)
_ESCALATION = re.compile(
    r"\b(war|invasion|invades?|invaded|offensive|escalat\w*|all-out|massive|largest|"
    r"unprecedented|full-scale|declares? war|state of emergency|martial law|mobili[sz]ation)\b",
    re.IGNORECASE,
)

LABEL_CUES: dict[str, re.Pattern[str]] = {
    label: re.compile(pattern, re.IGNORECASE)
    for label, pattern in {
        "weapons_test": r"\b(test[- ]?fir\w*|tests?|launch\w*|fires?d?|ballistic|missiles?|"
        r"ICBM|hypersonic|rocket|nuclear test)\b",
        "armed_conflict": r"\b(strikes?|struck|shell\w*|bomb\w*|attack\w*|clash\w*|kill\w*|"
        r"ambush\w*|shot down|shoots? down|fighting|raid\w*|drone|artillery|gunmen|fire)\b",
        "military_posture": r"\b(troops?|drills?|exercises?|deploy\w*|mobili[sz]\w*|warships?|"
        r"carrier|bombers?|build-?up|alert|jets|patrol\w*|reinforce\w*)\b",
        "threat": r"\b(threat\w*|warns?|warned|vows?|ultimatum|retaliat\w*|consequences|"
        r"red lines?|will respond)\b",
        "coercion": r"\b(sanction\w*|embargo\w*|expel\w*|export controls?|bans?|banned|"
        r"seiz\w*|freez\w*|blacklist\w*|tariffs?|detain\w*|closes? border)\b",
        "diplomatic_dispute": r"\b(accus\w*|condemn\w*|summon\w*|protest\w*|rejects?|"
        r"denounc\w*|slams?|demands?|claims?|recall\w*)\b",
        "cooperation": r"\b(talks|summit|agree\w*|deal|ceasefire|truce|visit\w*|aid|"
        r"cooperat\w*|release\w*|withdraw\w*|meet\w*|treaty|accord)\b",
        "unrest": r"\b(protest\w*|riot\w*|demonstrat\w*|coup|tear gas|crackdown|unrest|"
        r"curfew|marched?|rally|rallies)\b",
    }.items()
}

MODALITY_CUES: dict[str, re.Pattern[str]] = {
    "historical": re.compile(
        r"\b(anniversary|years? (?:ago|after|since)|on this day|remember\w*|commemorat\w*|"
        r"retrospective|memorial|in \d{4},|decades? (?:ago|after))\b",
        re.IGNORECASE,
    ),
    "hypothetical": re.compile(
        r"\b(could|might|may|would|if|scenario|war[- ]?game\w*|fears? (?:of|that)|"
        r"risk of|possible|weighs?|consider\w*)\b",
        re.IGNORECASE,
    ),
    "negated": re.compile(
        r"\b(denies|denied|deny|no (?:missile|launch|plans?)|rules? out|ruled out|false|"
        r"did not|didn't|never)\b",
        re.IGNORECASE,
    ),
    "threatened": re.compile(r"\b(threat\w*|warns?|vows?|ultimatum|will respond)\b", re.I),
}


@dataclass(frozen=True)
class Intensity:
    """Facts in the text that raise tension, each scored 0..1, with their words."""

    nuclear: bool
    casualties: int
    escalation: tuple[str, ...]
    words: tuple[str, ...]

    @property
    def score(self) -> float:
        """0..1: nuclear counts most, then casualties (log-scaled), then escalation words."""
        value = 0.5 if self.nuclear else 0.0
        if self.casualties:
            value += min(0.5, 0.12 * len(str(self.casualties)))
        value += min(0.3, 0.15 * len(self.escalation))
        return min(1.0, value)


def _count(token: str) -> int:
    lowered = token.lower()
    if lowered in _NUMBER_WORDS:
        return _NUMBER_WORDS[lowered]
    if lowered in _WORD_NUMBERS:
        return _WORD_NUMBERS[lowered]
    digits = lowered.replace(",", "")
    return int(digits) if digits.isdigit() and len(digits) < 9 else 0


def intensity(text: str) -> Intensity:
    """Find the intensity cues in ``text``."""
    words: list[str] = []
    nuclear = _NUCLEAR.search(text)
    if nuclear:
        words.append(nuclear.group(0))
    casualties = 0
    for match in _CASUALTY.finditer(text):
        count = _count(match.group("count"))
        if count > casualties:
            casualties = count
            words.append(match.group(0))
    escalation = tuple(dict.fromkeys(m.group(0).lower() for m in _ESCALATION.finditer(text)))
    words.extend(escalation)
    return Intensity(bool(nuclear), casualties, escalation, tuple(words))


def label_words(label: str, text: str, limit: int = 4) -> tuple[str, ...]:
    """The words in ``text`` typical of ``label`` (for explanations only)."""
    pattern = LABEL_CUES.get(label)
    if pattern is None:
        return ()
    found = dict.fromkeys(match.group(0) for match in pattern.finditer(text))
    return tuple(found)[:limit]


def modality_words(modality: str, text: str) -> tuple[str, ...]:
    pattern = MODALITY_CUES.get(modality)
    if pattern is None:
        return ()
    return tuple(dict.fromkeys(match.group(0) for match in pattern.finditer(text)))[:3]
