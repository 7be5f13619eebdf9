"""The HTTP contract, defined once: options, limits, request, result and response shapes.

The API validates with these models, the OpenAPI document is generated from them, the
worker and the engine exchange results in them, and the Python client parses with them.
"""

from nutgraf.contract.options import (
    HEADLINE_MAX_WORDS,
    SENTENCE_RANGES,
    Format,
    Length,
    Mode,
    SummaryOptions,
)
from nutgraf.contract.requests import ArticleText, BatchItem, BatchRequest, SummaryRequest
from nutgraf.contract.results import Checks, InputStats, Span, SummaryResult

__all__ = [
    "HEADLINE_MAX_WORDS",
    "SENTENCE_RANGES",
    "ArticleText",
    "BatchItem",
    "BatchRequest",
    "Checks",
    "Format",
    "InputStats",
    "Length",
    "Mode",
    "Span",
    "SummaryOptions",
    "SummaryRequest",
    "SummaryResult",
]
