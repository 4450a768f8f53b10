"""Finding gazetteer surfaces in text: one trie-shaped regex, leftmost-longest, plus context rules.

Surfaces are matched case-sensitively on word boundaries. A run of ALL CAPS words (a shouted
headline) is matched against the upper-cased surfaces instead. Phrases listed under ``not:``
are in the same regex and swallow the text they cover, so "Michael Jordan" never yields JO.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum

from tensiond.classify.gazetteer_schema import Entry, Rule

WINDOW = 200
"""Characters on each side of a mention searched for ``unless_near`` and ``switch`` cues."""
_SHOUTED_WORDS = 3

_FOLD = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ı": "i"})
_LETTERS = re.compile(r"[^\W\d_]+")
_SPACE = re.compile(r"\s")
_PREV_WORD = re.compile(r"(\w[\w'’-]*)[ \t]+\Z")
_NEXT_WORD = re.compile(r"[ \t]+(\w[\w'’-]*)")
_BREAK = re.compile(r"[.!?;:|]\s|\s[-–—]\s")
_LONG_WORD = re.compile(r"[^\W\d_]{4,}")
_TITLE_LOWER_TEXT = "with from into over than that amid upon onto near after says"
_TITLE_LOWER = frozenset(_TITLE_LOWER_TEXT.split())
# Capitalised words that, next to an ambiguous surface, do not make it part of a person's name.
_NOT_NAME_TEXT = """
    A An The In On At Of For From To With By And Or But Nor As After Before Since While When Where
    Why How What Who Which That This These Those Says Said Is Are Was Were Will Would Could
    Should Can May Might Has Have Had Not No Yes Both Also Only Even Neighbouring Neighboring Across
    Inside Outside Over Under Near Into Against Between Via Per Like Unlike Amid Despite During
    Through Toward Towards Without Within Including Besides Than Then Now Today Tonight Yesterday
    Tomorrow Again If Unless Until Whether So Yet Just Here There Its It Their They We He She Our
    President King Queen Prince Princess Emir Sheikh Sultan Crown Minister Premier Chancellor
    Ambassador Envoy Foreign Defence Defense General Gen Army Military Armed Forces Navy Government
    Parliament Regime Officials Official Leader Leaders State States Republic Kingdom Embassy
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April June July
    August September October November December North South East West Northern Southern Eastern
    Western Central Lake River Valley Mount Gulf Sea Basin Red Dead Breaking Update Exclusive
    Analysis Opinion Live Watch Explainer Factbox Mr Mrs Ms Miss Dr Sir Lord Lady Dame Madam
    Senator Sen Rep Congressman Congresswoman Governor Gov Mayor Speaker Secretary Chairman Chair
    Spokesman Spokeswoman Spokesperson Deputy Vice Former Ex Acting Interim Supreme Ayatollah
    Imam Cardinal Pope Marshal Field Admiral Colonel Commander Captain Lieutenant Chief Judge
    Justice Prosecutor Tsar Dictator Strongman Hardliner Rebel Warlord Militia"""
_NOT_NAMES = frozenset(_NOT_NAME_TEXT.split())


class Verdict(Enum):
    """What the context rules made of one candidate mention."""

    KEEP = "keep"
    DROP = "drop"
    SOFT = "soft"  # dropped by a cue, restored if the actor is named unambiguously elsewhere


@dataclass(frozen=True)
class Target:
    """What a matched surface means; ``code`` None marks a blocking phrase.

    ``surname`` marks a one-word leader name ("Putin"): a first name directly before it means
    somebody else ("Oscar Pistorius").
    """

    code: str | None
    rule: Rule | None = None
    surname: bool = False


@dataclass(frozen=True)
class ActorMention:
    """One mention of an actor: its code, where it is in the text, and the text as written."""

    code: str
    start: int
    end: int
    surface: str


BLOCK = Target(None)


def variants(surface: str) -> set[str]:
    """The surface, its ASCII-folded spelling and its curly-apostrophe spelling."""
    folded = unicodedata.normalize("NFKD", surface.translate(_FOLD))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    both = {surface, unicodedata.normalize("NFC", surface), folded}
    return both | {s.replace("'", "’") for s in both}


def trie_pattern(words: Iterable[str]) -> str:
    """A regex alternation of ``words`` shaped as a trie; greedy, so the longest word wins."""
    root: dict[str, dict] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _emit(root)


def _emit(node: Mapping[str, dict]) -> str:
    branches = [re.escape(char) + _emit(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body


def compile_words(words: Iterable[str]) -> re.Pattern[str]:
    """One compiled regex for ``words`` on word boundaries (letters, digits, underscore)."""
    return re.compile(rf"(?<!\w)(?:{trie_pattern(words)})(?!\w)")


def caps_segments(text: str) -> Iterator[tuple[int, int, bool]]:
    """(start, end, shouted) spans covering ``text``; shouted spans are runs of ALL CAPS words."""
    position = 0
    for start, end in _caps_runs(text):
        start = max(position, max(text.rfind(c, 0, start) for c in " \t\n") + 1)
        space = _SPACE.search(text, end)
        end = space.start() if space else len(text)
        if start > position:
            yield position, start, False
        yield start, end, True
        position = end
    if position < len(text):
        yield position, len(text), False


def _caps_runs(text: str) -> Iterator[tuple[int, int]]:
    """Runs of upper-case words with three words of two letters or more (or all of the text)."""
    least = 1 if text.upper() == text else _SHOUTED_WORDS
    start: int | None = None
    end = words = 0
    for match in _LETTERS.finditer(text):
        token = match.group()
        if token.isupper():
            start = match.start() if start is None else start
            end, words = match.end(), words + (len(token) >= 2)
            continue
        if start is not None and words >= least:
            yield start, end
        start, words = None, 0
    if start is not None and words >= least:
        yield start, end


class Matcher:
    """Finds mentions of gazetteer entries in text."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        entries = tuple(entries)
        self._mixed = _mixed_table(entries)
        self._upper = _upper_table(self._mixed)
        self._mixed_re = compile_words(self._mixed)
        self._upper_re = compile_words(self._upper)
        self._single_words = frozenset(s for s, t in self._mixed.items() if t.code and " " not in s)
        self._cues = {rule: _cue_patterns(rule) for entry in entries for rule in entry.rules}

    @property
    def surface_count(self) -> int:
        """Distinct surfaces matched in mixed-case text, spelling variants included."""
        return sum(1 for target in self._mixed.values() if target.code is not None)

    def find(self, text: str) -> list[ActorMention]:
        """Accepted mentions in text order, non-overlapping."""
        judged: list[tuple[ActorMention, Verdict]] = []
        for start, end, shouted in caps_segments(text):
            regex, table = (
                (self._upper_re, self._upper) if shouted else (self._mixed_re, self._mixed)
            )
            for match in regex.finditer(text, start, end):
                target = table[match.group()]
                if target.code is None:
                    continue
                code, verdict = self._judge(text, match.start(), match.end(), target, shouted)
                judged.append(
                    (ActorMention(code, match.start(), match.end(), match.group()), verdict)
                )
        solid = {hit.code for hit, verdict in judged if verdict is Verdict.KEEP}
        return [
            hit
            for hit, verdict in judged
            if verdict is Verdict.KEEP or (verdict is Verdict.SOFT and hit.code in solid)
        ]

    def _judge(
        self, text: str, start: int, end: int, target: Target, shouted: bool
    ) -> tuple[str, Verdict]:
        code, rule = str(target.code), target.rule
        if target.surname and not shouted and self._after_name(text, start):
            return code, Verdict.DROP
        if rule is None:
            return code, Verdict.KEEP
        if rule.person and not shouted and self._next_to_name(text, start, end):
            return code, Verdict.DROP
        switch, unless = self._cues[rule]
        if switch is not None and rule.switch_to and _near(switch, text, start, end):
            return rule.switch_to, Verdict.KEEP
        if unless is not None and _near(unless, text, start, end):
            return code, Verdict.SOFT
        return code, Verdict.KEEP

    def _next_to_name(self, text: str, start: int, end: int) -> bool:
        """A capitalised, name-like word directly before (or, outside Title Case, after)."""
        if self._after_name(text, start):
            return True
        after = _NEXT_WORD.match(text, end)
        if after is None or _title_case(text, start, end):
            return False
        return self._name_like(after.group(1))

    def _after_name(self, text: str, start: int) -> bool:
        before = _PREV_WORD.search(text, max(0, start - 40), start)
        return before is not None and self._name_like(before.group(1))

    def _name_like(self, word: str) -> bool:
        """Capitalised, not an acronym, possessive, title, function word or known surface."""
        if word.endswith(("'s", "’s", "'", "’")):
            return False
        return (
            word[0].isupper()
            and not word.isupper()
            and word.split("-")[-1] not in _NOT_NAMES
            and word not in self._single_words
        )


