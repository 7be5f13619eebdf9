"""Fitting the sentence scorer: oracle labels, logistic regression, hyper-parameters by CV.

Used by bench/fit_scorer.py (the shipped weights) and by `nutgraf eval --folds` (a scorer per
fold, fitted on the other folds only). Logistic regression is a dozen lines of Newton's
method here rather than scikit-learn: 16 features and a few thousand sentences need nothing
more, and the package gains no dependency for it. Inference is in scorer.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt
from rouge_score import tokenizers

from nutgraf.contract import SENTENCE_RANGES, Length
from nutgraf.folds import fold_indices
from nutgraf.summarize.features import sentence_features
from nutgraf.summarize.scorer import Scorer, using
from nutgraf.summarize.textrank import candidate_spans, sentence_count

# The oracle stops adding sentences when none raises ROUGE-1 + ROUGE-2, or at this many
# (CNN/DailyMail references are three or four highlights).
ORACLE_MAX_SENTENCES = 4
# Searched by inner cross-validation on the training folds: L2 strength (on standardized
# features) and the lead floor's margin in log-odds (0: no floor; large: always lead-k).
L2_GRID = (0.1, 1.0, 10.0, 100.0)
MARGIN_GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
# The gate (Scorer.gate): no gate, or fewest/most words around the old ranker's 10-50.
GATE_GRID: tuple[tuple[int, int] | None, ...] = (
    None,
    (8, 50),
    (10, 50),
    (12, 50),
    (10, 40),
    (10, 60),
)
INNER_FOLDS = 4
# Tuned for the length the issue measures; the others share the weights and margin.
TUNED_LENGTH: Length = "medium"
# How many sentences that length takes: any count its contract allows (3 or 4). Chosen with
# the rest, by the same ROUGE-2, against references of the same kind as the training ones.
COUNT_GRID: tuple[int, ...] = tuple(
    range(SENTENCE_RANGES[TUNED_LENGTH][0], SENTENCE_RANGES[TUNED_LENGTH][1] + 1)
)
_NEWTON_STEPS = 50

Grams = tuple[Counter[str], Counter[tuple[str, str]]]


@dataclass(frozen=True)
class Example:
    """One training article: its candidate sentences' features, oracle labels and n-grams."""

    features: npt.NDArray[np.float64]
    labels: npt.NDArray[np.float64]
    grams: list[Grams]
    reference: Grams


_TOKENIZER = tokenizers.DefaultTokenizer(use_stemmer=True)


def grams(text: str) -> Grams:
    """Unigram and bigram counts, tokenized and stemmed as rouge-score does for ROUGE-1/2."""
    words = _TOKENIZER.tokenize(text)
    return Counter(words), Counter(pairwise(words))


def _f1(overlap: int, predicted: int, reference: int) -> float:
    if not overlap:
        return 0.0
    precision, recall = overlap / predicted, overlap / reference
    return 2 * precision * recall / (precision + recall)


def rouge12(chosen: Iterable[Grams], reference: Grams) -> tuple[float, float]:
    """ROUGE-1 and ROUGE-2 F1 (0-1) of sentences taken together (bigrams across the joins of
    sentences aside: a close, fast stand-in for rouge-score inside the fitting loops)."""
    unigrams: Counter[str] = Counter()
    bigrams: Counter[tuple[str, str]] = Counter()
    for one, two in chosen:
        unigrams.update(one)
        bigrams.update(two)
    r1 = _f1(sum((unigrams & reference[0]).values()), unigrams.total(), reference[0].total())
    r2 = _f1(sum((bigrams & reference[1]).values()), bigrams.total(), reference[1].total())
    return r1, r2


def oracle(sentence_grams: Sequence[Grams], reference: Grams) -> list[int]:
    """Greedy oracle: add the sentence that most raises ROUGE-1 + ROUGE-2, until none does."""
    chosen: list[int] = []
    best = 0.0
    while len(chosen) < ORACLE_MAX_SENTENCES:
        gains = [
            (sum(rouge12([sentence_grams[j] for j in [*chosen, i]], reference)), i)
            for i in range(len(sentence_grams))
            if i not in chosen
        ]
        if not gains:
            break
        score, index = max(gains, key=lambda pair: (pair[0], -pair[1]))
        if score <= best:
            break
        chosen.append(index)
        best = score
    return sorted(chosen)


def example(text: str, summary: str, title: str | None = None) -> Example:
    """An article and its reference made into features, oracle labels and n-grams."""
    spans = candidate_spans(text)
    sentence_grams = [grams(text[start:end]) for start, end in spans]
    reference = grams(summary)
    labels = np.zeros(len(spans))
    labels[oracle(sentence_grams, reference)] = 1.0
    return Example(sentence_features(text, spans, title), labels, sentence_grams, reference)


