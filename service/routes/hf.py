"""POST /hf/models/<name>: the Hugging Face Inference API's summarization task, so that
huggingface_hub's InferenceClient (and other HF clients) can use nutgraf unchanged.

Each input goes through the very path of POST /v1/summaries (service.routes.summaries:
cache, in-flight dedup, queue limit, the key's ownership); the request then waits, in one
of the process's wait slots, up to NUTGRAF_HF_WAIT_S for the summaries. Errors take HF's
shape (service.errors); a 503 carries `estimated_time`, as HF's does while a model loads.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from flask import Blueprint, Response, g, jsonify

from nutgraf.contract import TERMINAL
from nutgraf.contract.hf import HfSummaries, HfSummarizationRequest, hf_options
from nutgraf.models.specs import ModelSpec
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from service import context
from service.apidoc import Reply, documented
from service.errors import (
    RETRY_AFTER_S,
    ApiError,
    InternalError,
    InvalidRequest,
    JobCancelled,
    NotFound,
    NotReady,
    Overloaded,
    SummarizationFailed,
    TextTooLong,
    Unavailable,
)
from service.routes.health import ready_workers
from service.routes.summaries import submit_summary
from service.validation import (
    BODY_ERRORS,
    check_text_length,
    read_json_object,
    served_spec,
    validate,
)

log = logging.getLogger(__name__)
hf = Blueprint("hf", __name__, url_prefix="/hf")

# The path's name for the deployment's default model.
DEFAULT_NAME = "default"
# HF's usual estimate while a model loads; loading a preset takes seconds to a minute.
LOADING_ESTIMATE_S = 20
# A failed job's code -> the error this route answers with. The worker's own faults
# (lost, timed out, model not loadable) are 503s to retry; what is wrong with the article
# is a 4xx; anything else a 500.
JOB_ERRORS: dict[str, type[ApiError]] = {
    "article_too_long": TextTooLong,
    "text_too_long": TextTooLong,
    "invalid_request": InvalidRequest,
    "summarization_failed": SummarizationFailed,
    "cancelled": JobCancelled,
    "model_unavailable": NotReady,
    "worker_lost": NotReady,
    "timeout": NotReady,
    "expired": NotReady,
    "unavailable": NotReady,
}


@hf.post("/models/<path:name>")
@documented(
    "Summarize, as the Hugging Face Inference API",
    "hf",
    {200: Reply("One summary per input, in order.", HfSummaries)},
    errors=(
        *BODY_ERRORS,
        NotFound,
        TextTooLong,
        JobCancelled,
        SummarizationFailed,
        Unavailable,
        Overloaded,
        NotReady,
    ),
    description="HF's summarization task: `huggingface_hub.InferenceClient(base_url="
    '"<service>/hf/models/<name>").summarization(text)` works as against HF. `name` is a '
    "model this deployment serves (as GET /v1/models lists it) or `default`. Each input is "
    "a POST /v1/summaries (cached, shared while in flight, owned by the key); the request "
    "waits up to NUTGRAF_HF_WAIT_S for every summary, else 503 with `estimated_time` (the "
    "jobs go on: the same request again picks them up). Errors have HF's body "
    '`{"error": "...", "error_type": "<code>"}`, plus `estimated_time` on a 503.',
    body=HfSummarizationRequest,
    operation_id="hf_summarize",
)
def summarize(name: str) -> Response:
    """Summarize `inputs` on model `name` and wait for the summaries: HF's answer shape."""
    settings, store = context.settings(), context.store()
    spec, model = _model(name.rstrip("/"), settings)
    raw = read_json_object()
    inputs = raw.get("inputs")
    for text in inputs if isinstance(inputs, list) else [inputs]:
        if isinstance(text, str):  # 413 for size before the schema's 422, as on /v1
            check_text_length(len(text), settings)
    req = validate(HfSummarizationRequest, raw)
    texts = req.texts()
    if len(texts) > settings.max_batch_items:
        raise InvalidRequest(
            f"inputs: {len(texts)} articles; the limit is {settings.max_batch_items} "
            "(NUTGRAF_MAX_BATCH_ITEMS)"
        )
    options = hf_options(req.parameters)
    submitted = [
        submit_summary({"text": text, "model": model, **options}, settings, store) for text in texts
    ]
    bodies = [body or _read(store, job_id) for job_id, body in submitted]
    if len(bodies) == 1:  # for the request's log line and the cache metrics
        g.job_id, g.cached = bodies[0]["id"], bodies[0]["cached"]
    if any(body["status"] not in TERMINAL for body in bodies):
        _check_model_ready(store, spec, req.waits_for_model())
        bodies = _wait(store, bodies, settings.hf_wait_s)
    for body in bodies:
        if body["status"] != "succeeded":
            raise _job_error(body)
    return jsonify([{"summary_text": body["summary"]} for body in bodies])


