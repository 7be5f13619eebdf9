"""The v1 blueprint: submit a summary job, read it back, list the models."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from pydantic import ValidationError

from nutgraf import models
from nutgraf.contract import BatchItem, BatchRequest, SummaryRequest
from nutgraf.engine import Article, summarize_extractive
from nutgraf.jobs import TERMINAL, BatchEntry, JobStore
from nutgraf.settings import Settings
from nutgraf.webhooks import check_callback_url
from service.errors import (
    ApiError,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidJson,
    InvalidRequest,
    NotCancellable,
    NotFound,
    Overloaded,
    TextTooLong,
    Unavailable,
    UnsupportedMediaType,
)
from service.queue import Queue

log = logging.getLogger(__name__)
v1 = Blueprint("v1", __name__, url_prefix="/v1")

MAX_ID_CHARS = 64  # job and batch ids are 16; longer ones are not looked up
MAX_CLIENT_ID_CHARS = 200
MAX_RESULTS_PAGE = 1000
MAX_WAIT_S = 30  # `Prefer: wait` holds a server thread; capped so it can't hold it long


def _settings() -> Settings:
    settings: Settings = current_app.extensions["nutgraf.settings"]
    return settings


def _store() -> JobStore:
    store: JobStore = current_app.extensions["nutgraf.store"]
    return store


def read_json_object() -> dict[str, Any]:
    """The request body as a JSON object, or the contract's 415/400/422."""
    if not request.is_json:
        raise UnsupportedMediaType(
            f"send the body as application/json, not {request.mimetype or 'no content type'}"
        )
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidJson(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    return body


def parse_summary_request(body: dict[str, Any], settings: Settings) -> SummaryRequest:
    """Validate a POST body against the schema and the deployment's limits."""
    text = body.get("text")
    if isinstance(text, str) and len(text) > settings.max_chars:
        raise TextTooLong(f"text has {len(text)} characters; the limit is {settings.max_chars}")
    try:
        parsed = SummaryRequest.model_validate(body)
    except ValidationError as exc:
        raise InvalidRequest(_describe(exc)) from None
    if parsed.model is not None and _served_spec(parsed.model, settings) is None:
        served = ", ".join(settings.models)
        raise InvalidRequest(f"unknown model {parsed.model!r}; this service serves: {served}")
    return parsed


def _served_spec(name: str, settings: Settings) -> models.ModelSpec | None:
    """The spec of a served model, found by its name or by what it resolves to."""
    for served in settings.models:
        spec = models.resolve(served, settings.model_revision)
        if name in (served, spec.name, spec.source):
            return spec
    return None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "body"
        if err["type"] == "extra_forbidden":
            parts.append(f"{field}: unknown field")
        elif err["type"] == "missing":
            parts.append(f"{field}: required")
        else:
            parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)


def _spec_for(req: SummaryRequest, settings: Settings) -> models.ModelSpec:
    """The model a validated request runs on (extractive mode needs none)."""
    if req.mode == "extractive":
        return models.EXTRACTIVE
    served = _served_spec(req.model or settings.model, settings)
    assert served is not None  # the default model is always served, others were checked
    return served


def check_callback(url: str | None, settings: Settings) -> None:
    """Refuse a callback_url the service could not, or must not, call."""
    if url is None:
        return
    if not settings.webhook_secret:
        raise InvalidRequest("callback_url needs NUTGRAF_WEBHOOK_SECRET set on the service")
    try:
        check_callback_url(url, allow_private=settings.webhook_allow_private)
    except ValueError as exc:
        raise InvalidRequest(f"callback_url: {exc}") from None


class Idempotency:
    """An Idempotency-Key header: the first request with it does the work, a repeat with
    the same body gets the same job, another body with the same key is refused."""

    MAX_KEY_CHARS = 255

    def __init__(self, store: JobStore, settings: Settings, body: dict[str, Any]) -> None:
        self.store = store
        self.ttl_s = settings.idempotency_ttl_s
        self.key = request.headers.get("Idempotency-Key")
        # Keys are scoped per credential and route: two clients can't collide or probe.
        self.replay_of: str | None = None
        if self.key is None:
            return
        credential = request.headers.get("Authorization", "")
        self.scope = f"{hashlib.sha256(credential.encode()).hexdigest()[:32]}:{request.endpoint}"
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        self.fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
        if not 0 < len(self.key) <= self.MAX_KEY_CHARS:
            raise InvalidRequest(f"Idempotency-Key must be 1 to {self.MAX_KEY_CHARS} characters")
        outcome, target = store.claim_idempotency_key(
            self.scope, self.key, self.fingerprint, self.ttl_s
        )
        if outcome == "mismatch":
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with a different body; use a new key"
            )
        if outcome == "in_progress":
            raise IdempotencyKeyInUse("a request with this Idempotency-Key is still being handled")
        if outcome == "replay":
            self.replay_of = target

    def complete(self, target: str) -> None:
        """Remember what the first request created."""
        if self.key is not None:
            self.store.complete_idempotency_key(
                self.scope, self.key, self.fingerprint, target, self.ttl_s
            )

    def release(self) -> None:
        """The first request failed: let the key be used again."""
        if self.key is not None:
            self.store.release_idempotency_key(self.scope, self.key)


