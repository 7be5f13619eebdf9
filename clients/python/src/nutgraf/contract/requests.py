"""Request bodies of the HTTP API v1 (they validate the requests and feed OpenAPI).

The option fields come from nutgraf.contract.options, never restated here. Pydantic
orders a model's fields base class first (the last base first), then its own; the bases
below are listed so that the published schemas keep the order people read them in.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
)

from nutgraf.contract.limits import MAX_CLIENT_ID_CHARS, MAX_REF_CHARS
from nutgraf.contract.options import (
    OPTION_FIELDS,
    OptionFields,
    SummaryOptions,
    option_fields_model,
)
from nutgraf.contract.states import Lane

if TYPE_CHECKING:
    # Type checkers cannot see fields made at run time: the described options have the
    # very fields of OptionFields; an override's fields (possibly None) stay unknown.
    _DescribedOptions = OptionFields

    class _OptionOverrides(BaseModel):
        pass

else:
    _DescribedOptions = option_fields_model("_DescribedOptions", described=True)
    _OptionOverrides = option_fields_model("_OptionOverrides", overrides=True)

# Requests take JSON as it is: no "5" for 5, no 1 for true.
STRICT = ConfigDict(extra="forbid", strict=True)


# C0 controls but tab, newline and carriage return, and DEL: never part of an article, and
# a NUL breaks tools downstream. Refused rather than stripped, so that what is summarized
# and cached is exactly what was sent.
_CONTROL_CLASS = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f"
_CONTROL = re.compile(f"[{_CONTROL_CLASS}]")


def _ranges(codes: list[int]) -> str:
    """A regex class body for these code points, as \\uXXXX ranges (ECMA-262 and re alike)."""
    spans: list[list[int]] = []
    for code in codes:
        if spans and spans[-1][1] == code - 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in spans)


# What str.strip() removes (all of it in the BMP), less the controls, refused anyway:
# spelled out, because \s means other characters in ECMA-262 (JSON Schema's regex dialect)
# than in Python: U+0085 is space to Python only, U+FEFF to ECMA-262 only.
_SPACE_CLASS = _ranges(
    [c for c in range(0x10000) if chr(c).isspace() and not _CONTROL.match(chr(c))]
)
# The JSON Schema patterns that say what the validators below enforce, so that the
# published schema (and what schemathesis generates from it) matches what is accepted.
HEADLINE_PATTERN = f"^[^{_CONTROL_CLASS}]*$"
ARTICLE_PATTERN = f"^[{_SPACE_CLASS}]*[^{_CONTROL_CLASS}{_SPACE_CLASS}][^{_CONTROL_CLASS}]*$"


def _no_control_characters(value: str) -> str:
    found = _CONTROL.search(value)
    if found:
        raise ValueError(
            f"control character U+{ord(found.group()):04X} at position {found.start()}; "
            "only tab, newline and carriage return are allowed"
        )
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("text must not be empty")
    return value


# An article body: a string with something in it besides whitespace, and no control codes.
ArticleText = Annotated[
    StrictStr,
    AfterValidator(_not_blank),
    AfterValidator(_no_control_characters),
    WithJsonSchema({"type": "string", "minLength": 1, "pattern": ARTICLE_PATTERN}),
]
# A headline: any string without control codes.
Headline = Annotated[
    StrictStr,
    AfterValidator(_no_control_characters),
    WithJsonSchema({"type": "string", "pattern": HEADLINE_PATTERN}),
]


# A CMS's story id: any characters but controls, at most MAX_REF_CHARS of them.
StoryRef = Annotated[
    StrictStr,
    StringConstraints(min_length=1, max_length=MAX_REF_CHARS),
    AfterValidator(_no_control_characters),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": MAX_REF_CHARS, "pattern": HEADLINE_PATTERN}
    ),
]
_REF_DESCRIPTION = (
    "The CMS's story id: a newer submission with the same `ref` from the same "
    "API key ends this job `cancelled` (error `superseded`) if it has not ended."
)


class _ItemId(BaseModel):
    id: StrictStr = Field(
        min_length=1, max_length=MAX_CLIENT_ID_CHARS, description="The client's own id."
    )


class _Article(BaseModel):
    text: ArticleText = Field(description="The article body.")
    title: Headline | None = Field(default=None, description="Optional headline.")
    model: StrictStr | None = None


class SummaryRequest(_DescribedOptions, _Article):
    """Body of POST /v1/summaries."""

    model_config = STRICT

    # Described here; a field declared again keeps its place (after `title`).
    model: StrictStr | None = Field(default=None, description="Preset name, HF id or path.")
    callback_url: StrictStr | None = Field(
        default=None, description="POSTed the signed job body when it ends (http or https)."
    )
    priority: Lane | None = Field(
        default=None,
        description="The lane: `interactive` (default: someone waits) or `bulk` (a backfill).",
    )
    ref: StoryRef | None = Field(default=None, description=_REF_DESCRIPTION)

    def options(self) -> SummaryOptions:
        """The output-changing options of this request."""
        return SummaryOptions(**{name: getattr(self, name) for name in OPTION_FIELDS})


class CheckRequest(BaseModel):
    """Body of POST /v1/checks: an article and a summary of it, from anyone."""

    model_config = STRICT

    text: ArticleText = Field(description="The article body.")
    summary: ArticleText = Field(
        description="The summary to check: a paragraph, or one item per line (`- ...`)."
    )
    title: Headline | None = Field(default=None, description="Optional headline.")


class BatchItem(_OptionOverrides, _Article, _ItemId):
    """One article of POST /v1/batches; options left out take the batch's defaults."""

    model_config = STRICT

    ref: StoryRef | None = Field(default=None, description=_REF_DESCRIPTION)


class _BatchItems(BaseModel):
    # Not strict: the items are dicts to validate into BatchItem, not BatchItem objects.
    items: list[BatchItem] = Field(
        strict=False,
        description="The articles (at least one), each with an id.",
        # Schema only: parse_batch_request refuses an empty list before this model runs.
        json_schema_extra={"minItems": 1},
    )
    model: StrictStr | None = Field(default=None, description="Default model for every item.")


class BatchRequest(OptionFields, _BatchItems):
    """Body of POST /v1/batches: the items, and defaults for their options."""

    model_config = STRICT

    callback_url: StrictStr | None = Field(
        default=None, description="POSTed the signed batch body when every item has ended."
    )
    priority: Lane | None = Field(
        default=None,
        description="The lane of every item: `bulk` (default: a backfill) or `interactive`.",
    )

    def request_for(self, item: BatchItem) -> SummaryRequest:
        """The single-summary request an item stands for, with the batch's defaults."""
        fields: dict[str, Any] = {}
        for name in ("model", *OPTION_FIELDS):
            value = getattr(item, name)
            fields[name] = value if value is not None else getattr(self, name)
        return SummaryRequest(
            text=item.text,
            title=item.title,
            priority=self.priority or "bulk",
            ref=item.ref,
            **fields,
        )
