"""Request and result shapes shared by the API, the worker and the CLI."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

Length = Literal["headline", "short", "medium", "long"]


class SummaryOptions(BaseModel):
    """Every option that changes a summary; all of it goes into the cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    length: Length = "medium"


class SummaryRequest(BaseModel):
    """Body of POST /v1/summaries."""

    model_config = ConfigDict(extra="forbid")

    text: StrictStr = Field(description="The article body.")
    title: StrictStr | None = Field(default=None, description="Optional headline.")
    model: StrictStr | None = Field(default=None, description="Preset name, HF id or path.")
    length: Length = Field(default="medium", description="Summary length.")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be empty")
        return value

    def options(self) -> SummaryOptions:
        """The output-changing options of this request."""
        return SummaryOptions(length=self.length)


class InputStats(BaseModel):
    """What the engine read of the article."""

    characters: int
    tokens: int
    chunks: int = 1
    truncated: bool = False


class SummaryResult(BaseModel):
    """What the engine returns for one article."""

    summary: str
    input: InputStats
    generated_tokens: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form for Redis."""
        return self.model_dump(mode="json")
