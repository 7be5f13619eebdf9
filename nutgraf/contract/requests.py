"""Request bodies of the HTTP API v1 (they validate the requests and feed OpenAPI)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from nutgraf.contract.options import Format, Length, Mode, SummaryOptions


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("text must not be empty")
    return value


# An article body: a string with something in it besides whitespace.
ArticleText = Annotated[StrictStr, AfterValidator(_not_blank)]


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
