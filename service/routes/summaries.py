"""One article, one summary job: submit it, read it back, cancel it."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from nutgraf.contract import MAX_ID_CHARS, MAX_WAIT_S, TERMINAL, JobBody, SummaryRequest
from nutgraf.contract.responses import SummaryCompleted
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from nutgraf.summarize import Article, summarize_extractive
from service import context
from service.apidoc import Callback, Reply, documented
from service.errors import (
    ModelUnavailable,
    NotCancellable,
    NotFound,
    Overloaded,
    TextTooLong,
    Unavailable,
)
from service.idempotency import Idempotency
from service.security import request_owner
from service.validation import (
    BODY_ERRORS,
    ascii_int,
    check_callback,
    check_model,
    check_text_length,
    model_failure,
    read_json_object,
    spec_for,
    validate,
)
from worker.queue import dispatch_bulk, enqueue

log = logging.getLogger(__name__)
summaries = Blueprint("summaries", __name__, url_prefix="/v1")

# Every operation on an existing job can find it gone, or Redis out of reach.
READ_ERRORS = (NotFound, Unavailable)


def parse_summary_request(body: dict[str, Any], settings: Settings) -> SummaryRequest:
    """Validate a POST body against the schema and the deployment's limits."""
    text = body.get("text")
    if isinstance(text, str):
        check_text_length(len(text), settings)
    parsed = validate(SummaryRequest, body)
    check_model(parsed.model, settings)
    return parsed


def requested_wait_s() -> int:
    """Seconds asked for with `Prefer: wait=N` (at most MAX_WAIT_S), else 0."""
    for preference in request.headers.get("Prefer", "").split(","):
        name, _, value = preference.strip().partition("=")
        seconds = ascii_int(value)
        if name.strip().lower() == "wait" and seconds is not None:
            return min(seconds, MAX_WAIT_S)
    return 0


