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

# Words that place a story in a field far from geopolitics, and words that place it back. A story
# with the first and none of the second is damped (``scoring.off_topic_factor``): the cricket
# "missile", the video game's "cruise missile", the earthquake's death toll, the crewed launch.
# Only words with no common security sense are listed: not "storm", "flood", "final", "probe",
# "magnitude" (a nuclear test is measured by it), "actor" (state actors), "heavyweight",
# "boxer" (an armoured vehicle), "batter" or "eruption" (of violence).
OFF_TOPIC: dict[str, re.Pattern[str]] = {
    domain: re.compile(rf"\b({pattern})\b", re.IGNORECASE)
    for domain, pattern in {
        "sports": r"wickets?|innings|yorker|batsman|bowler|goalkeeper|midfielder|"
        r"penalty shoot-?out|grand prix|formula one|playoffs?|olympics?|olympian|medall?ists?|"
        r"rugby|cricket|tennis|football|soccer|NBA|NFL|FIFA|UEFA|Wimbledon|title fight|"
        r"knockout win|boxing|sprinter",
        "games and film": r"video ?games?|gamers?|game update|killstreak|PlayStation|Xbox|"
        r"Nintendo|Call of Duty|esports|box office|blockbuster|Netflix|film sequel|"
        r"actress|re-?enact\w*",
        "natural hazards": r"earthquakes?|quake|aftershocks?|tsunami|cyclone|hurricane|"
        r"landslides?|mudslides?|wildfires?|bushfires?|volcano(es)?|volcanic eruption|heatwave",
        "spaceflight": r"astronauts?|cosmonauts?|spacewalk|crewed (mission|flight|capsule)|"
        r"space station|SpaceX|Rocket Lab|Blue Origin|Starship|Falcon 9|NASA|Axiom|"
        r"space tourism|telescope|asteroid|comet|meteor shower|meteorite|fireball|UFO|"
        r"(on|to|orbit|orbits|orbiting) Mars|Mars (orbit|rover|mission|probe)|lunar|Moon landing|"
        r"(weather|communications|navigation|broadband|earth-observation) satellites?|"
        r"private rocket|commercial (launch|rocket)|space agency|spaceport",
        # Power plants are targets in wars, and space launchers cousins of missiles: damped only
        # without a word of attack, or of a military launcher (see _UNLESS).
        "energy": r"nuclear (power|plant|energy|reactor)s?|power (plant|station)s?|reactors?",
        "markets": r"stock exchange|share price|shareholders?|earnings|price war|IPO",
    }.items()
}
_SECURITY = re.compile(
    r"\b(army|armed forces|military|troops|soldiers|militants?|rebels?|insurgents?|militias?|"
    r"jihadists?|air ?strikes?|drone strikes?|shelling|artillery|ICBM|ballistic|"
    r"nuclear(?! (power|plant|energy|reactor))|anti-satellite|ASAT|direct-ascent|"
    r"artificial (earthquake|quake|tremor)|"
    r"warheads?|sanction\w*|embargo\w*|warships?|navy|naval|gunmen|bomb(s|ing|ings|ed)?|"
    r"suicide|terror\w*|ceasefire|hostages?|coup|Hamas|Hezbollah|Houthis?|IDF|Taliban|ISIS|"
    r"Islamic State|al[- ]Shabaab|Boko Haram|Wagner|junta|rocket fire|spy satellites?|"
    r"reconnaissance|IRGC|Revolutionary Guards?|North Korea\w*|Pyongyang|KCNA|"
    r"protesters|riot\w*)\b",
    re.IGNORECASE,
)


_ATTACKED = re.compile(
    r"\b(struck|drones?|missiles?|shell\w*|attack\w*|barrage|hit|hits|seiz\w*|"
    r"imports?|occupied)\b",
    re.IGNORECASE,
)
# Space launches double as missile tests where the launcher is a missile's cousin.
_MILITARY_LAUNCH = re.compile(
    r"\b(missiles?|Simorgh|Safir|Qaem|Zuljanah|Qased|Imam Khomeini|Sohae|Chollima|Unha)\b",
    re.IGNORECASE,
)
_UNLESS = {"energy": _ATTACKED, "spaceflight": _MILITARY_LAUNCH}


def off_topic(text: str) -> str | None:
    """The far-from-geopolitics field ``text`` is in ("sports: cricket"), unless it also speaks
    of armed forces, weapons, sanctions or unrest; None when it is not off topic."""
    if _SECURITY.search(text):
        return None
    for domain, pattern in OFF_TOPIC.items():
        found = pattern.search(text)
        unless = _UNLESS.get(domain)
        if found and not (unless and unless.search(text)):
            return f"{domain}: {found.group(0)}"
    return None


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
