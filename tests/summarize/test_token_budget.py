"""One generate() call reads a bounded number of padded input tokens: one huge article
beside short ones is split into calls within the budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from nutgraf import models
from nutgraf.contract import SummaryOptions
from nutgraf.summarize import Article, Summarizer, SummarizerCache
from nutgraf.summarize.abstractive import token_batches
from nutgraf.summarize.plan import TOKEN_BUDGETS, token_budget

LONG_TEXT = " ".join(
    [
        "Shares of the company rose 3.5 percent after it reported higher quarterly profits.",
        "Mr. Smith told reporters that the U.S. government would review the decision.",
        "Residents were told to boil water after the main pipe burst on Monday morning.",
    ]
    * 12
)


def padded(lengths: list[int], group: list[int]) -> int:
    return len(group) * max(lengths[i] for i in group)


def test_everything_that_fits_is_one_call_in_the_given_order() -> None:
    assert token_batches([30, 10, 20], 90) == [[0, 1, 2]]
    assert token_batches([], 10) == [[]]


def test_groups_stay_within_the_budget_shortest_first() -> None:
    lengths = [500, 10, 12, 11, 400, 9000, 13]
    groups = token_batches(lengths, 1000)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert groups[0] == [1, 3, 2, 6]  # the short ones together, shortest first
    assert groups[-1] == [5]  # the huge one alone, last
    for group in groups[:-1]:
        assert padded(lengths, group) <= 1000


@pytest.mark.parametrize("budget", [64, 200])
def test_no_generate_call_exceeds_the_token_budget(
    tiny_bart_dir: Path, tmp_path: Path, budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = SummarizerCache("cpu", tmp_path).get(models.resolve(str(tiny_bart_dir))).backend
    summarizer = Summarizer(loaded, batch_tokens=budget)
    calls: list[int] = []
    generate = summarizer.backend.generate

    def counting(prompts: list[str], *args: object, **kwargs: object) -> object:
        calls.append(max(summarizer.backend.count(p) for p in prompts) * len(prompts))
        if len(prompts) > 1:
            assert calls[-1] <= budget, f"{len(prompts)} prompts, {calls[-1]} padded tokens"
        return generate(prompts, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(summarizer.backend, "generate", counting)
    articles = [Article(LONG_TEXT, None, SummaryOptions(length="headline"))] + [
        Article("Storms flooded two towns on Monday.", None, SummaryOptions(length="headline"))
    ] * 3
    results = summarizer.summarize_batch(articles)
    assert results[0].input.selected  # the long one filled the window
    assert len(calls) >= 2  # split into several calls, not one for every article at once


def test_max_words_bounds_the_new_tokens_as_well_as_the_summary() -> None:
    assert token_budget("long") == TOKEN_BUDGETS["long"]
    low, high = token_budget("long", max_words=40)
    assert high < TOKEN_BUDGETS["long"][1] and high > 40 and low <= high // 2
    # A cap above what the length would write changes nothing.
    assert token_budget("headline", max_words=500) == TOKEN_BUDGETS["headline"]


def test_a_max_words_article_generates_apart_with_fewer_new_tokens(
    tiny_bart_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = SummarizerCache("cpu", tmp_path).get(models.resolve(str(tiny_bart_dir))).backend
    summarizer = Summarizer(loaded)
    asked: list[tuple[int, int]] = []
    generate = summarizer.backend.generate

    def recording(prompts: list[str], max_new: int, min_new: int, **kwargs: object) -> object:
        asked.append((len(prompts), max_new))
        return generate(prompts, max_new, min_new, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(summarizer.backend, "generate", recording)
    capped = SummaryOptions(length="long", max_words=20)
    summarizer.summarize_batch(
        [Article(LONG_TEXT, None, SummaryOptions(length="long")), Article(LONG_TEXT, None, capped)]
    )
    firsts = asked[:2]  # a retry may follow
    assert sorted(firsts) == sorted(
        [(1, TOKEN_BUDGETS["long"][1]), (1, token_budget("long", 20)[1])]
    )
