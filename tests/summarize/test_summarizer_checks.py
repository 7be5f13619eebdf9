"""The summarizer on a scripted backend: a reversed summary is generated once more, then
replaced by the extractive one; a seamed one is respelled as the article spells it; passes
with the same token budget share one generate() call."""

from __future__ import annotations

from typing import Any, cast

from helpers import ScriptedBackend
from nutgraf.contract import SummaryOptions
from nutgraf.models import Backend
from nutgraf.summarize import Article, Summarizer

ARTICLE = (
    "The city council approved the new budget on Monday after a long debate. "
    "Mayor Ann Lee said the same-sex marriage registry would open in May. "
    "Spending on parks will rise by 12% next year."
)
SHORT = SummaryOptions(length="short")


def summarize(answers: list[str]) -> tuple[Any, ScriptedBackend]:
    backend = ScriptedBackend(answers)
    summarizer = Summarizer(cast(Backend, backend))
    return summarizer.summarize(Article(ARTICLE, options=SHORT)), backend


def test_a_reversed_summary_is_generated_again_then_replaced() -> None:
    reversed_claim = "The city council rejected the new budget on Monday after a long debate."
    result, backend = summarize([reversed_claim, reversed_claim])
    assert backend.calls == 2
    assert result.checks.regenerated and result.checks.fallback
    assert result.checks.fallback_reason == "reversed"
    assert "rejected" not in result.summary


def test_a_faithful_retry_is_kept() -> None:
    result, _ = summarize(
        [
            "The city council rejected the new budget on Monday after a long debate.",
            "The city council approved the new budget on Monday after a long debate.",
        ]
    )
    assert result.checks.regenerated and not result.checks.fallback
    assert result.summary.startswith("The city council approved the new budget")


def test_the_summary_is_spelled_as_the_article_spells_it() -> None:
    result, backend = summarize(
        ["Mayor Ann Lee said the same- sex marriage registry would open in May ."]
    )
    assert backend.calls == 1 and not result.checks.fallback
    assert result.summary == "Mayor Ann Lee said the same-sex marriage registry would open in May."


def test_paragraph_and_bullets_of_one_length_share_a_generate_call() -> None:
    faithful = "The city council approved the new budget on Monday after a long debate."
    backend = ScriptedBackend([faithful] * 6)
    summarizer = Summarizer(cast(Backend, backend))
    options = [
        SummaryOptions(length="short", format="paragraph"),
        SummaryOptions(length="short", format="bullets"),
        SummaryOptions(length="medium"),  # another token budget: a call of its own
    ]
    results = summarizer.summarize_batch([Article(ARTICLE, options=o) for o in options])
    # The first round: two calls. (A one-sentence medium summary is too short: retried.)
    assert sorted(backend.batches[:2]) == [(1, 160), (2, 80)]
    assert results[0].bullets is None and results[1].bullets == [faithful]
    assert not results[0].checks.fallback and not results[1].checks.fallback
