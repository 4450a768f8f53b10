"""Explanations for people: which words drove a verdict, by occlusion.

Each word is left out in turn and the text re-encoded (one batch); the words whose absence lowers
the chosen label's probability most are the ones that drove it. Used by ``tensiond score``; the
daemon's alerts use the cheaper cue words in ``why``.
"""

from __future__ import annotations

import re

from tensiond.classify.model import Classifier, Story
from tensiond.classify.text import prepare
from tensiond.types import Classification

_WORD = re.compile(r"\S+")


def driving_words(
    classifier: Classifier, text: str, label: str, top: int = 5
) -> list[tuple[str, float]]:
    """Words of ``text`` ranked by how much leaving each out lowers P(label)."""
    words = _WORD.findall(text)[:80]
    if len(words) < 2:
        return []
    variants = [" ".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
    base = classifier.classify([Story("base", text)])[0].probabilities[label]
    verdicts = classifier.classify([Story(str(i), v) for i, v in enumerate(variants)])
    drops = [(words[i], base - verdict.probabilities[label]) for i, verdict in enumerate(verdicts)]
    ranked = sorted(drops, key=lambda pair: pair[1], reverse=True)
    return [(word.strip(".,;:!?\"'()"), drop) for word, drop in ranked[:top] if drop > 0.01]


def explain_text(classifier: Classifier, raw: str) -> str:
    """A readable verdict for one headline or lede."""
    text = prepare(raw)
    verdict: Classification = classifier.classify([Story("score", text)])[0]
    named = ", ".join(f"{classifier.gazetteer.name(a)} ({a})" for a in verdict.actors)
    lines = [
        text,
        "",
        f"  label     {verdict.label}  ({verdict.probabilities[verdict.label]:.0%})",
        f"  tension   {verdict.tension}/100",
        f"  modality  {verdict.modality}",
        f"  actors    {named or '-'}",
    ]
    if verdict.dyads:
        lines.append(f"  dyads     {', '.join(verdict.dyads)}")
    ranked = sorted(verdict.probabilities.items(), key=lambda pair: pair[1], reverse=True)[:3]
    lines.append("  top       " + ", ".join(f"{name} {p:.0%}" for name, p in ranked))
    words = driving_words(classifier, text, verdict.label)
    if words:
        lines.append("  driven by " + ", ".join(f"'{w}' (-{d:.0%})" for w, d in words))
    lines.append("  why       " + "; ".join(verdict.why))
    return "\n".join(lines)
