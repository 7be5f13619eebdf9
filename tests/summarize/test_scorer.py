"""nutgraf.summarize.scorer, features and training: the learned sentence scorer, no model.

Synthetic articles only: the dev set is what the scorer is fitted and measured on, never a
fixture.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from nutgraf.summarize.features import FEATURES, sentence_features
from nutgraf.summarize.scorer import WEIGHTS_FILE, Scorer, active_scorer, shipped_scorer, using
from nutgraf.summarize.textrank import (
    candidate_spans,
    extract,
    lead,
    ranked_sentences,
    sentence_count,
)
from nutgraf.summarize.training import (
    example,
    fit,
    fit_logistic,
    grams,
    oracle,
    rouge12,
    tune,
)

STORY = (
    "Heavy rain flooded the river valley on Monday, forcing thousands of families from homes.\n\n"
    "The river rose three meters overnight and flooded the main road into the valley town.\n\n"
    "Rescue teams used boats to reach families trapped by the flood in the valley villages.\n\n"
    "Officials said the flood was the worst in the valley since records began in 1901.\n\n"
    "Farmers in the valley lost crops and livestock to the rising river water this week.\n\n"
    "Will the river flood the valley homes again when more rain falls later this week?\n\n"
    "Insurers estimate the flood damage in the valley at several million dollars so far."
)
SUMMARY = (
    "Officials said the flood was the worst since records began. Farmers lost crops and "
    "livestock to the rising river."
)


def scorer_with(weights: dict[str, float], margin: float = 0.0, **kwargs: object) -> Scorer:
    """A scorer on raw (unscaled) features with the named weights, the rest zero."""
    vector = np.array([weights.get(name, 0.0) for name in FEATURES])
    zeros, ones = np.zeros(len(FEATURES)), np.ones(len(FEATURES))
    return Scorer(zeros, ones, vector, 0.0, margin, **kwargs)  # type: ignore[arg-type]


def test_features_are_one_row_per_candidate_in_feature_order() -> None:
    spans = candidate_spans(STORY)
    rows = sentence_features(STORY, spans, title="Valley flood")
    assert rows.shape == (len(spans), len(FEATURES))
    column = {name: rows[:, i] for i, name in enumerate(FEATURES)}
    assert column["first"].tolist() == [1.0] + [0.0] * (len(spans) - 1)
    assert column["position"][0] == 0.0 and column["position"][-1] == 1.0
    assert column["question"].tolist().index(1.0) == 5
    assert column["numbers"][3] > 0  # "1901"
    assert all(column["paragraph_start"] == 1.0)
    assert column["title_overlap"].max() > 0
    assert not sentence_features(STORY, spans)[:, FEATURES.index("title_overlap")].any()


def test_oracle_picks_the_sentences_the_reference_repeats_and_stops() -> None:
    spans = candidate_spans(STORY)
    sentence_grams = [grams(STORY[start:end]) for start, end in spans]
    chosen = oracle(sentence_grams, grams(SUMMARY))
    assert chosen == [3, 4]  # the two sentences the summary paraphrases, nothing more
    # Greedy: each added sentence raised ROUGE-1 + ROUGE-2.
    assert sum(rouge12([sentence_grams[i] for i in chosen], grams(SUMMARY))) > sum(
        rouge12([sentence_grams[3]], grams(SUMMARY))
    )
    made = example(STORY, SUMMARY)
    assert made.labels.tolist() == [0, 0, 0, 1, 1, 0, 0]


def test_logistic_regression_finds_the_informative_feature() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 1] > 0).astype(float)
    weights, _ = fit_logistic(x, y, l2=1.0)
    assert weights[1] > 2 * max(abs(weights[0]), abs(weights[2]))


def test_shipped_weights_load_and_rank_an_article() -> None:
    data = json.loads(resources.files("nutgraf.summarize").joinpath(WEIGHTS_FILE).read_text())
    assert data["features"] == list(FEATURES)
    scorer = shipped_scorer()
    assert scorer.weights.shape == (len(FEATURES),)
    assert scorer.fitted is not None and scorer.fitted["articles"] > 0
    spans = candidate_spans(STORY)
    order = scorer.order(sentence_features(STORY, spans), 3)
    assert sorted(order) == list(range(len(spans)))
    # The question is put last by the length-and-form gate the CV chose (when it chose one).
    if scorer.gate is not None:
        assert order[-1] == 5


def test_weights_for_other_features_are_refused() -> None:
    data = shipped_scorer().to_json()
    data["features"] = [*data["features"][1:], "first"]
    with pytest.raises(ValueError, match="features"):
        Scorer.from_json(data)


def test_lead_floor_keeps_the_lead_unless_the_scorer_is_sure() -> None:
    features = sentence_features(STORY, candidate_spans(STORY))
    # Prefers later sentences, by one log-odd per unit of position.
    later = {"position": 1.0}
    last = len(features) - 1
    assert scorer_with(later, margin=0.0).order(features, 3)[0] == last
    # The last sentence beats the best lead one by 2/3 of a log-odd: more than a margin of
    # 0.5, so it gets in; a margin of 5 is more than any gain, so lead-3 stays the top three.
    assert last in scorer_with(later, margin=0.5).order(features, 3)[:3]
    assert sorted(scorer_with(later, margin=5.0).order(features, 3)[:3]) == [0, 1, 2]


def test_exact_ties_go_to_the_earlier_sentence() -> None:
    features = np.zeros((4, len(FEATURES)))
    assert scorer_with({}).order(features, 0) == [0, 1, 2, 3]


def test_the_gate_puts_questions_and_short_sentences_last() -> None:
    features = sentence_features(STORY, candidate_spans(STORY))
    gated = scorer_with({"position": 1.0}, gate=(12, 50))
    order = gated.order(features, 0)
    assert order[-1] == 5  # the question, though the most favoured position but one
    assert scorer_with({"position": 1.0}).order(features, 0)[1] == 5  # no gate: ranked high


def test_using_swaps_the_scorer_for_extract_and_restores_it() -> None:
    shipped = active_scorer()
    lead_only = scorer_with({"log_index": -1.0})
    with using(lead_only):
        assert active_scorer() is lead_only
        assert [s.text for s in extract(STORY, "medium")] == [s.text for s in lead(STORY, 3)]
        assert ranked_sentences(STORY)[0].start == 0
    assert active_scorer() is shipped


def test_extract_returns_k_sentences_in_article_order_with_offsets() -> None:
    spans = extract(STORY, "medium")
    assert len(spans) == sentence_count("medium")
    assert [s.start for s in spans] == sorted(s.start for s in spans)
    assert all(STORY[s.start : s.end] == s.text for s in spans)


def test_tune_chooses_from_the_grid_and_records_it() -> None:
    examples = [example(STORY, SUMMARY), example(STORY.replace("valley", "delta"), SUMMARY)] * 3
    scorer = tune(examples, folds=3)
    assert scorer.fitted is not None
    assert scorer.fitted["articles"] == 6
    assert scorer.fitted["inner_cv_rouge2"]
    assert scorer.medium_sentences in (3, 4)
    assert fit(examples, 1.0, 0.5).lead_margin == 0.5


def test_tune_takes_a_fourth_sentence_when_the_references_hold_four() -> None:
    # References that repeat four of the story's sentences: four beat three on every fold.
    four = (
        "The river rose three meters overnight. Rescue teams used boats to reach families. "
        "Officials said the flood was the worst since records began in 1901. Farmers in the "
        "valley lost crops and livestock."
    )
    two = "Officials said the flood was the worst. Farmers lost crops."
    variants = [STORY, STORY.replace("valley", "delta"), STORY.replace("river", "stream")]
    assert tune([example(text, four) for text in variants] * 2, folds=3).medium_sentences == 4
    assert tune([example(text, two) for text in variants] * 2, folds=3).medium_sentences == 3
    # It travels with the weights.
    scorer = tune([example(text, four) for text in variants] * 2, folds=3)
    assert Scorer.from_json(json.loads(json.dumps(scorer.to_json()))).medium_sentences == 4
