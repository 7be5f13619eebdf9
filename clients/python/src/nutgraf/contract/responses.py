"""Response bodies of the HTTP API v1, as pydantic models.

They describe what the API sends: the OpenAPI document (service/openapi.py) is generated
from them, tests validate real responses against them, and the Python client parses the
answers with subclasses of them (nutgraf/client/bodies.py). The API sends the bodies that
the store builds as plain dicts (nutgraf/store/bodies.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nutgraf.contract.options import SummaryOptions
from nutgraf.contract.results import Span
from nutgraf.contract.states import BatchStatus, CallbackState, JobStatus, Lane


class ResponseModel(BaseModel):
    """Base of response bodies: every field is always sent, so every field is required."""

    # Serialization-mode schemas then list fields with defaults as required too.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class ErrorDetail(ResponseModel):
    """A machine-readable code and a message for people."""

    code: str = Field(description="Stable machine-readable code, e.g. `not_found`.")
    message: str = Field(description="What went wrong, for people; may change.")


class ErrorBody(ResponseModel):
    """The body of every error response."""

    error: ErrorDetail


class ModelInfo(ResponseModel):
    """The model a job ran (or will run) on."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="Preset name, Hub id or path.")
    revision: str = Field(description="The model's revision; part of the cache key.")


class InputRead(ResponseModel):
    """What the engine read of the article (once the job has run)."""

    characters: int
    tokens: int | None = Field(description="Model tokens read; null in extractive mode.")
    chunks: int = Field(description="Passes the article was read in (always 1 now).")
    truncated: bool = Field(description="Whether the article was cut to the model's window.")
    selected: bool = Field(
        default=False,
        description="Whether the article was longer than the model's window and the model "
        "read its most salient sentences, in article order.",
    )


class InputReceived(ResponseModel):
    """What the API received of the article (before the job has run)."""

    characters: int


class OutputStats(ResponseModel):
    """What the model generated."""

    tokens: int


class JobChecks(ResponseModel):
    """Faithfulness report of a finished summary."""

    unsupported: list[str] = Field(
        description="Numbers and named entities the summary states and the article lacks."
    )
    regenerated: bool = Field(description="Whether the summary was generated a second time.")
    # Defaults for the fields added after v1 shipped: a client reads an older server's jobs.
    fallback: bool = Field(
        default=False,
        description="Whether the model's summary failed its checks and the extractive summary "
        "of the same length replaced it.",
    )
    fallback_reason: str | None = Field(
        default=None,
        description="Why the model's summary was replaced: `unsupported` (names or numbers "
        "the article lacks), `meta_talk`, `off_topic` (few of the article's words), "
        "`reversed` (a sentence says the opposite of its article sentences), `stitched` (a "
        "sentence stitched from pieces of different article sentences into a claim none "
        "makes), `length`, "
        "`empty`, `unsupported_sentence` (strict: a sentence no article sentence "
        "supports); null without a fallback.",
    )


class SentenceSupport(ResponseModel):
    """A summary sentence and the article's sentences that support it."""

    text: str = Field(description="The summary sentence.")
    support: list[Span] = Field(
        description="Article sentences that state what it says: text == article[start:end]."
    )


ProblemKind = Literal["unsupported", "reversed", "meta_talk", "off_topic"]


class Problem(ResponseModel):
    """One thing a check found wrong with a summary sentence, and the words at fault."""

    kind: ProblemKind = Field(
        description="`unsupported`: names or numbers the article lacks; `reversed`: it says "
        "the opposite of the article sentences that support it (a negation, an antonym, a "
        "figure's direction or subject); `meta_talk`: talk about the text rather than the "
        "news; `off_topic`: few of the article's words."
    )
    words: list[str] = Field(description="The sentence's words at fault, as it spells them.")


class CheckedSentence(ResponseModel):
    """A summary sentence, the article sentences that support it, and its problems."""

    text: str = Field(description="The summary sentence.")
    support: list[Span] = Field(
        description="Article sentences that state what it says: text == article[start:end]; "
        "empty when none does."
    )
    problems: list[Problem] = Field(description="What the checks found; empty: none.")


class CheckBody(ResponseModel):
    """What the checks found in a summary: each sentence's support and problems."""

    sentences: list[CheckedSentence]
    problems: list[ProblemKind] = Field(
        description="Every kind of problem any sentence has, once each; empty: it passes."
    )


class CallbackAttempt(ResponseModel):
    """One delivery attempt of a callback."""

    at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; null: no answer.")
    error: str | None = Field(description="Why the attempt failed; null when delivered.")


class Callback(ResponseModel):
    """Where a job's or batch's end is reported, and how that went."""

    url: str
    state: CallbackState
    attempts: list[CallbackAttempt]


class QueuePlace(ResponseModel):
    """Where a queued job stands in its lane."""

    lane: Lane
    position: int = Field(ge=1, description="1: the next job its lane starts.")
    eta_s: float | None = Field(
        description="Seconds until it is expected to start, from the lane's measured recent "
        "rate; null until a worker of the lane has run anything."
    )