def _job_response(
    body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[Response, int, dict[str, str]]:
    headers = dict(headers or {})
    g.job_id = body["id"]  # for the request's log line
    if body["status"] in TERMINAL and body["status"] != "cancelled":
        return jsonify(body), 200, headers
    headers["Location"] = f"/v1/summaries/{body['id']}"
    return jsonify(body), 202, headers


@summaries.post("/summaries")
@documented(
    "Submit an article",
    "summaries",
    {
        200: Reply(
            "The job has ended (`succeeded`, or `failed`): a cache hit, extractive mode, "
            "done within `Prefer: wait`, or a replay of an ended job.",
            JobBody,
            headers=("Preference-Applied", "Idempotent-Replayed"),
        ),
        202: Reply(
            "Queued or running: poll Location.",
            JobBody,
            headers=("Location", "Idempotent-Replayed"),
        ),
    },
    # NotFound: an Idempotency-Key replay whose job has expired.
    errors=(
        *BODY_ERRORS,
        *Idempotency.ERRORS,
        Unavailable,
        ModelUnavailable,
        Overloaded,
        TextTooLong,
        NotFound,
    ),
    description="Identical submissions share work: while the first is queued or running a "
    "second with the same API key gets the same job; afterwards any key's is a cache hit. "
    "A cache hit repeated by the same key within a minute may be answered with the same "
    "(ended) job as the last one. A job belongs to its key: another key's GET or DELETE of "
    "it is a 404.",
    parameters=("IdempotencyKey", "Prefer"),
    body=SummaryRequest,
    callbacks=(Callback("summaryCompleted", SummaryCompleted, "The job ended (callback_url)."),),
)
def create_summary() -> tuple[Response, int, dict[str, str]]:
    """Submit an article: 202 with a job to poll, or 200 when the summary is ready (a cache
    hit, extractive mode, or done within `Prefer: wait=N`)."""
    settings, store = context.settings(), context.store()
    # A body this process answered from the cache a moment ago is answered the same way
    # again, without reading it again: the cheapest path, for the commonest repeat.
    fingerprint = context.repeats().fingerprint(request_owner())
    if fingerprint is not None:
        repeated = context.repeats().answer(store, fingerprint)
        if repeated is not None:
            response, g.job_id = repeated
            g.cached = True
            return response, 200, {}
    raw = read_json_object()
    # The scope keeps the name the endpoint had when keys were first stored.
    idempotency = Idempotency(store, settings, raw, scope="v1.create_summary")
    if idempotency.replay_of is not None:
        # Keys are scoped per credential: a replay is of the caller's own job.
        body = store.jobs.get_owned(idempotency.replay_of.removeprefix("summary:"), request_owner())
        if body is None:
            raise NotFound("the job this Idempotency-Key created has expired")
        return _job_response(body, {"Idempotent-Replayed": "true"})
    try:
        job_id, body = submit_summary(raw, settings, store)
    except BaseException:
        idempotency.release()
        raise
    idempotency.complete(f"summary:{job_id}")
    body = body or store.get(job_id)
    if body is None:
        raise Unavailable("the job record vanished; try again")
    g.cached = body["cached"]  # counted by /metrics; a replay was counted the first time
    headers = {}
    wait_s = requested_wait_s()
    if wait_s and body["status"] not in TERMINAL:
        with context.wait_slot() as waiting:
            # No slot free: answered at once, as without the preference (RFC 7240 allows it).
            if waiting:
                body = store.wait_for_end(job_id, wait_s) or body
                headers["Preference-Applied"] = f"wait={wait_s}"
    answer = _job_response(body, headers)
    if fingerprint is not None and g.get("hot_cache_key"):  # a plain hit (submit_summary)
        context.repeats().remember(fingerprint, g.hot_cache_key, job_id, answer[0])
    return answer


def submit_summary(
    raw: dict[str, Any], settings: Settings, store: JobStore
) -> tuple[str, dict[str, Any] | None]:
    """Validate and submit one article, as POST /v1/summaries (and /hf) do: the job id, and
    its body when known without another read."""
    req = parse_summary_request(raw, settings)
    check_callback(req.callback_url, settings)
    options = req.options()
    spec = spec_for(req, settings)
    lane = req.priority or "interactive"  # a single article: someone is waiting for it
    submission = store.submit(
        req.text,
        req.title,
        spec,
        options,
        callback_url=req.callback_url,
        # Extractive jobs never wait in the queue: they are answered in this process.
        max_queue=0 if options.mode == "extractive" else settings.max_queue,
        owner=request_owner(),
        lane=lane,
        ref=req.ref,
    )
    body = submission.body()
    if submission.outcome == "cached" and not req.callback_url and not req.ref:
        # The answer may be repeated (service.repeats); a story's revision must reach the
        # store every time, to supersede whatever was submitted for it in between.
        g.hot_cache_key = submission.cache_key
    if submission.outcome == "overloaded":
        # Only new work is refused: cache hits and jobs already in flight are answered.
        raise Overloaded(
            f"{settings.max_queue} or more jobs are queued (NUTGRAF_MAX_QUEUE); try again later"
        )
    if submission.outcome == "created" and options.mode == "extractive":
        # Milliseconds of CPU: answered here rather than queued behind model jobs.
        result = summarize_extractive(Article(req.text, req.title, options))
        store.succeed(submission.job_id, submission.cache_key, spec, result)
        body = None
    elif submission.outcome == "created":
        # Only a new job needs a worker (cache hits and joined jobs do not): refused at once
        # when the workers report that its model cannot load, rather than failed later.
        failure = model_failure(store.workers(), spec.name)
        if failure is not None:
            store.abandon(submission.job_id)
            raise ModelUnavailable(failure)
        try:
            if lane == "bulk":
                # Sent when its owner's turn comes (maybe now); the record already holds it.
                dispatch_bulk(context.producer(), store, settings)
            else:
                enqueue(context.producer(), submission.job_id, lane)
        except Exception as exc:
            log.warning("enqueue of %s failed: %s", submission.job_id, exc)
            store.abandon(submission.job_id)
            raise Unavailable("the job queue is unreachable; try again shortly") from exc
    if submission.outcome != "cached":
        # A hit's request line already names its job and says it was cached: one line
        # less on the path that must be cheapest.
        log.info("job %s: %s", submission.job_id, submission.outcome)
    return submission.job_id, body


@summaries.get("/summaries/<job_id>")
@documented("Read a job", "summaries", {200: Reply("The job.", JobBody)}, errors=READ_ERRORS)
def get_summary(job_id: str) -> Response:
    """A job's status, and its summary once it has one."""
    # Another key's job is a 404, as if it did not exist: ids are random, so nothing leaks.
    store, owner = context.store(), request_owner()
    body = store.jobs.get_owned(job_id, owner) if len(job_id) <= MAX_ID_CHARS else None
    if body is None:
        raise NotFound(f"no summary job {job_id!r} (never existed, or expired)")
    return jsonify(body)


@summaries.delete("/summaries/<job_id>")
@documented(
    "Cancel a job",
    "summaries",
    {200: Reply("The job, now `cancelled`.", JobBody)},
    errors=(*READ_ERRORS, NotCancellable),
    description="A queued job ends at once; a running one too, and its worker stops its "
    "generation within about a second, while the other jobs of its micro-batch go on. A "
    "callback_url is told `cancelled`. An ended job is a 409.",
)
def cancel_summary(job_id: str) -> Response:
    """Cancel a job that has not ended: queued, or running (its generation stops)."""
    store = context.store()
    too_long = len(job_id) > MAX_ID_CHARS
    outcome = "missing" if too_long else store.cancel(job_id, owner=request_owner())
    if outcome == "missing":
        raise NotFound(f"no summary job {job_id!r} (never existed, or expired)")
    body = store.get(job_id)
    assert body is not None
    if outcome != "cancelled":
        raise NotCancellable(
            f"job {job_id} has already ended ({body['status']}); only a queued or running "
            "job can be cancelled"
        )
    log.info("job %s: cancelled", job_id)
    return jsonify(body)
