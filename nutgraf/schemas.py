"""Request and result shapes shared by the API, the worker and the CLI."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)

Length = Literal["headline", "short", "medium", "long"]
Format = Literal["paragraph", "bullets"]
Mode = Literal["abstractive", "extractive"]

# What an editor means by each length: (fewest, most) sentences, and a word cap for headlines.
SENTENCE_RANGES: dict[Length, tuple[int, int]] = {
    "headline": (1, 1),
    "short": (1, 2),
    "medium": (3, 4),
    "long": (5, 7),
}
HEADLINE_MAX_WORDS = 20


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("text must not be empty")
    return value


# An article body: a string with something in it besides whitespace.
ArticleText = Annotated[StrictStr, AfterValidator(_not_blank)]


class SummaryOptions(BaseModel):
    """Every option that changes a summary; all of it goes into the cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    length: Length = "medium"
    format: Format = "paragraph"
    mode: Mode = "abstractive"
    max_words: int | None = Field(default=None, ge=5, le=1000)
    strict: bool = False
    truncate: bool = False


class SummaryRequest(BaseModel):
    """Body of POST /v1/summaries."""

    model_config = ConfigDict(extra="forbid")

    text: ArticleText = Field(description="The article body.")
    title: StrictStr | None = Field(default=None, description="Optional headline.")
    model: StrictStr | None = Field(default=None, description="Preset name, HF id or path.")
    length: Length = Field(default="medium", description="headline, short, medium or long.")
    format: Format = Field(default="paragraph", description="paragraph, or bullets.")
    mode: Mode = Field(default="abstractive", description="abstractive (model) or extractive.")
    max_words: StrictInt | None = Field(default=None, ge=5, le=1000, description="Word cap.")
    strict: StrictBool = Field(default=False, description="Regenerate once if unsupported.")
    truncate: StrictBool = Field(default=False, description="Cut long articles, not chunk.")
    callback_url: StrictStr | None = Field(
        default=None, description="POSTed the signed job body when it ends (http or https)."
    )

    def options(self) -> SummaryOptions:
        """The output-changing options of this request."""
        return SummaryOptions(
            length=self.length,
            format=self.format,
            mode=self.mode,
            max_words=self.max_words,
            strict=self.strict,
            truncate=self.truncate,
        )


class BatchItem(BaseModel):
    """One article of POST /v1/batches; options left out take the batch's defaults."""

    model_config = ConfigDict(extra="forbid")

    id: StrictStr = Field(min_length=1, max_length=200, description="The client's own id.")
    text: ArticleText = Field(description="The article body.")
    title: StrictStr | None = Field(default=None, description="Optional headline.")
    model: StrictStr | None = None
    length: Length | None = None
    format: Format | None = None
    mode: Mode | None = None
    max_words: StrictInt | None = Field(default=None, ge=5, le=1000)
    strict: StrictBool | None = None
    truncate: StrictBool | None = None


class BatchRequest(BaseModel):
    """Body of POST /v1/batches: the items, and defaults for their options."""

    model_config = ConfigDict(extra="forbid")

    items: list[BatchItem] = Field(description="The articles (at least one), each with an id.")
    model: StrictStr | None = Field(default=None, description="Default model for every item.")
    length: Length = "medium"
    format: Format = "paragraph"
    mode: Mode = "abstractive"
    max_words: StrictInt | None = Field(default=None, ge=5, le=1000)
    strict: StrictBool = False
    truncate: StrictBool = False
    callback_url: StrictStr | None = Field(
        default=None, description="POSTed the signed batch body when every item has ended."
    )

    def request_for(self, item: BatchItem) -> SummaryRequest:
        """The single-summary request an item stands for, with the batch's defaults."""
        fields = {
            name: getattr(item, name) if getattr(item, name) is not None else getattr(self, name)
            for name in ("model", "length", "format", "mode", "max_words", "strict", "truncate")
        }
        return SummaryRequest(text=item.text, title=item.title, **fields)


class InputStats(BaseModel):
    """What the engine read of the article."""

    characters: int
    tokens: int | None = Field(description="Model tokens read; null in extractive mode.")
    chunks: int = 1
    truncated: bool = False


class Span(BaseModel):
    """A sentence of the article: text == article[start:end]."""

    text: str
    start: int
    end: int


class Checks(BaseModel):
    """Faithfulness report: numbers and names the summary states and the article lacks."""

    unsupported: list[str] = Field(default_factory=list)
    regenerated: bool = False


class SummaryResult(BaseModel):
    """What the engine returns for one article."""

    summary: str
    input: InputStats
    bullets: list[str] | None = None
    sentences: list[Span] | None = None
    checks: Checks = Field(default_factory=Checks)
    generated_tokens: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form for Redis."""
        return self.model_dump(mode="json")
