"""The summarizer on a scripted backend: a reversed summary is generated once more, then
replaced by the extractive one; a seamed one is respelled as the article spells it; passes
with the same token budget share one generate() call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from nutgraf.contract import SummaryOptions
from nutgraf.models import Backend, Generation
from nutgraf.models.specs import resolve
from nutgraf.summarize import Article, Summarizer

ARTICLE = (
    "The city council approved the new budget on Monday after a long debate. "
    "Mayor Ann Lee said the same-sex marriage registry would open in May. "
    "Spending on parks will rise by 12% next year."
)
SHORT = SummaryOptions(length="short")


class ScriptedBackend:
    """Answers each generate() call with the next scripted summaries; counts words."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.spec = resolve("smollm2-135m")
        self.window = 4096
        self.calls = 0
        self.batches: list[tuple[int, int]] = []  # (prompts, max_new_tokens) of each call

    def count(self, text: str) -> int:
        return len(text.split())

    def fit(self, text: str, budget: int) -> str:
        return text

    def body_budget(self, probe: Any, answer_tokens: int) -> int:
        return 2048

    def render(self, prompt: Any) -> str:
        return str(prompt)

    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int,
        min_new_tokens: int = 0,
        beam_search: bool = False,
        sources: list[str] | None = None,
        stops: list[Callable[[], bool] | None] | None = None,
    ) -> list[Generation]:
        self.calls += 1
        self.batches.append((len(prompts), max_new_tokens))
        return [Generation(self.answers.pop(0), 20) for _ in prompts]


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
