"""The unit of work: one article and the options an editor chose for its summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nutgraf.contract import SummaryOptions


@dataclass(frozen=True)
class Article:
    """One article to summarize."""

    text: str
    title: str | None = None
    options: SummaryOptions = field(default_factory=SummaryOptions)
    # Asked between decoding steps: True stops this article's generation (its job was
    # cancelled), while the others of its batch go on. Its result is then not to be used.
    stop: Callable[[], bool] | None = field(default=None, compare=False, repr=False)

    @property
    def stopped(self) -> bool:
        """Whether the article's generation has been told to stop."""
        return self.stop is not None and self.stop()
