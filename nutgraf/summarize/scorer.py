"""The learned sentence scorer: logistic regression over features.py, with a lead floor.

Inference is a dot product in numpy, no scikit-learn: the weights are a small JSON file
shipped in the package (scorer.json), made by bench/fit_scorer.py from training.py's
fit, whose hyper-parameters are chosen by cross-validation (docs/benchmarks.md, Quality).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from nutgraf.summarize.features import FEATURES

WEIGHTS_FILE = "scorer.json"
# Scores are rounded before sorting so that float noise never reorders near-ties; ties go
# to the earlier sentence.
_SCORE_DECIMALS = 9
_LOG_WORDS = FEATURES.index("log_words")
_QUESTION = FEATURES.index("question")
_PURE_QUOTE = FEATURES.index("pure_quote")


@dataclass(frozen=True)
class Scorer:
    """Standardized features times weights, plus a bonus for the lead (the floor)."""

    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    bias: float
    # Log-odds a later sentence must beat a lead sentence by to take its place: where the
    # scorer is unsure, lead-k (the baseline that is hard to beat on news) stands.
    lead_margin: float
    # (fewest, most) words of a sentence fit to stand as a summary sentence: one outside
    # them, a question or a bare quotation ranks after every other (captions, sound bites,
    # run-on lists). None: no such rule. Chosen by cross-validation with the margin.
    gate: tuple[int, int] | None = None
    # Sentences a medium summary takes, within the contract's 3-4, chosen by cross-validation
    # with the rest (training.py: the length the dev set's references are written at). None:
    # textrank.SENTENCES_PER_LENGTH's.
    medium_sentences: int | None = None
    fitted: dict[str, Any] | None = None  # how it was fitted: data, grid, choice

    def logits(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Log-odds that each sentence (row) is one an oracle summary would pick."""
        return ((features - self.mean) / self.scale) @ self.weights + self.bias

    def order(self, features: npt.NDArray[np.float64], lead: int) -> list[int]:
        """Row indexes best first; the first `lead` rows get the lead floor's margin."""
        scores = self.logits(features)
        scores[:lead] += self.lead_margin
        unfit = self.unfit(features)
        rounded = [round(float(s), _SCORE_DECIMALS) for s in scores]
        return sorted(range(len(rounded)), key=lambda i: (bool(unfit[i]), -rounded[i], i))

    def unfit(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Rows the gate puts last: outside its word range, questions, bare quotations."""
        if self.gate is None:
            return np.zeros(len(features), dtype=bool)
        words = np.rint(np.exp(features[:, _LOG_WORDS]))
        fewest, most = self.gate
        odd = (features[:, _QUESTION] > 0) | (features[:, _PURE_QUOTE] > 0)
        return np.asarray((words < fewest) | (words > most) | odd)

    def to_json(self) -> dict[str, Any]:
        """The weights file's content: named per feature, so a reader sees what counts."""
        return {
            "features": list(FEATURES),
            "mean": [float(x) for x in self.mean],
            "scale": [float(x) for x in self.scale],
            "weights": [float(x) for x in self.weights],
            "bias": float(self.bias),
            "lead_margin": float(self.lead_margin),
            "gate": None if self.gate is None else list(self.gate),
            "medium_sentences": self.medium_sentences,
            "fitted": self.fitted,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scorer:
        """A scorer from to_json's form; the feature names must be FEATURES, in order."""
        if list(data["features"]) != list(FEATURES):
            raise ValueError(f"scorer weights are for features {data['features']}, not {FEATURES}")
        return cls(
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
            lead_margin=float(data["lead_margin"]),
            gate=None if data.get("gate") is None else (int(data["gate"][0]), int(data["gate"][1])),
            medium_sentences=data.get("medium_sentences"),
            fitted=data.get("fitted"),
        )


@cache
def shipped_scorer() -> Scorer:
    """The scorer whose weights ship with the package (read once per process)."""
    text = resources.files("nutgraf.summarize").joinpath(WEIGHTS_FILE).read_text("utf-8")
    return Scorer.from_json(json.loads(text))


# Set by `nutgraf eval --folds`, which scores each fold with a scorer fitted on the others.
_override: ContextVar[Scorer | None] = ContextVar("nutgraf_scorer", default=None)


def active_scorer() -> Scorer:
    """The scorer in use: the shipped one unless `using` put another in place."""
    return _override.get() or shipped_scorer()


@contextmanager
def using(scorer: Scorer) -> Iterator[Scorer]:
    """Rank with `scorer` instead of the shipped one inside the block (cross-validation)."""
    token = _override.set(scorer)
    try:
        yield scorer
    finally:
        _override.reset(token)