class JobBody(ResponseModel):
    """A summary job: its status, and its summary once it has one."""

    id: str = Field(description="The job id.")
    status: JobStatus
    summary: str | None = Field(description="The summary; null until the job succeeded.")
    bullets: list[str] | None = Field(description="One sentence per item (format `bullets`).")
    sentences: list[Span] | None = Field(
        description="Extractive mode: the article's sentences the summary is made of."
    )
    checks: JobChecks | None
    provenance: list[SentenceSupport] | None = Field(
        default=None,
        description="Each summary sentence with the article spans that support it; an "
        "empty `support` means no article sentence does.",
    )
    model: ModelInfo | None = Field(
        description="The model; null only for a batch item refused before it could run."
    )
    options: SummaryOptions
    cached: bool = Field(description="Whether the summary came from the cache.")
    created_at: datetime
    completed_at: datetime | None
    input: InputRead | InputReceived
    output: OutputStats | None
    error: ErrorDetail | None = Field(
        description="Why the job failed or was cancelled (e.g. `timeout`, `worker_lost`, "
        "`model_unavailable`, `cancelled`, `unavailable`, `invalid_request`, `text_too_long`)."
    )
    callback: Callback | None = Field(description="Null unless the request had callback_url.")
    priority: Lane = Field(default="interactive", description="The job's lane.")
    ref: str | None = Field(default=None, description="The story id it was submitted with.")
    queue: QueuePlace | None = Field(
        default=None, description="While `queued`: its lane, position and ETA; else null."
    )


class BatchCounts(ResponseModel):
    """A batch's items per status."""

    total: int
    queued: int
    running: int
    succeeded: int
    failed: int
    cancelled: int


class BatchBody(ResponseModel):
    """A batch: its status and progress; the items are under `results_url`."""

    id: str = Field(description="The batch id.")
    status: BatchStatus = Field(
        description="Once every item ended: succeeded (all did), failed (none did) or "
        "partially_succeeded (cancelled items count as not succeeded)."
    )
    created_at: datetime
    completed_at: datetime | None
    counts: BatchCounts
    progress: float = Field(ge=0, le=1, description="Ended items / total.")
    callback: Callback | None = Field(description="Null unless the request had callback_url.")
    results_url: str = Field(description="`/v1/batches/<id>/results`.")
    eta_s: float | None = Field(
        default=None,
        description="Seconds until its last queued item is expected to start, from its "
        "lane's measured recent rate; null when none is queued, or nothing has been measured.",
    )


class BatchResultItem(JobBody):
    """One item of a batch: the job body, with the client's id and the job id."""

    id: str = Field(description="The client's id of the item.")
    job_id: str = Field(description="The id of the item's job (GET /v1/summaries/<job_id>).")


class BatchResults(ResponseModel):
    """A page of a batch's items, in submission order."""

    batch: str = Field(description="The batch id.")
    items: list[BatchResultItem]
    next_cursor: int | None = Field(description="Cursor of the next page; null on the last.")


class ModelListing(ResponseModel):
    """A model this deployment serves."""

    name: str
    source: str = Field(description="Hub id, local path or bundled file it loads from.")
    revision: str
    family: Literal["seq2seq", "causal"] | None = Field(
        description="Architecture; null until read from the model's config."
    )
    description: str
    default: bool = Field(description="Whether requests without `model` use it.")
    bundled: bool = Field(
        description="Whether it is the small model bundled for offline use "
        "(`smollm2-135m`): it proves the plumbing, not the quality."
    )
    auto: str | None = Field(
        description="Why NUTGRAF_MODEL=auto chose this model (`distilbart cached`, "
        "`Hub reachable`, `offline: bundled model`); null unless `auto` chose it."
    )


class ModelsList(ResponseModel):
    """The models this deployment serves; the first one is the default."""

    models: list[ModelListing]


class HealthBody(ResponseModel):
    """Liveness: the process runs."""

    status: Literal["ok"]


class ReadyBody(ResponseModel):
    """Readiness: Redis answers and workers have the default model loaded."""

    status: Literal["ready"]
    workers: int = Field(description="Workers with the default model loaded.")
    model: str = Field(description="The default model.")
    auto: str | None = Field(
        description="Why NUTGRAF_MODEL=auto chose the default model; null when it was named."
    )
    dtype: str | None = Field(
        description="The precision a ready worker loaded it in, and why: `bfloat16 (auto: the "
        "CPU has native bfloat16 (amx_bf16); ...)`; null from workers that do not say."
    )
    redis: str = Field(
        description="host:port of the Redis primary this API process writes to; with "
        "Sentinel, the one the Sentinels name now."
    )


class SummaryCompleted(ResponseModel):
    """The callback POSTed to a job's callback_url when it ends."""

    type: Literal["summary.completed"]
    job: JobBody


class BatchCompleted(ResponseModel):
    """The callback POSTed to a batch's callback_url when its last item ends."""

    type: Literal["batch.completed"]
    batch: BatchBody
