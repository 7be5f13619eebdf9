"""The unit of work: one article and the options an editor chose for its summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from nutgraf.contract import SummaryOptions


@dataclass(frozen=True)
class Article:
    """One article to summarize."""

    text: str
    title: str | None = None
    options: SummaryOptions = field(default_factory=SummaryOptions)
