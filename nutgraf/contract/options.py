"""The summary options, defined once: the requests, the cache key, the engine and the
client all take their fields from here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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


class SummaryOptions(BaseModel):
    """Every option that changes a summary; all of it goes into the cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    length: Length = "medium"
    format: Format = "paragraph"
    mode: Mode = "abstractive"
    max_words: int | None = Field(default=None, ge=5, le=1000)
    strict: bool = False
    truncate: bool = False