def requested_wait_s() -> int:
    """Seconds asked for with `Prefer: wait=N` (at most MAX_WAIT_S), else 0."""
    for preference in request.headers.get("Prefer", "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait" and value.strip().isdigit():
            return min(int(value.strip()), MAX_WAIT_S)
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


@v1.post("/summaries")
def create_summary() -> tuple[Response, int, dict[str, str]]:
    """Submit an article: 202 with a job to poll, or 200 when the summary is ready (a cache
    hit, extractive mode, or done within `Prefer: wait=N`)."""
    settings, store = _settings(), _store()
    raw = read_json_object()
    idempotency = Idempotency(store, settings, raw)
    if idempotency.replay_of is not None:
        body = store.get(idempotency.replay_of.removeprefix("summary:"))
        if body is None:
            raise NotFound("the job this Idempotency-Key created has expired")
        return _job_response(body, {"Idempotent-Replayed": "true"})
    try:
        job_id, body = _submit_summary(raw, settings, store)
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
        body = store.wait_for_end(job_id, wait_s) or body
        headers["Preference-Applied"] = f"wait={wait_s}"
    return _job_response(body, headers)


def _submit_summary(
    raw: dict[str, Any], settings: Settings, store: JobStore
) -> tuple[str, dict[str, Any] | None]:
    """Validate and submit: the job id, and its body when known without another read."""
    req = parse_summary_request(raw, settings)
    check_callback(req.callback_url, settings)
    options = req.options()
    spec = _spec_for(req, settings)
    submission = store.submit(
        req.text,
        req.title,
        spec,
        options,
        callback_url=req.callback_url,
        # Extractive jobs never wait in the queue: they are answered in this process.
        max_queue=0 if options.mode == "extractive" else settings.max_queue,
    )
    body = submission.body()
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
        try:
            _queue().enqueue(submission.job_id)
        except Exception as exc:
            log.warning("enqueue of %s failed: %s", submission.job_id, exc)
            store.abandon(submission.job_id)
            raise Unavailable("the job queue is unreachable; try again shortly") from exc
    log.info("job %s: %s", submission.job_id, submission.outcome)
    return submission.job_id, body


def _queue() -> Queue:
    queue: Queue = current_app.extensions["nutgraf.queue"]
    return queue


@v1.get("/summaries/<job_id>")
def get_summary(job_id: str) -> Response:
    """A job's status, and its summary once it has one."""
    body = _store().get(job_id) if len(job_id) <= MAX_ID_CHARS else None
    if body is None:
        raise NotFound(f"no summary job {job_id!r} (never existed, or expired)")
    return jsonify(body)


@v1.delete("/summaries/<job_id>")
def cancel_summary(job_id: str) -> Response:
    """Cancel a job no worker has started."""
    store = _store()
    outcome = store.cancel(job_id) if len(job_id) <= MAX_ID_CHARS else "missing"
    if outcome == "missing":
        raise NotFound(f"no summary job {job_id!r} (never existed, or expired)")
    body = store.get(job_id)
    assert body is not None
    if outcome != "cancelled":
        raise NotCancellable(
            f"job {job_id} is already {body['status']}; only queued jobs can be cancelled"
        )
    log.info("job %s: cancelled", job_id)
    return jsonify(body)


def parse_batch_request(
    body: dict[str, Any], settings: Settings
) -> tuple[BatchRequest, list[BatchEntry]]:
    """Validate a batch: its shape as a whole (422), then each item on its own (an item's
    problem becomes that item's error, so one bad article does not sink a backfill)."""
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise InvalidRequest("items: a non-empty list of {id, text} objects is required")
    if len(items) > settings.max_batch_items:
        raise InvalidRequest(
            f"items: {len(items)} items; the limit is {settings.max_batch_items} per batch"
        )
    seen: set[str] = set()
    for index, item in enumerate(items):
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, str) or not 0 < len(item_id) <= MAX_CLIENT_ID_CHARS:
            raise InvalidRequest(
                f"items.{index}.id: every item needs an id, a string of 1 to "
                f"{MAX_CLIENT_ID_CHARS} characters"
            )
        if item_id in seen:
            raise InvalidRequest(f"items.{index}.id: {item_id!r} is used twice in this batch")
        seen.add(item_id)
    try:
        defaults = BatchRequest.model_validate({**body, "items": []})
    except ValidationError as exc:
        raise InvalidRequest(_describe(exc)) from None
    check_callback(defaults.callback_url, settings)
    return defaults, [_batch_entry(defaults, item, settings) for item in items]


