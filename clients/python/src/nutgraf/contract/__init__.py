"""The HTTP contract, defined once: options, limits, states, request, result and response shapes.

The API validates with these models, the OpenAPI document is generated from them, the
worker and the engine exchange results in them, and the Python client parses with them.
"""

from nutgraf.contract.limits import (
    DEFAULT_RESULTS_PAGE,
    MAX_CLIENT_ID_CHARS,
    MAX_CURSOR,
    MAX_ID_CHARS,
    MAX_IDEMPOTENCY_KEY_CHARS,
    MAX_RESULTS_PAGE,
    MAX_WAIT_S,
    MAX_WORDS_MAX,
    MAX_WORDS_MIN,
)
from nutgraf.contract.options import (
    HEADLINE_MAX_WORDS,
    OPTION_FIELDS,
    SENTENCE_RANGES,
    Format,
    Length,
    Mode,
    OptionFields,
    SummaryOptions,
)
from nutgraf.contract.requests import (
    ArticleText,
    BatchItem,
    BatchRequest,
    CheckRequest,
    SummaryRequest,
)
from nutgraf.contract.responses import (
    BatchBody,
    BatchCounts,
    BatchResultItem,
    BatchResults,
    CheckBody,
    CheckedSentence,
    ErrorBody,
    ErrorDetail,
    JobBody,
    ModelsList,
    Problem,
    ProblemKind,
)
from nutgraf.contract.results import (
    Checks,
    InputStats,
    SentenceSupport,
    Span,
    SummaryResult,
)
from nutgraf.contract.states import BATCH_TERMINAL, LANES, TERMINAL, BatchStatus, JobStatus, Lane

__all__ = [
    "BATCH_TERMINAL",
    "DEFAULT_RESULTS_PAGE",
    "HEADLINE_MAX_WORDS",
    "LANES",
    "MAX_CLIENT_ID_CHARS",
    "MAX_CURSOR",
    "MAX_IDEMPOTENCY_KEY_CHARS",
    "MAX_ID_CHARS",
    "MAX_RESULTS_PAGE",
    "MAX_WAIT_S",
    "MAX_WORDS_MAX",
    "MAX_WORDS_MIN",
    "OPTION_FIELDS",
    "SENTENCE_RANGES",
    "TERMINAL",
    "ArticleText",
    "BatchBody",
    "BatchCounts",
    "BatchItem",
    "BatchRequest",
    "BatchResultItem",
    "BatchResults",
    "BatchStatus",
    "CheckBody",
    "CheckRequest",
    "CheckedSentence",
    "Checks",
    "ErrorBody",
    "ErrorDetail",
    "Format",
    "InputStats",
    "JobBody",
    "JobStatus",
    "Lane",
    "Length",
    "Mode",
    "ModelsList",
    "OptionFields",
    "Problem",
    "ProblemKind",
    "SentenceSupport",
    "Span",
    "SummaryOptions",
    "SummaryRequest",
    "SummaryResult",
]
