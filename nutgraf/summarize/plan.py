"""What the model reads of an article: all of it when it fits the window, else its most
salient sentences packed into the window in article order (one pass, whatever the length).

One pass over chosen sentences replaced map-reduce over chunks: on the dev set, summaries of
summaries of long articles drifted off the article (a news story came back as a fashion
collection), while the ranked sentences keep the lead and the facts the article repeats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nutgraf.contract import Format, InputStats, Length
from nutgraf.summarize.article import Article
from nutgraf.text import source_text

# New-token budgets (min, max) per length; seq2seq models need a floor or they stop early.
TOKEN_BUDGETS: dict[Length, tuple[int, int]] = {
    "headline": (5, 40),
    "short": (20, 80),
    "medium": (50, 160),
    "long": (100, 300),
}
# A max_words cap bounds generation too: words past it would be cut by shaping anyway.
# English news runs about 1.3 tokens a word in the model's tokenizers; 2 a word and a few
# more leave room for punctuation and bullet marks, so the last whole sentence is kept.
_TOKENS_PER_WORD = 2
_CAP_SLACK_TOKENS = 8


def token_budget(length: Length, max_words: int | None = None) -> tuple[int, int]:
    """New tokens (min, max) for a summary of this length, within `max_words` if set."""
    low, high = TOKEN_BUDGETS[length]
    if max_words is None:
        return low, high
    high = min(high, max_words * _TOKENS_PER_WORD + _CAP_SLACK_TOKENS)
    return min(low, high // 2), high


# Tokens between two chosen sentences that were not neighbours in the article ("\n\n").
_GAP_TOKENS = 1


@dataclass(frozen=True)
class Pass:
    """One input to one generate() call: what the model reads of one article."""

    body: str
    title: str | None
    length: Length
    format: Format
    safe: bool = False  # the retry: a stricter instruction
    max_words: int | None = None
    # The article's stop check (Article.stop): asked between decoding steps.
    stop: Callable[[], bool] | None = field(default=None, compare=False, repr=False)

    @property
    def settings(self) -> tuple[int, int]:
        """What generate() is called with, the new-token budget: passes that share it share
        a batch, whatever their prompts (a safe pass, or paragraph and bullets)."""
        return token_budget(self.length, self.max_words)

    @property
    def source(self) -> str:
        """The text a summary of this pass may take names and numbers from."""
        return source_text(self.body, self.title)


@dataclass(frozen=True)
class Reading:
    """What the model reads of one article, and the figures the job reports about it."""

    body: str
    stats: InputStats


def read_article(
    article: Article,
    budget: int,
    count: Callable[[str], int],
    fit: Callable[[str, int], str],
) -> Reading:
    """The article's text when it fits `budget` tokens; else its most salient sentences in
    article order (or, with `truncate`, its beginning cut to the budget)."""
    text = article.text.strip()
    tokens = count(text)
    stats = InputStats(characters=len(article.text), tokens=tokens)
    if tokens <= budget:
        return Reading(text, stats)
    if not article.options.truncate:
        body = select_sentences(text, budget, count, article.title)
        if body:
            return Reading(body, stats.model_copy(update={"selected": True}))
    # Asked for, or nothing fits (one sentence longer than the window: a table, a list).
    return Reading(fit(text, budget), stats.model_copy(update={"truncated": True}))


def select_sentences(
    text: str, budget: int, count: Callable[[str], int], title: str | None = None
) -> str:
    """The best-ranked sentences that fit `budget` tokens together, in article order;
    sentences that were not neighbours are separated by a paragraph break. Empty when not
    even one fits."""
    # Imported on use: the ranking needs numpy, which the API loads only when it must.
    from nutgraf.summarize.textrank import ranked_sentences

    chosen = []
    used = 0
    for span in ranked_sentences(text, title):
        size = count(span.text) + _GAP_TOKENS
        # A later, shorter sentence may still fit where this one does not.
        if used + size <= budget:
            chosen.append(span)
            used += size
    chosen.sort(key=lambda span: span.start)
    parts: list[str] = []
    for index, span in enumerate(chosen):
        if index:
            between = text[chosen[index - 1].end : span.start]
            # Neighbours in the article stay one paragraph; a gap is a paragraph break.
            parts.append(" " if not between.strip() and "\n\n" not in between else "\n\n")
        parts.append(span.text)
    return "".join(parts)
