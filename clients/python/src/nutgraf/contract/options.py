"""The summary options, declared once: the requests, the cache key, the engine, the
OpenAPI document and the client all take their fields from OptionFields."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from nutgraf.contract.limits import MAX_WORDS_MAX, MAX_WORDS_MIN

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


class OptionFields(BaseModel):
    """The options that change a summary: each one's name, type, default and bounds."""

    length: Length = "medium"
    format: Format = "paragraph"
    mode: Mode = "abstractive"
    max_words: int | None = Field(default=None, ge=MAX_WORDS_MIN, le=MAX_WORDS_MAX)
    strict: bool = False
    truncate: bool = False


OPTION_FIELDS: Final = tuple(OptionFields.model_fields)

# How POST /v1/summaries describes each option in the OpenAPI document.
OPTION_DESCRIPTIONS: Final = {
    "length": "headline, short, medium or long.",
    "format": "paragraph, or bullets.",
    "mode": "abstractive (model) or extractive.",
    "max_words": "Word cap.",
    "strict": "Every sentence found in the article.",
    "truncate": "Cut long articles, not chunk.",
}


class SummaryOptions(OptionFields):
    """Every option that changes a summary; all of it goes into the cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def option_fields_model(
    name: str, *, overrides: bool = False, described: bool = False
) -> type[BaseModel]:
    """A model of just the option fields, derived from OptionFields: with their defaults, or
    (`overrides`) each one nullable and None when left out; with OPTION_DESCRIPTIONS or not."""
    fields: dict[str, Any] = {}
    for option, info in OptionFields.model_fields.items():
        annotation: Any = info.annotation
        if overrides:
            annotation = annotation | None
        # The bounds (ge/le) travel as metadata on the type; the default is set afresh.
        typed = Annotated[annotation, *info.metadata] if info.metadata else annotation
        default = None if overrides else info.default
        description = OPTION_DESCRIPTIONS[option] if described else None
        fields[option] = (typed, Field(default=default, description=description))
    return create_model(name, **fields)