def _mixed_table(entries: tuple[Entry, ...]) -> dict[str, Target]:
    """Surface -> target: explicit surfaces first, then spelling variants, then blockers."""
    explicit: dict[str, Target] = {}
    for entry in entries:
        rules = {rule.surface: rule for rule in entry.rules}
        for surface in entry.surfaces:
            surname = surface in entry.leaders and " " not in surface and not surface.isupper()
            explicit[surface] = Target(entry.code, rules.get(surface), surname)
    table = dict(explicit)
    for surface, target in explicit.items():
        for variant in variants(surface):
            table.setdefault(variant, target)
    for phrase in (p for entry in entries for rule in entry.rules for p in rule.blockers):
        for variant in variants(phrase):
            table.setdefault(variant, BLOCK)
    return table


def _upper_table(mixed: Mapping[str, Target]) -> dict[str, Target]:
    """Upper-cased surfaces for shouted text; a spelling that two actors share is dropped."""
    table: dict[str, Target] = {}
    clashes: set[str] = set()
    for surface, target in mixed.items():
        if target.rule is not None and not target.rule.headline:
            continue
        key = surface.upper()
        if table.setdefault(key, target).code != target.code:
            clashes.add(key)
    return {key: target for key, target in table.items() if key not in clashes}


def _cue_patterns(rule: Rule) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    def cues(words: tuple[str, ...]) -> re.Pattern[str] | None:
        return compile_words({w for word in words for w in (word, word.upper())}) if words else None

    return cues(rule.switch_near), cues(rule.unless_near)


def _near(cues: re.Pattern[str], text: str, start: int, end: int) -> bool:
    return cues.search(text, max(0, start - WINDOW), min(len(text), end + WINDOW)) is not None


def _title_case(text: str, start: int, end: int) -> bool:
    """Whether the sentence around [start, end) is written in Headline Title Case."""
    left = max((m.end() for m in _BREAK.finditer(text, 0, start)), default=0)
    right_break = _BREAK.search(text, end)
    right = right_break.start() if right_break else len(text)
    words = _LONG_WORD.findall(text, left, right)
    lower = [w for w in words if w.islower() and w not in _TITLE_LOWER]
    return len(words) >= 4 and not lower