def _model(name: str, settings: Settings) -> tuple[ModelSpec, str | None]:
    """The served model the path names, and the `model` its jobs are submitted with."""
    if name == DEFAULT_NAME:
        name = settings.model
    spec = served_spec(name, settings)
    if spec is None:
        served = ", ".join([DEFAULT_NAME, *settings.models])
        raise NotFound(f"model {name!r} is not served here; this service serves: {served}")
    return spec, None if name == settings.model else name


def _read(store: JobStore, job_id: str) -> dict[str, Any]:
    body = store.get(job_id)
    if body is None:
        raise Unavailable("the job record vanished; try again")
    return body


def _check_model_ready(store: JobStore, spec: ModelSpec, wait_for_model: bool) -> None:
    """503 at once, as HF answers while a model loads, when nothing could run the jobs
    within the wait (unless the request asked to wait for the model)."""
    workers = store.workers()
    if not workers:
        raise NotReady("no worker is running; the jobs are queued", RETRY_AFTER_S)
    loading = not ready_workers(workers, spec.name) and any(w.get("loading") for w in workers)
    if loading and not wait_for_model:
        raise NotReady(f"model {spec.name} is currently loading", LOADING_ESTIMATE_S)


def _wait(store: JobStore, bodies: list[dict[str, Any]], wait_s: float) -> list[dict[str, Any]]:
    """The jobs' bodies once all have ended, in one wait slot; 503 past `wait_s`."""
    with context.wait_slot() as waiting:
        if not waiting:
            # No thread to spare for waiting: the jobs run on, a retry finds them.
            raise NotReady("every wait slot of this API process is taken; the jobs are queued")
        deadline = time.monotonic() + wait_s
        ended = []
        for body in bodies:
            if body["status"] not in TERMINAL:
                remaining = max(0.0, deadline - time.monotonic())
                body = store.wait_for_end(body["id"], remaining) or body
            ended.append(body)
    unended = [body for body in ended if body["status"] not in TERMINAL]
    if unended:
        raise NotReady(
            f"the summaries were not ready within {wait_s:g} s (NUTGRAF_HF_WAIT_S); the jobs "
            "go on, and the same request again picks them up",
            _estimated_s(store, unended),
        )
    return ended


def _estimated_s(store: JobStore, bodies: list[dict[str, Any]]) -> int:
    """Seconds until the last of these jobs is expected to end: a queued one's ETA in its
    lane, a running one's a job's time at its lane's rate (the figures of `queue.eta_s`)."""
    estimates = []
    for body in bodies:
        place = store.lanes.place(body["id"]) if body["status"] == "queued" else None
        eta = place["eta_s"] if place else store.lanes.eta_s(body["priority"], 1)
        if eta is not None:
            estimates.append(eta)
    return math.ceil(max(estimates)) if estimates else RETRY_AFTER_S


def _job_error(body: dict[str, Any]) -> ApiError:
    """The error answering for a job that did not succeed."""
    error = body.get("error") or {}
    code = error.get("code", body["status"])
    cls = JOB_ERRORS.get(code, InternalError)
    message = f"job {body['id']} {body['status']} ({code}): {error.get('message', '')}"
    log.warning("%s", message)
    return cls(message.rstrip(": "))
