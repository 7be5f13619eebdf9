"""The summarizer on a scripted backend: a reversed summary is generated once more, then
replaced by the extractive one; a seamed one is respelled as the article spells it; passes
with the same token budget share one generate() call, and equal passes are generated once."""

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


FAITHFUL = "The city council approved the new budget on Monday after a long debate."


def test_one_article_with_and_without_strict_is_generated_once() -> None:
    backend = ScriptedBackend([FAITHFUL, "Spending on parks will rise by 12% next year."])
    summarizer = Summarizer(cast(Backend, backend))
    articles = [
        Article(ARTICLE, options=SummaryOptions(length="short", strict=strict))
        for strict in (False, True)
    ]
    loose, strict = summarizer.summarize_batch(articles)
    assert backend.batches == [(1, 80)]  # one prompt, generated once
    assert loose.summary == strict.summary == FAITHFUL
    assert not loose.checks.fallback and not strict.checks.fallback


def test_a_shared_pass_stops_only_when_every_sharer_is_stopped() -> None:
    backend = ScriptedBackend([FAITHFUL] * 2)
    summarizer = Summarizer(cast(Backend, backend))
    cancelled = {"first": True, "second": False}

    def article(name: str | None) -> Article:
        stop = None if name is None else (lambda: cancelled[name])
        return Article(ARTICLE, options=SHORT, stop=stop)

    summarizer.summarize_batch([article("first"), article(None)])
    assert backend.stops[-1] is None  # one sharer is never stopped: nor is their pass
    summarizer.summarize_batch([article("first"), article("second")])
    stops = backend.stops[-1]
    assert stops is not None and len(stops) == 1 and stops[0] is not None
    assert stops[0]() is False  # the second job still wants its summary
    cancelled["second"] = True
    assert stops[0]() is True
