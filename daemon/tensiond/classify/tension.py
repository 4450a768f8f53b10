"""Tension 0..100 from what the model read. Pure: no model, no I/O.

    expected  = sum over labels of P(label) x severity(label)
    intensity = intensity_bonus x cues (nuclear, casualties, escalation words, 0..1)
                x (1 - P(other) - P(cooperation))
    modality  = sum over modalities of P(modality) x factor(modality)
    actors    = the largest actor weight among the item's actors (1.0 when none is set)
    off_topic = off_topic_factor when the text is about sports, games and film, natural hazards,
                spaceflight or markets and names no armed force, weapon, sanction or unrest
                (see ``cues.off_topic``), else 1.0
    tension   = clamp(round((expected + intensity) x modality x actors x off_topic), 0, 100)

Severities, modality factors, the intensity bonus and actor weights come from ``scoring`` in YAML.
Using the *expected* severity keeps an unsure verdict unsure: a story the model splits between
``other`` and ``armed_conflict`` lands in the middle of the scale, not at the top.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tensiond.classify.cues import Intensity
from tensiond.config.schema import ScoringSettings


def expected_severity(probabilities: Mapping[str, float], scoring: ScoringSettings) -> float:
    return sum(p * scoring.severities.get(label, 0.0) for label, p in probabilities.items())


def modality_factor(modalities: Mapping[str, float], scoring: ScoringSettings) -> float:
    total = sum(modalities.values())
    if total <= 0:
        return 1.0
    weighted = sum(p * scoring.modality_factors.get(m, 1.0) for m, p in modalities.items())
    return weighted / total


def actor_weight(actors: Sequence[str], scoring: ScoringSettings) -> float:
    weights = [scoring.actor_weights[actor] for actor in actors if actor in scoring.actor_weights]
    return max(weights) if weights else 1.0


def tension(
    probabilities: Mapping[str, float],
    modalities: Mapping[str, float],
    cues: Intensity,
    actors: Sequence[str],
    scoring: ScoringSettings,
    off_topic: bool = False,
) -> int:
    """The tension an item signals, 0..100 (see the module docstring for the formula)."""
    calm = probabilities.get("other", 0.0) + probabilities.get("cooperation", 0.0)
    intensity = scoring.intensity_bonus * cues.score * max(0.0, 1.0 - calm)
    value = expected_severity(probabilities, scoring) + intensity
    value *= modality_factor(modalities, scoring) * actor_weight(actors, scoring)
    if off_topic:
        value *= scoring.off_topic_factor
    return max(0, min(100, round(value)))