def fit_logistic(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], l2: float
) -> tuple[npt.NDArray[np.float64], float]:
    """Weights and bias of L2-penalized logistic regression (bias unpenalized), by Newton."""
    rows, columns = x.shape
    design = np.hstack([x, np.ones((rows, 1))])
    penalty = np.full(columns + 1, l2)
    penalty[-1] = 0.0
    theta = np.zeros(columns + 1)
    for _ in range(_NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        gradient = design.T @ (p - y) + penalty * theta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return theta[:-1], float(theta[-1])


def fit(examples: Sequence[Example], l2: float, margin: float) -> Scorer:
    """A scorer fitted on every sentence of `examples`, features standardized on them."""
    x = np.vstack([e.features for e in examples])
    y = np.concatenate([e.labels for e in examples])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    # A feature constant over the training set (the title's overlap with no titles) gets
    # weight 0 under the penalty; scale 1 keeps the division defined.
    scale[scale == 0] = 1.0
    weights, bias = fit_logistic((x - mean) / scale, y, l2)
    return Scorer(mean, scale, weights, bias, margin)


def selection_rouge2(scorer: Scorer, examples: Iterable[Example]) -> list[float]:
    """ROUGE-2 F1 of each example's top-k sentences by `scorer` (k: its medium_sentences,
    else SENTENCES_PER_LENGTH's for TUNED_LENGTH)."""
    wanted = sentence_count(TUNED_LENGTH, scorer)
    scores = []
    for item in examples:
        top = scorer.order(item.features, wanted)[:wanted]
        scores.append(rouge12([item.grams[i] for i in top], item.reference)[1])
    return scores


def tune(examples: Sequence[Example], folds: int = INNER_FOLDS) -> Scorer:
    """The scorer whose L2, lead margin, gate and sentence count did best on held-out inner
    folds, refitted on all of `examples`; `fitted` records the grid's inner-CV ROUGE-2."""
    Setting = tuple[float, float, tuple[int, int] | None, int]
    totals: dict[Setting, float] = dict.fromkeys(
        (
            (l2, m, g, n)
            for l2 in L2_GRID
            for m in MARGIN_GRID
            for g in GATE_GRID
            for n in COUNT_GRID
        ),
        0.0,
    )
    # A handful of articles (a test's) gets as many inner folds as it can split into.
    for held_out in fold_indices(len(examples), min(folds, len(examples))):
        inside = set(held_out)
        training = [e for i, e in enumerate(examples) if i not in inside]
        testing = [examples[i] for i in held_out]
        for l2 in L2_GRID:
            base = fit(training, l2, 0.0)
            for margin in MARGIN_GRID:
                for gate in GATE_GRID:
                    for count in COUNT_GRID:
                        scorer = Scorer(
                            base.mean, base.scale, base.weights, base.bias, margin, gate, count
                        )
                        totals[l2, margin, gate, count] += sum(selection_rouge2(scorer, testing))
    # Ties go to the larger margin, then the stronger penalty, then fewer sentences: the
    # choice nearer lead-3.
    l2, margin, gate, count = max(
        totals, key=lambda key: (round(totals[key], 9), key[1], key[0], -key[3])
    )
    chosen = fit(examples, l2, margin)
    fitted: dict[str, Any] = {
        "articles": len(examples),
        "sentences": int(sum(len(e.labels) for e in examples)),
        "oracle_sentences": int(sum(e.labels.sum() for e in examples)),
        "inner_folds": folds,
        "tuned_length": TUNED_LENGTH,
        "l2": l2,
        "inner_cv_rouge2": {
            f"l2={k[0]:g} margin={k[1]:g} gate={k[2]} sentences={k[3]}": round(
                100 * v / len(examples), 3
            )
            for k, v in totals.items()
        },
    }
    return Scorer(
        chosen.mean, chosen.scale, chosen.weights, chosen.bias, margin, gate, count, fitted
    )


class FoldFitter:
    """`nutgraf eval --folds`' fit: a tuned scorer per set of training records, each record
    made into an Example once across the folds (its oracle is the slow part), each set tuned
    once across lengths (`--length all` scores the same folds four times)."""

    def __init__(self) -> None:
        self._examples: dict[tuple[str, str, str | None], Example] = {}
        self._scorers: dict[tuple[tuple[str, str, str | None], ...], Scorer] = {}

    def examples(self, records: Iterable[Any]) -> list[Example]:
        """Examples of records with .text, .summary and .title (EvalRecord)."""
        made = []
        for record in records:
            key = (record.text, record.summary, record.title)
            if key not in self._examples:
                self._examples[key] = example(*key)
            made.append(self._examples[key])
        return made

    def __call__(self, records: Sequence[Any]) -> Any:
        """A context (scorer.using) under which the engine ranks with the fitted scorer."""
        key = tuple((r.text, r.summary, r.title) for r in records)
        if key not in self._scorers:
            self._scorers[key] = tune(self.examples(records))
        return using(self._scorers[key])
