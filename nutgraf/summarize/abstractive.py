"""Summarizer: articles in, summaries out, through any backend; each level's passes share
batched generate() calls."""

from __future__ import annotations

import dataclasses

from nutgraf.contract import Checks, Format, Length, SummaryResult
from nutgraf.models import Backend, Generation, LoadedModel
from nutgraf.summarize import prompts
from nutgraf.summarize.article import Article
from nutgraf.summarize.extractive import summarize_extractive
from nutgraf.summarize.plan import (
    CHUNK_LENGTH,
    MAX_REDUCE_LEVELS,
    TOKEN_BUDGETS,
    ArticlePlan,
    Pass,
)
from nutgraf.summarize.shaping import is_degenerate, join_units, shape_summary

# Without a setting, one generate() call reads at most this many full input windows.
DEFAULT_BATCH_WINDOWS = 8


def token_batches(lengths: list[int], budget: int) -> list[list[int]]:
    """Indexes of inputs grouped so that each group's padded size (its count times its
    longest input) stays within `budget`; shortest first. An input over the budget on its
    own runs alone. One group, in the given order, when everything fits."""
    if not lengths or len(lengths) * max(lengths) <= budget:
        return [list(range(len(lengths)))]
    groups: list[list[int]] = []
    current: list[int] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        # Sorted ascending, so this input is the group's longest if it joins.
        if current and (len(current) + 1) * lengths[index] > budget:
            groups.append(current)
            current = []
        current.append(index)
    groups.append(current)
    return groups


