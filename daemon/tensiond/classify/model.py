"""The classifier: encoder + trained head + gazetteer + tension, batch in, verdicts out."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tensiond.classify.actors import Gazetteer, default_gazetteer_path, dyads
from tensiond.classify.cues import intensity, label_words, modality_words, off_topic
from tensiond.classify.encoder import Encoder, resolve_encoder
from tensiond.classify.head import Head, default_head_path
from tensiond.classify.tension import tension
from tensiond.config.schema import ScoringSettings, Settings
from tensiond.types import LABELS, MODALITIES, Classification


@dataclass(frozen=True)
class Story:
    """What to classify: an id and the prepared text."""

    id: str
    text: str


def _resolve(configured: str, base_dir: Path, default: Path) -> Path:
    if not configured:
        return default
    path = Path(configured).expanduser()
    return path if path.is_absolute() else base_dir / path


class Classifier:
    """Reads stories and says what they report and how tense it is."""

    def __init__(
        self,
        encoder: Encoder,
        head: Head,
        gazetteer: Gazetteer,
        scoring: ScoringSettings,
        batch_size: int = 32,
        story_encoder: Encoder | None = None,
        quantize: str = "feed_forward",
    ) -> None:
        self.encoder = encoder
        self.story_encoder = story_encoder
        self._quantize = quantize
        self._story_lock = threading.Lock()
        self.head = head
        self.gazetteer = gazetteer
        self.scoring = scoring
        self.batch_size = batch_size

    @classmethod
    def load(cls, settings: Settings) -> Classifier:
        """Load everything the settings name, from local files only."""
        encoder = Encoder(
            resolve_encoder(settings.model.encoder, settings.base_dir),
            max_length=settings.model.max_length,
            threads=settings.model.threads,
        )
        head = Head.load(_resolve(settings.model.head, settings.base_dir, default_head_path()))
        if head.adapter:
            encoder.apply_adapter(head.adapter, head.adapter_scale)
        encoder.quantize(settings.model.quantize)
        actors = _resolve(settings.actors, settings.base_dir, default_gazetteer_path())
        return cls(
            encoder,
            head,
            Gazetteer.load(actors),
            settings.scoring,
            settings.model.batch_size,
            quantize=settings.model.quantize,
        )

    @property
    def version(self) -> str:
        return self.head.version

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode(texts, self.batch_size)

    def story_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence vectors that tell one story from another (for clustering into events): the
        base encoder's, since the tuned one draws stories of the same kind together."""
        return self._story_encoder().encode(texts, self.batch_size)

    def _story_encoder(self) -> Encoder:
        """The base encoder, loaded on first use: ``classify`` never needs it, and the daemon
        reports ready without waiting for it (about a second and 60 MB)."""
        if not self.head.adapter:
            return self.encoder  # no adapter: the classifier's encoder is the base one
        with self._story_lock:
            if self.story_encoder is None:
                story = Encoder(self.encoder.path, max_length=self.encoder.max_length)
                story.quantize(self._quantize)
                self.story_encoder = story
            return self.story_encoder

    def classify(self, stories: Sequence[Story]) -> list[Classification]:
        """Classify a batch; the output is in the input's order."""
        if not stories:
            return []
        embeddings = self.embed([story.text for story in stories])
        return self.classify_embedded(stories, embeddings)

    def classify_embedded(
        self, stories: Sequence[Story], embeddings: np.ndarray
    ) -> list[Classification]:
        labels = self.head.tasks["label"].probabilities(embeddings)
        modalities = self.head.tasks["modality"].probabilities(embeddings)
        label_names = self.head.tasks["label"].names
        modality_names = self.head.tasks["modality"].names
        return [
            self._verdict(
                story,
                dict(zip(label_names, map(float, label_row), strict=True)),
                dict(zip(modality_names, map(float, modality_row), strict=True)),
            )
            for story, label_row, modality_row in zip(stories, labels, modalities, strict=True)
        ]

    def _verdict(
        self, story: Story, probabilities: dict[str, float], modalities: dict[str, float]
    ) -> Classification:
        label = max(probabilities, key=probabilities.__getitem__)
        modality = max(modalities, key=modalities.__getitem__)
        actors = self.gazetteer.actors(story.text)
        cues = intensity(story.text)
        field = off_topic(story.text)
        score = tension(probabilities, modalities, cues, actors, self.scoring, field is not None)
        why = [f"{label} {probabilities[label]:.0%}"]
        words = label_words(label, story.text)
        if words and label != "other":
            why.append("words: " + ", ".join(words))
        if cues.words and label != "other":
            why.append("intensity: " + ", ".join(cues.words[:4]))
        if modality != "actual":
            said = modality_words(modality, story.text)
            why.append(f"{modality}" + (": " + ", ".join(said) if said else ""))
        if field is not None and label != "other":
            why.append(f"damped, off topic ({field})")
        return Classification(
            item_id=story.id,
            label=label,
            probabilities={name: round(probabilities.get(name, 0.0), 4) for name in LABELS},
            tension=score,
            actors=actors,
            dyads=dyads(actors),
            modality=modality if modality in MODALITIES else "actual",
            why=tuple(why),
            model_version=self.version,
        )