def _batch_entry(defaults: BatchRequest, item: dict[str, Any], settings: Settings) -> BatchEntry:
    text = item.get("text")
    characters = len(text) if isinstance(text, str) else 0
    try:
        if characters > settings.max_chars:
            raise TextTooLong(
                f"text has {characters} characters; the limit is {settings.max_chars}"
            )
        try:
            parsed = BatchItem.model_validate(item)
        except ValidationError as exc:
            raise InvalidRequest(_describe(exc)) from None
        req = defaults.request_for(parsed)
        if req.model is not None and _served_spec(req.model, settings) is None:
            served = ", ".join(settings.models)
            raise InvalidRequest(f"unknown model {req.model!r}; this service serves: {served}")
    except ApiError as exc:
        return BatchEntry(item["id"], characters, error=(exc.code, exc.message))
    return BatchEntry(
        parsed.id, characters, req.text, req.title, _spec_for(req, settings), req.options()
    )


@v1.post("/batches")
def create_batch() -> tuple[Response, int, dict[str, str]]:
    """Submit up to NUTGRAF_MAX_BATCH_ITEMS articles at once: 202 with a batch to poll."""
    settings, store = _settings(), _store()
    raw = read_json_object()
    idempotency = Idempotency(store, settings, raw)
    if idempotency.replay_of is not None:
        batch_id = idempotency.replay_of.removeprefix("batch:")
        headers = {"Idempotent-Replayed": "true"}
    else:
        try:
            defaults, entries = parse_batch_request(raw, settings)
            batch_id = _start_batch(store, defaults, entries)
        except BaseException:
            idempotency.release()
            raise
        idempotency.complete(f"batch:{batch_id}")
        headers = {}
    body = store.get_batch(batch_id)
    if body is None:
        raise NotFound("the batch this Idempotency-Key created has expired")
    g.batch_id = batch_id  # for the request's log line
    headers["Location"] = f"/v1/batches/{batch_id}"
    return jsonify(body), 202, headers


def _start_batch(store: JobStore, defaults: BatchRequest, entries: list[BatchEntry]) -> str:
    new = store.create_batch(entries, defaults.callback_url)
    queue = _queue()
    unreachable: Exception | None = None
    for job_id, digest, entry in new.to_enqueue:
        assert entry.options is not None and entry.text is not None
        if entry.options.mode == "extractive":
            result = summarize_extractive(Article(entry.text, entry.title, entry.options))
            store.succeed(job_id, digest, models.EXTRACTIVE, result)
        elif unreachable is not None:
            store.fail(job_id, "unavailable", f"the job queue was unreachable: {unreachable}")
        else:
            try:
                queue.enqueue(job_id)
            except Exception as exc:
                log.warning("batch %s: enqueue failed: %s", new.batch_id, exc)
                unreachable = exc
                store.fail(job_id, "unavailable", f"the job queue was unreachable: {exc}")
    log.info("batch %s: %d item(s), %d queued", new.batch_id, len(entries), len(new.to_enqueue))
    return new.batch_id


def _batch_or_404(batch_id: str) -> dict[str, Any]:
    body = _store().get_batch(batch_id) if len(batch_id) <= MAX_ID_CHARS else None
    if body is None:
        raise _no_batch(batch_id)
    return body


def _no_batch(batch_id: str) -> NotFound:
    return NotFound(f"no batch {batch_id!r} (never existed, or expired)")


def _check_batch_exists(batch_id: str) -> None:
    if len(batch_id) > MAX_ID_CHARS or not _store().batch_exists(batch_id):
        raise _no_batch(batch_id)


@v1.get("/batches/<batch_id>")
def get_batch(batch_id: str) -> Response:
    """A batch's status, counts per item status and progress."""
    return jsonify(_batch_or_404(batch_id))


@v1.get("/batches/<batch_id>/results")
def get_batch_results(batch_id: str) -> Response:
    """A page of per-item results: `cursor` (from next_cursor) and `limit` (1 to 1000)."""
    _check_batch_exists(batch_id)
    cursor = _int_arg("cursor", 0, 0, 10**9)
    limit = _int_arg("limit", 100, 1, MAX_RESULTS_PAGE)
    items, next_cursor = _store().batch_results(batch_id, cursor, limit)
    return jsonify({"batch": batch_id, "items": items, "next_cursor": next_cursor})


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise InvalidRequest(f"{name}: must be a whole number from {low} to {high}")
    return int(value)


@v1.delete("/batches/<batch_id>")
def cancel_batch(batch_id: str) -> Response:
    """Cancel every item of a batch that no worker has started."""
    _check_batch_exists(batch_id)
    cancelled = _store().cancel_batch(batch_id)
    log.info("batch %s: %d item(s) cancelled", batch_id, cancelled)
    return jsonify(_batch_or_404(batch_id))


@v1.get("/models")
def list_models() -> Response:
    """The models this deployment serves; the first one is the default."""
    settings = _settings()
    listed = []
    for name in settings.models:
        spec = models.resolve(name, settings.model_revision)
        listed.append(
            {
                "name": spec.name,
                "source": spec.source,
                "revision": spec.revision,
                "family": spec.family,
                "description": spec.description,
                "default": name == settings.model,
            }
        )
    return jsonify({"models": listed})