class Summarizer:
    """Wraps one model's backend; `summarize_batch` is the only way in."""

    def __init__(self, backend: Backend, batch_tokens: int | None = None) -> None:
        self.backend = backend
        self.spec = backend.spec
        # Padded input tokens one generate() call may take: a long article's many chunks,
        # or one huge article beside short ones, must not inflate a single call's memory.
        self.batch_tokens = batch_tokens or DEFAULT_BATCH_WINDOWS * backend.window

    def count_tokens(self, article: Article) -> int:
        """The article's length in the model's tokens (title and text)."""
        return self.backend.count(f"{article.title or ''}\n{article.text}")

    @property
    def loaded(self) -> LoadedModel:
        """The model, tokenizer and device behind the backend."""
        return self.backend.loaded

    def summarize(self, article: Article) -> SummaryResult:
        """Summarize a single article."""
        return self.summarize_batch([article])[0]

    def summarize_batch(self, articles: list[Article]) -> list[SummaryResult]:
        """Summarize articles together: long ones are chunked at sentence boundaries and
        summarized map-reduce style; each level's passes share batched generate() calls."""
        results: dict[int, SummaryResult] = {}
        abstractive = []
        for index, article in enumerate(articles):
            if article.options.mode == "extractive":
                results[index] = summarize_extractive(article)
            else:
                abstractive.append(index)
        for index, result in zip(
            abstractive, self._abstractive([articles[i] for i in abstractive]), strict=True
        ):
            results[index] = result
        return [results[i] for i in range(len(articles))]

    def prompt_for(self, article: Article) -> str:
        """The exact model input of a one-pass article (for benchmarks and debugging)."""
        options = article.options
        budget = self._body_budget(options.length, options.format)
        return self._prompt(
            Pass(article.text, article.title, options.length, options.format), budget
        )

    def _abstractive(self, articles: list[Article]) -> list[SummaryResult]:
        if not articles:
            return []
        plans = [
            ArticlePlan.start(
                a, self.backend, self._body_budget(a.options.length, a.options.format)
            )
            for a in articles
        ]
        chunk_budget = self._body_budget(CHUNK_LENGTH, "paragraph")
        active = plans
        for level in range(MAX_REDUCE_LEVELS + 1):
            steps = [(plan, plan.step(level, self.backend, chunk_budget)) for plan in active]
            # Final passes first, then the chunks: the batches' make-up stays as it was.
            ordered = [s for s in steps if s[0].done] + [s for s in steps if not s[0].done]
            outputs = iter(self._run_passes([p for _, passes in ordered for p in passes]))
            for plan, passes in ordered:
                plan.read([next(outputs) for _ in passes])
            active = [plan for plan in active if not plan.done]
            if not active:
                break
        return [self._finish(plan) for plan in plans]

    def _finish(self, plan: ArticlePlan) -> SummaryResult:
        """Shape the summary, check it against the article, and retry once if strict."""
        # Imported on use: its patterns take a while to compile and the API never checks.
        from nutgraf.summarize.faithfulness import unsupported_items

        article, final, output = plan.article, plan.final, plan.output
        assert final is not None and output is not None
        options = article.options
        units = shape_summary(output.text, options)
        unsupported = unsupported_items(" ".join(units), article.text, article.title)
        regenerated = False
        # A looping or empty answer is retried with beam search whatever `strict` says;
        # the retry reads exactly what the first final pass read (the article, or the
        # joined partial summaries of a long one).
        unusable = is_degenerate(output.text) or not units
        if (unsupported and options.strict) or unusable:
            retry = self._run_passes([dataclasses.replace(final, safe=True)])[0]
            retry_units = shape_summary(retry.text, options)
            retry_unsupported = unsupported_items(
                " ".join(retry_units), article.text, article.title
            )
            regenerated = True
            if (unusable and retry_units) or len(retry_unsupported) < len(unsupported):
                units, unsupported, output = retry_units, retry_unsupported, retry
        return SummaryResult(
            summary=join_units(units, options.format),
            bullets=units if options.format == "bullets" else None,
            input=plan.stats,
            checks=Checks(unsupported=unsupported, regenerated=regenerated),
            generated_tokens=output.tokens,
        )

    def _body_budget(self, length: Length, fmt: Format) -> int:
        """Tokens of article text that fit in one pass with this length and format."""
        probe = prompts.prompt(Pass("", "", length, fmt), "")
        return self.backend.body_budget(probe, TOKEN_BUDGETS[length][1])

    def _run_passes(self, passes: list[Pass]) -> list[Generation]:
        """Run passes grouped by generation settings, one generate() per group."""
        outputs: list[Generation | None] = [None] * len(passes)
        groups: dict[tuple[Length, Format, bool, int | None], list[int]] = {}
        for index, p in enumerate(passes):
            groups.setdefault(p.settings, []).append(index)
        for key, indexes in groups.items():
            generated = self._generate([passes[i] for i in indexes], *key)
            for index, output in zip(indexes, generated, strict=True):
                outputs[index] = output
        return [o for o in outputs if o is not None]

    def _generate(
        self,
        passes: list[Pass],
        length: Length,
        fmt: Format,
        safe: bool,
        max_new_override: int | None = None,
    ) -> list[Generation]:
        """One batched generate(): output text and new-token count per pass."""
        min_new, max_new = TOKEN_BUDGETS[length]
        if max_new_override is not None:
            max_new = max_new_override
            min_new = min(min_new, max_new // 2)
        budget = self._body_budget(length, fmt)
        rendered = [self._prompt(p, budget) for p in passes]
        outputs: list[Generation | None] = [None] * len(rendered)
        lengths = [self.backend.count(r) for r in rendered]
        for group in token_batches(lengths, self.batch_tokens):
            # A safe pass (the retry of a final pass) decodes with beam search.
            generated = self.backend.generate(
                [rendered[i] for i in group], max_new, min_new, beam_search=safe
            )
            for index, output in zip(group, generated, strict=True):
                outputs[index] = output
        return [o for o in outputs if o is not None]

    def _prompt(self, p: Pass, budget: int) -> str:
        """The model's input for one pass, its body cut to the budget as a last resort."""
        return self.backend.render(prompts.prompt(p, self.backend.fit(p.body, budget)))
