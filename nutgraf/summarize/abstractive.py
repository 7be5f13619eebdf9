"""Summarizer: articles in, summaries out, through any backend. Each article is read in one
grounded pass; a summary that fails its checks is generated again once (all retries in one
batch), and one that fails again is replaced by the extractive summary, flagged."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from nutgraf.contract import Checks, Format, Length, SummaryResult
from nutgraf.models import Backend, Generation, LoadedModel
from nutgraf.summarize import prompts
from nutgraf.summarize.article import Article
from nutgraf.summarize.extractive import summarize_extractive
from nutgraf.summarize.plan import TOKEN_BUDGETS, Pass, Reading, read_article
from nutgraf.summarize.provenance import support_for
from nutgraf.summarize.shaping import is_degenerate, join_units, shape_summary
from nutgraf.summarize.spelling import Respeller
from nutgraf.summarize.verify import Verdict, verify
from nutgraf.text import source_text

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


@dataclass(frozen=True)
class Draft:
    """One model output, shaped and checked."""

    units: list[str]
    verdict: Verdict
    output: Generation

    def better_than(self, other: Draft) -> bool:
        """Whether this draft should replace `other`: it passes where the other fails, or
        both fail and it states fewer unsupported items."""
        if (self.verdict.problem is None) != (other.verdict.problem is None):
            return self.verdict.problem is None
        return len(self.verdict.unsupported) < len(other.verdict.unsupported)


class Summarizer:
    """Wraps one model's backend; `summarize_batch` is the only way in."""

    def __init__(self, backend: Backend, batch_tokens: int | None = None) -> None:
        self.backend = backend
        self.spec = backend.spec
        # Padded input tokens one generate() call may take: a long article's many chunks,
        # or one huge article beside short ones, must not inflate a single call's memory.
        self.batch_tokens = batch_tokens or DEFAULT_BATCH_WINDOWS * backend.window
        self._body_budgets: dict[tuple[Length, Format], int] = {}  # see _body_budget

    def count_tokens(self, article: Article) -> int:
        """The article's length in the model's tokens (title and text)."""
        return self.backend.count(f"{article.title or ''}\n{article.text}")

    def input_tokens(self, article: Article) -> int:
        """Tokens of the model's input for the article: what a generate() call pads it to,
        never over the window (a long article is read as its most salient sentences)."""
        return self.backend.count(self.prompt_for(article))

    @property
    def loaded(self) -> LoadedModel:
        """The model, tokenizer and device behind the backend."""
        return self.backend.loaded

    def summarize(self, article: Article) -> SummaryResult:
        """Summarize a single article."""
        return self.summarize_batch([article])[0]

    def summarize_batch(self, articles: list[Article]) -> list[SummaryResult]:
        """Summarize articles together: long ones are read as their most salient sentences;
        passes with the same new-token budget share batched generate() calls."""
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
        reading = read_article(article, budget, self.backend.count, self.backend.fit)
        return self._prompt(
            Pass(reading.body, article.title, options.length, options.format), budget
        )

    def _abstractive(self, articles: list[Article]) -> list[SummaryResult]:
        if not articles:
            return []
        readings = [
            read_article(
                a,
                self._body_budget(a.options.length, a.options.format),
                self.backend.count,
                self.backend.fit,
            )
            for a in articles
        ]
        passes = [
            Pass(
                r.body,
                a.title,
                a.options.length,
                a.options.format,
                max_words=a.options.max_words,
                stop=a.stop,
            )
            for a, r in zip(articles, readings, strict=True)
        ]
        outputs = self._run_passes(passes)
        drafts = [self._check(a, o) for a, o in zip(articles, outputs, strict=True)]
        # One retry for every summary that failed a check, all in one batch: a stricter
        # instruction over exactly what the first pass read. A stopped article has none.
        # It rescues about a quarter of stitched drafts (docs/benchmarks.md, "what a retry
        # rescues").
        failed = [
            i for i, draft in enumerate(drafts) if draft.verdict.problem and not articles[i].stopped
        ]
        retried = set(failed)
        retries = self._run_passes([dataclasses.replace(passes[i], safe=True) for i in failed])
        for index, output in zip(failed, retries, strict=True):
            retry = self._check(articles[index], output)
            drafts[index] = retry if retry.better_than(drafts[index]) else drafts[index]
        return [
            self._finish(article, reading, draft, regenerated=index in retried)
            for index, (article, reading, draft) in enumerate(
                zip(articles, readings, drafts, strict=True)
            )
        ]

    def _check(self, article: Article, output: Generation) -> Draft:
        """The model's output shaped as asked and checked against the article."""
        units = [] if is_degenerate(output.text) else shape_summary(output.text, article.options)
        # Decoding leaves seams ("same- sex", "can ' t"): spelled as the article spells them.
        respeller = Respeller(source_text(article.text, article.title))
        units = [respeller.respell(unit) for unit in units]
        verdict = verify(units, article.text, article.title, article.options)
        return Draft(units, verdict, output)

    def _finish(
        self, article: Article, reading: Reading, draft: Draft, regenerated: bool
    ) -> SummaryResult:
        """The summary an editor receives: the model's when it passed its checks, else the
        extractive summary of the same length, flagged with the reason."""
        options = article.options
        problem = draft.verdict.problem
        # Only a summary that is kept needs its provenance (a fallback brings its own).
        provenance = [] if problem else support_for(draft.units, article.text, article.title)
        if problem is None and options.strict and not all(p.support for p in provenance):
            problem = "unsupported_sentence"  # strict: every sentence found in the article
        if problem is not None:
            extractive = summarize_extractive(article)
            return extractive.model_copy(
                update={
                    "input": reading.stats,
                    "checks": Checks(
                        regenerated=regenerated, fallback=True, fallback_reason=problem
                    ),
                    "generated_tokens": draft.output.tokens,
                }
            )
        return SummaryResult(
            summary=join_units(draft.units, options.format),
            bullets=draft.units if options.format == "bullets" else None,
            input=reading.stats,
            checks=Checks(unsupported=draft.verdict.unsupported, regenerated=regenerated),
            provenance=provenance,
            generated_tokens=draft.output.tokens,
        )

    def _body_budget(self, length: Length, fmt: Format) -> int:
        """Tokens of article text that fit in one pass with this length and format
        (worked out once per pair: it renders and tokenizes a prompt)."""
        key = (length, fmt)
        if key not in self._body_budgets:
            probe = prompts.prompt(Pass("", "", length, fmt), "")
            self._body_budgets[key] = self.backend.body_budget(probe, TOKEN_BUDGETS[length][1])
        return self._body_budgets[key]

    def _run_passes(self, passes: list[Pass]) -> list[Generation]:
        """Run passes grouped by generation settings, one generate() per group. Equal passes
        (one article asked for with and without `strict`, or sent twice into one batch)
        have the same prompt and so the same output: each is generated once."""
        sharers: dict[Pass, list[int]] = {}
        for index, p in enumerate(passes):
            sharers.setdefault(p, []).append(index)
        members = list(sharers.values())
        unique = [_shared(passes, indexes) for indexes in members]
        outputs: list[Generation | None] = [None] * len(passes)
        groups: dict[tuple[int, int], list[int]] = {}
        for index, p in enumerate(unique):
            groups.setdefault(p.settings, []).append(index)
        for new_tokens, indexes in groups.items():
            generated = self._generate([unique[i] for i in indexes], new_tokens)
            for index, output in zip(indexes, generated, strict=True):
                for sharer in members[index]:
                    outputs[sharer] = output
        return [o for o in outputs if o is not None]

    def _generate(self, passes: list[Pass], new_tokens: tuple[int, int]) -> list[Generation]:
        """One batched, grounded generate(): output text and new-token count per pass."""
        min_new, max_new = new_tokens
        rendered = [self._prompt(p, self._body_budget(p.length, p.format)) for p in passes]
        outputs: list[Generation | None] = [None] * len(rendered)
        lengths = [self.backend.count(r) for r in rendered]
        for group in token_batches(lengths, self.batch_tokens):
            # Beam search: under grounding, greedy decoding wanders into pieces of names
            # ("Greensl") where a beam finds the article's phrase; on the dev set most
            # greedy drafts failed the checks and few beam drafts did (docs/benchmarks.md).
            stops = [passes[i].stop for i in group]
            generated = self.backend.generate(
                [rendered[i] for i in group],
                max_new,
                min_new,
                beam_search=True,
                sources=[passes[i].source for i in group],
                stops=stops if any(stops) else None,
            )
            for index, output in zip(group, generated, strict=True):
                outputs[index] = output
        return [o for o in outputs if o is not None]

    def _prompt(self, p: Pass, budget: int) -> str:
        """The model's input for one pass, its body cut to the budget as a last resort."""
        return self.backend.render(prompts.prompt(p, self.backend.fit(p.body, budget)))


def _shared(passes: list[Pass], indexes: list[int]) -> Pass:
    """The one pass generated for the equal passes at `indexes`: it stops only when every
    article sharing it has been told to stop (a cancelled job must not stop another's)."""
    first = passes[indexes[0]]
    if len(indexes) == 1:
        return first
    stops = [stop for stop in (passes[i].stop for i in indexes) if stop is not None]
    if len(stops) < len(indexes):
        return dataclasses.replace(first, stop=None)  # a sharer that is never stopped
    return dataclasses.replace(first, stop=lambda: all(stop() for stop in stops))
