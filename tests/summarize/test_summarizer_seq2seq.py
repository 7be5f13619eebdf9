"""The summarizer on the seq2seq (BART family) backend, with a tiny random-weight BART.

Random weights write junk, so these tests check structure and bookkeeping, never content.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nutgraf import models
from nutgraf.contract import SENTENCE_RANGES, SummaryOptions
from nutgraf.models import ModelSpec
from nutgraf.summarize import (
    TOKEN_BUDGETS,
    Article,
    Summarizer,
    SummarizerCache,
    summarize_extractive,
)

# The tiny model's decoder has 128 positions too, so keep summaries short (headline: 40
# new tokens at most, short: 80); longer budgets would run past its position table.
HEADLINE = SummaryOptions(length="headline")
SHORT = SummaryOptions(length="short")

SHORT_TEXT = "Storms flooded two towns on Monday."
MEDIUM_TEXT = (
    "The city council voted on Tuesday to approve a new budget for schools and roads. "
    "Officials said the money would be spent over three years."
)
LONG_TEXT = " ".join(
    [
        "Shares of the company rose 3.5 percent after it reported higher quarterly profits.",
        "Mr. Smith told reporters that the U.S. government would review the decision.",
        "Residents were told to boil water after the main pipe burst on Monday morning.",
    ]
    * 6
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> SummarizerCache:
    """One CPU summarizer cache for the whole module, so the model loads once."""
    return SummarizerCache("cpu", tmp_path_factory.mktemp("nutgraf-cache"))


@pytest.fixture(scope="module")
def spec(tiny_bart_dir: Path) -> ModelSpec:
    """The tiny BART folder resolved as a local model."""
    return models.resolve(str(tiny_bart_dir))


@pytest.fixture(scope="module")
def summarizer(cache: SummarizerCache, spec: ModelSpec) -> Summarizer:
    """The tiny BART loaded on the CPU."""
    return cache.get(spec)


def body_tokens(summarizer: Summarizer, text: str) -> int:
    """Tokens of the article body as the engine counts them (no special tokens)."""
    return len(summarizer.loaded.tokenizer(text.strip(), add_special_tokens=False)["input_ids"])


def test_same_spec_loads_once(
    cache: SummarizerCache,
    spec: ModelSpec,
    summarizer: Summarizer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_second_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded a second time")

    monkeypatch.setattr(models, "load", no_second_load)
    assert cache.get(spec) is summarizer
    assert cache.get(spec) is summarizer
    state = cache.states()[spec.name]
    assert state["state"] == "ready"
    assert state["dtype"] == summarizer.loaded.precision.dtype


def test_summarize_batch_keeps_order_and_stats(summarizer: Summarizer) -> None:
    # Mixed lengths make two generate() groups; the longest text comes first on purpose.
    articles = [
        Article(LONG_TEXT, options=HEADLINE),
        Article(SHORT_TEXT, title="Floods", options=SHORT),
        Article(MEDIUM_TEXT, options=HEADLINE),
    ]
    results = summarizer.summarize_batch(articles)
    assert len(results) == len(articles)
    for article, result in zip(articles, results, strict=True):
        assert isinstance(result.summary, str)
        assert result.summary.strip()
        assert result.input.characters == len(article.text)
        assert result.input.tokens == body_tokens(summarizer, article.text) > 0
        # Only a text over the window (128 minus BART's two special tokens) is read as its
        # best sentences; every article is read in one pass.
        fits = body_tokens(summarizer, article.text) <= 126
        assert result.input.selected is not fits and result.input.chunks == 1
        assert result.generated_tokens > 0


def test_summarize_batch_of_nothing(summarizer: Summarizer) -> None:
    assert summarizer.summarize_batch([]) == []


def test_long_article_is_read_as_its_most_salient_sentences(summarizer: Summarizer) -> None:
    result = summarizer.summarize(Article(LONG_TEXT, options=HEADLINE))
    assert result.input.selected is True and result.input.truncated is False
    assert result.input.tokens > 128
    assert result.input.characters == len(LONG_TEXT)
    assert result.summary.strip()


def test_long_article_with_truncate_is_cut(summarizer: Summarizer) -> None:
    options = SummaryOptions(length="headline", truncate=True)
    result = summarizer.summarize(Article(LONG_TEXT, options=options))
    assert result.input.truncated is True and result.input.selected is False
    assert result.input.tokens > 128
    assert result.input.characters == len(LONG_TEXT)
    assert result.summary.strip()


def test_short_article_is_not_truncated(summarizer: Summarizer) -> None:
    result = summarizer.summarize(Article(SHORT_TEXT, options=HEADLINE))
    assert result.input.truncated is False
    assert 0 < result.input.tokens <= 128


@pytest.mark.parametrize(
    "options",
    [HEADLINE, SHORT, SummaryOptions(length="long")],
    ids=["headline", "short", "long-capped-by-decoder-positions"],
)
def test_generated_tokens_within_budget(summarizer: Summarizer, options: SummaryOptions) -> None:
    result = summarizer.summarize(Article(MEDIUM_TEXT, options=options))
    assert 0 < result.generated_tokens <= TOKEN_BUDGETS[options.length][1]


def test_truncation_inside_a_multibyte_character(summarizer: Summarizer) -> None:
    # "a" is one token and the unseen "☃" three byte tokens, so the cut at 126 body tokens
    # falls inside a snowman; the decoded U+FFFD re-encodes longer than the window (a
    # regression: BART's position table overflowed with an IndexError).
    text = "a☃" * 200
    tokenizer = summarizer.loaded.tokenizer
    cut = tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"][:126])
    assert body_tokens(summarizer, cut) > 126  # the case this test is about
    options = SummaryOptions(length="headline", truncate=True)
    result = summarizer.summarize(Article(text, options=options))
    assert result.input.truncated is True
    assert result.input.tokens == 800
    assert result.summary.strip()


def test_missing_weights_is_unavailable(tiny_bart_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "no-weights"
    shutil.copytree(tiny_bart_dir, broken)
    (broken / "model.safetensors").unlink()
    spec = models.resolve(str(broken))
    cache = SummarizerCache("cpu", tmp_path / "cache")
    with pytest.raises(models.ModelUnavailable) as caught:
        cache.get(spec)
    message = str(caught.value)
    assert str(broken) in message
    assert "cannot be loaded" in message
    assert "\n" not in message
    assert cache.states()[spec.name] == {"state": "failed", "error": message}


def test_bfloat16_weights_summarize_on_the_cpu(spec: ModelSpec, tmp_path: Path) -> None:
    import torch

    cache = SummarizerCache("cpu", tmp_path / "cache", dtype="bfloat16")
    summarizer = cache.get(spec)
    assert summarizer.loaded.model.dtype == torch.bfloat16
    result = summarizer.summarize(Article(MEDIUM_TEXT, options=SHORT))
    assert result.summary.strip() and result.generated_tokens > 0


@pytest.mark.parametrize("options", [HEADLINE, SHORT, SummaryOptions(length="medium")])
def test_a_summary_that_fails_its_checks_is_the_flagged_extractive_one(
    summarizer: Summarizer, options: SummaryOptions
) -> None:
    # Random weights write word salad: whatever passes the checks is kept, the rest is
    # replaced by the article's own sentences, and the job says so.
    article = Article(MEDIUM_TEXT, options=options)
    result = summarizer.summarize(article)
    extractive = summarize_extractive(article)
    if result.checks.fallback:
        assert result.checks.fallback_reason
        assert result.summary == extractive.summary and result.sentences
        assert result.provenance == extractive.provenance
        assert result.checks.regenerated  # retried once before falling back
    else:
        assert result.checks.fallback_reason is None and not result.checks.unsupported
        low, high = SENTENCE_RANGES[options.length]
        assert low <= len(result.provenance or []) <= high
    assert result.generated_tokens > 0 and result.input.tokens
