"""Newsroom-grade summaries with the bundled model: long articles, lengths, formats, checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from helpers import REPO, TEST_MODEL
from nutgraf import models
from nutgraf.contract import HEADLINE_MAX_WORDS, SENTENCE_RANGES, SummaryOptions, SummaryResult
from nutgraf.settings import Settings
from nutgraf.summarize import Article, Summarizer, SummarizerCache
from nutgraf.text import is_complete_sentence, sentences, word_count

LONG_ARTICLE = REPO / "tests" / "data" / "long-article.txt"


@pytest.fixture(scope="session")
def bundled(settings: Settings) -> Summarizer:
    """The bundled model, loaded once in the test process."""
    cache = SummarizerCache.from_settings(settings)
    return cache.get(models.resolve(TEST_MODEL))


def test_a_long_article_is_read_as_its_most_salient_sentences(bundled: Summarizer) -> None:
    text = LONG_ARTICLE.read_text()
    assert word_count(text) > 2800
    small_window = Summarizer(models.backend_for(bundled.loaded, max_input_tokens=1024))
    result = small_window.summarize(Article(text, options=SummaryOptions(length="long")))
    assert result.input.selected is True and result.input.truncated is False
    assert result.input.chunks == 1
    assert result.input.tokens is not None and result.input.tokens > 3000
    low, high = SENTENCE_RANGES["long"]
    assert low <= len(sentences(result.summary)) <= high, result.summary
    assert is_complete_sentence(result.summary)
    assert not result.checks.unsupported, result.checks
    # Each sentence is the article's own (a fallback) or found in it.
    assert result.provenance and all(p.support for p in result.provenance), result.provenance


def test_truncate_true_cuts_instead_of_selecting(bundled: Summarizer) -> None:
    text = LONG_ARTICLE.read_text()
    small_window = Summarizer(models.backend_for(bundled.loaded, max_input_tokens=1024))
    options = SummaryOptions(length="headline", truncate=True)
    result = small_window.summarize(Article(text, options=options))
    assert result.input.truncated is True and result.input.selected is False


FORMATS = ("paragraph", "bullets")


@pytest.fixture(scope="module")
def both_formats(
    bundled: Summarizer, sample_article: str
) -> Callable[[str], dict[str, SummaryResult]]:
    """The sample's summaries of one length in both formats, made in one batch as a worker
    makes them (they share each generate() call), once per length in this process."""
    made: dict[str, dict[str, SummaryResult]] = {}

    def of_length(length: str) -> dict[str, SummaryResult]:
        if length not in made:
            articles = [
                Article(
                    sample_article,
                    options=SummaryOptions.model_validate({"length": length, "format": fmt}),
                )
                for fmt in FORMATS
            ]
            made[length] = dict(zip(FORMATS, bundled.summarize_batch(articles), strict=True))
        return made[length]

    return of_length


# Both formats of a length run in one xdist process (the file's tests are otherwise spread).
@pytest.mark.parametrize(
    "length",
    [
        pytest.param(length, marks=pytest.mark.xdist_group(f"test_quality-{length}"))
        for length in ("headline", "short", "medium", "long")
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_lengths_and_formats(
    both_formats: Callable[[str], dict[str, SummaryResult]], length: str, fmt: str
) -> None:
    options = SummaryOptions.model_validate({"length": length, "format": fmt})
    result = both_formats(length)[fmt]
    low, high = SENTENCE_RANGES[options.length]
    units = result.bullets if fmt == "bullets" else sentences(result.summary)
    assert units, result
    assert low <= len(units) <= high, (length, fmt, units)
    assert all(is_complete_sentence(unit) for unit in units), units
    if fmt == "bullets":
        assert result.summary.splitlines() == [f"- {unit}" for unit in units]
    else:
        assert result.bullets is None
    if length == "headline":
        assert word_count(" ".join(units)) <= HEADLINE_MAX_WORDS


def test_max_words_is_a_hard_cap(bundled: Summarizer, sample_article: str) -> None:
    options = SummaryOptions(length="long", max_words=40)
    result = bundled.summarize(Article(sample_article, options=options))
    assert 0 < word_count(result.summary) <= 40
    assert is_complete_sentence(result.summary)


def test_an_editor_never_receives_an_unflagged_fabrication(
    bundled: Summarizer, sample_article: str
) -> None:
    # One batch, as the worker runs them: both drafts share each generate() call.
    results = bundled.summarize_batch(
        [Article(sample_article, options=SummaryOptions(strict=strict)) for strict in (False, True)]
    )
    for strict, result in zip((False, True), results, strict=True):
        assert result.provenance is not None
        if result.checks.fallback:
            # Replaced by the article's own sentences, and said so.
            assert result.checks.fallback_reason and result.sentences
            assert all(s.text in sample_article for s in result.sentences)
        else:
            assert not result.checks.unsupported, result.checks
        if strict:
            # Strict: every sentence is found in the article, or the summary fell back.
            assert result.checks.fallback or all(p.support for p in result.provenance)


def test_extractive_mode_answers_at_once_with_offsets(
    client: FlaskClient, sample_article: str
) -> None:
    response = client.post(
        "/v1/summaries", json={"text": sample_article, "mode": "extractive", "length": "short"}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "succeeded" and body["cached"] is False
    assert body["model"]["name"] == "extractive"
    spans = body["sentences"]
    assert 1 <= len(spans) <= 2
    for span in spans:
        assert sample_article[span["start"] : span["end"]] == span["text"]
    assert body["summary"] == " ".join(span["text"] for span in spans)
    again = client.post(
        "/v1/summaries", json={"text": sample_article, "mode": "extractive", "length": "short"}
    )
    assert again.status_code == 200 and again.get_json()["cached"] is True


def test_options_are_validated(client: FlaskClient) -> None:
    for bad in (
        {"format": "table"},
        {"mode": "magic"},
        {"max_words": 2},
        {"max_words": "ten"},
        {"strict": "yes"},
        {"truncate": 1},
    ):
        response = client.post("/v1/summaries", json={"text": "Some news.", **bad})
        assert response.status_code == 422, bad
        assert response.get_json()["error"]["code"] == "invalid_request"


def test_in_place_kv_cache_gives_the_tokens_of_plain_generate(
    bundled: Summarizer, sample_article: str
) -> None:
    """The worker's buffered key/value cache (less memory) must not change a summary."""
    import torch

    from nutgraf.models.kv_cache import buffered_cache

    loaded = bundled.loaded
    tokenizer = loaded.tokenizer
    tokenizer.padding_side = "left"
    options = SummaryOptions(length="short")
    words = sample_article.split()
    prompts = [
        bundled.prompt_for(Article(" ".join(words[:120]), options=options)),
        bundled.prompt_for(Article(" ".join(words[40:260]), options=options)),
    ]
    encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    settings = {"max_new_tokens": 24, "do_sample": False, "repetition_penalty": 1.1}
    rows, width = encoded["input_ids"].shape
    cache = buffered_cache(loaded.model, rows, width + 24)
    assert cache is not None, "the bundled Llama model should take the buffered cache"
    with torch.inference_mode():
        plain = loaded.model.generate(**encoded, **settings, pad_token_id=tokenizer.pad_token_id)
        buffered = loaded.model.generate(
            **encoded, **settings, pad_token_id=tokenizer.pad_token_id, cache=cache
        )
    assert torch.equal(plain, buffered)
    assert cache.layers[0].key_buffer.shape[2] == width + 24
