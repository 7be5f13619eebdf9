"""What the engine returns for one article, stored in the job record as JSON."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class InputStats(BaseModel):
    """What the engine read of the article."""

    characters: int
    tokens: int | None = Field(description="Model tokens read; null in extractive mode.")
    chunks: int = 1
    truncated: bool = False
    selected: bool = False


class Span(BaseModel):
    """A sentence of the article: text == article[start:end]."""

    text: str
    start: int
    end: int


class Checks(BaseModel):
    """Faithfulness report: numbers and names the summary states and the article lacks, and
    whether the model's summary was replaced by the extractive one (and why)."""

    unsupported: list[str] = Field(default_factory=list)
    regenerated: bool = False
    fallback: bool = False
    fallback_reason: str | None = None


class SentenceSupport(BaseModel):
    """One summary sentence and the article sentences that support it."""

    text: str
    support: list[Span] = Field(default_factory=list)


class SummaryResult(BaseModel):
    """What the engine returns for one article."""

    summary: str
    input: InputStats
    bullets: list[str] | None = None
    sentences: list[Span] | None = None
    checks: Checks = Field(default_factory=Checks)
    provenance: list[SentenceSupport] | None = None
    generated_tokens: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form for Redis."""
        return self.model_dump(mode="json")
