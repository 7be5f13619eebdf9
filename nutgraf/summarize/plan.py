"""What each pass reads: an article whole when it fits, else map-reduce over its chunks.

An ArticlePlan follows one article through the levels: at each, its text (the article,
then the joined partial summaries of its chunks) either fits the final pass or is cut into
chunks whose summaries the next level reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nutgraf.contract import Format, InputStats, Length
from nutgraf.models import Backend, Generation
from nutgraf.summarize.article import Article
from nutgraf.text import clean_summary, sentences

# New-token budgets (min, max) per length; seq2seq models need a floor or they stop early.
TOKEN_BUDGETS: dict[Length, tuple[int, int]] = {
    "headline": (5, 40),
    "short": (20, 80),
    "medium": (50, 160),
    "long": (100, 300),
}
# Partial summaries of chunks keep more facts than the final one needs.
CHUNK_LENGTH: Length = "medium"
# Map-reduce depth limit: past it, the remaining text is cut to the window (and says so).
MAX_REDUCE_LEVELS = 4
# A sentence longer than a chunk is cut into pieces this many tokens under the budget.
_PIECE_SLACK = 8


@dataclass(frozen=True)
class Pass:
    """One input to one generate() call: a whole article, a chunk, or joined partials."""

    body: str
    title: str | None
    length: Length
    format: Format
    safe: bool = False
    max_new: int | None = None  # overrides the length's token budget (map passes)
    partials: bool = False  # the body is the joined summaries of an article's parts

    @property
    def settings(self) -> tuple[Length, Format, bool, int | None]:
        """What generate() is called with: passes that share it share a batch."""
        return self.length, self.format, self.safe, self.max_new


@dataclass
class ArticlePlan:
    """One article's way through the map-reduce levels, and what came out of it."""

    article: Article
    budget: int  # tokens of text the final pass can read
    text: str  # what the next level reads: the article, then its joined partials
    stats: InputStats
    previous: int | None = None  # tokens of text at the level before
    chunks: list[str] = field(default_factory=list)
    final: Pass | None = None  # set at the level where the text is summarized whole
    output: Generation | None = None

    @classmethod
    def start(cls, article: Article, backend: Backend, budget: int) -> ArticlePlan:
        """The plan at level 0: the article's text, counted once for its stats."""
        text = article.text.strip()
        stats = InputStats(characters=len(article.text), tokens=backend.count(text), chunks=1)
        return cls(article, budget, text, stats)

    @property
    def done(self) -> bool:
        """Whether the final pass has been chosen."""
        return self.final is not None

    def step(self, level: int, backend: Backend, chunk_budget: int) -> list[Pass]:
        """This level's passes: the final one when the text fits (or must be cut: truncate
        asked, no progress, or the last level), else one per chunk."""
        options = self.article.options
        # Level 0 reads the article itself, already counted for its stats.
        size = (self.stats.tokens or 0) if level == 0 else backend.count(self.text)
        fits = size <= self.budget
        # No progress (a model that writes partials as long as its input): stop.
        stalled = self.previous is not None and size >= self.previous
        self.previous = size
        if fits or options.truncate or stalled or level == MAX_REDUCE_LEVELS:
            if not fits:
                self.stats = self.stats.model_copy(update={"truncated": True})
            self.final = Pass(
                self.text, self.article.title, options.length, options.format, partials=level > 0
            )
            return [self.final]
        self.chunks = chunk(self.text, chunk_budget, backend)
        if level == 0:
            self.stats = self.stats.model_copy(update={"chunks": len(self.chunks)})
        # Partials sized so that, joined, they fit the final pass in one go; and at most a
        # sixth of a chunk, so every level shrinks the text (even when decoded text
        # re-encodes longer) and the recursion ends.
        tokens = max(
            16,
            min(TOKEN_BUDGETS[CHUNK_LENGTH][1], chunk_budget // 6, self.budget // len(self.chunks)),
        )
        title = self.article.title
        return [Pass(c, title, CHUNK_LENGTH, "paragraph", max_new=tokens) for c in self.chunks]

    def read(self, outputs: list[Generation]) -> None:
        """Take this level's outputs: the final summary, or the partials the next level reads."""
        if self.final is not None:
            (self.output,) = outputs
            return
        parts = [clean_summary(output.text) for output in outputs]
        self.text = "\n\n".join(p for p in parts if p)


def chunk(text: str, budget: int, backend: Backend) -> list[str]:
    """Consecutive sentences packed into chunks of at most `budget` tokens."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for sentence in sentences(text):
        size = backend.count(sentence) + 1
        # One enormous "sentence" (a table, a list) is cut by tokens.
        if size > budget:
            pieces = backend.pieces(sentence, max(1, budget - _PIECE_SLACK))
        else:
            pieces = [sentence]
        for piece in pieces:
            piece_size = min(size, budget)
            if current and used + piece_size > budget:
                chunks.append(" ".join(current))
                current, used = [], 0
            current.append(piece)
            used += piece_size
    if current:
        chunks.append(" ".join(current))
    return chunks
