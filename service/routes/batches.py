"""Many articles in one request: submit a batch, follow its progress, page its results."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from nutgraf.contract import (
    DEFAULT_RESULTS_PAGE,
    MAX_CLIENT_ID_CHARS,
    MAX_CURSOR,
    MAX_ID_CHARS,
    MAX_RESULTS_PAGE,
    BatchBody,
    BatchItem,
    BatchRequest,
    BatchResults,
)
from nutgraf.contract.responses import BatchCompleted
from nutgraf.models.specs import EXTRACTIVE
from nutgraf.settings import Settings
from nutgraf.store import BatchEntry, JobStore
from nutgraf.summarize import Article, summarize_extractive
from service import context
from service.apidoc import Callback, Reply, documented
from service.errors import (
    ApiError,
    InvalidRequest,
    NotFound,
    Overloaded,
    PayloadTooLarge,
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
batches = Blueprint("batches", __name__, url_prefix="/v1")

# Every operation on an existing batch can find it gone, or Redis out of reach.
READ_ERRORS = (NotFound, Unavailable)
# Extractive items are computed in the request, holding its thread (and, in pure Python,
# the process's GIL) for a time that grows with their characters: bounded well inside
# gunicorn's 60 s timeout, which would kill the process and every request in it (the rate
# is in docs/benchmarks.md).
EXTRACTIVE_BATCH_CHARS = 5_000_000


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
    defaults = validate(BatchRequest, {**body, "items": []})
    check_callback(defaults.callback_url, settings)
    entries = [_batch_entry(defaults, item, settings) for item in items]
    extractive = sum(e.characters for e in entries if e.options and e.options.mode == "extractive")
    if extractive > EXTRACTIVE_BATCH_CHARS:
        raise PayloadTooLarge(
            f"items: {extractive} characters of extractive text; a batch takes at most "
            f"{EXTRACTIVE_BATCH_CHARS} (computed in the request): split it"
        )
    return defaults, entries


def _batch_entry(defaults: BatchRequest, item: dict[str, Any], settings: Settings) -> BatchEntry:
    text = item.get("text")
    characters = len(text) if isinstance(text, str) else 0
    try:
        check_text_length(characters, settings)
        parsed = validate(BatchItem, item)
        req = defaults.request_for(parsed)
        check_model(req.model, settings)
    except ApiError as exc:
        return BatchEntry(item["id"], characters, error=(exc.code, exc.message))
    return BatchEntry(
        parsed.id,
        characters,
        req.text,
        req.title,
        spec_for(req, settings),
        req.options(),
        lane=req.priority or "bulk",
        ref=req.ref,
    )


@batches.post("/batches")
@documented(
    "Submit a batch of articles",
    "batches",
    {
        202: Reply(
            "The batch: poll Location, read its results_url.",
            BatchBody,
            headers=("Location", "Idempotent-Replayed"),
        )
    },
    # NotFound: an Idempotency-Key replay whose batch has expired.
    errors=(*BODY_ERRORS, *Idempotency.ERRORS, Unavailable, Overloaded, PayloadTooLarge, NotFound),
    description="1 to NUTGRAF_MAX_BATCH_ITEMS items, each with a client `id` unique in the "
    "batch. Missing or duplicate ids, or too many items, refuse the whole batch (422); a "
    "problem inside one item (empty or too long text, a bad option) fails only that item, "
    "with its own `error`. Items already cached succeed at once. Extractive items are "
    f"computed in the request: over {EXTRACTIVE_BATCH_CHARS} characters of them is a 413.",
    parameters=("IdempotencyKey",),
    body=BatchRequest,
    callbacks=(Callback("batchCompleted", BatchCompleted, "The batch's last item ended."),),
)
def create_batch() -> tuple[Response, int, dict[str, str]]:
    """Submit up to NUTGRAF_MAX_BATCH_ITEMS articles at once: 202 with a batch to poll."""
    settings, store = context.settings(), context.store()
    raw = read_json_object()
    # The scope keeps the name the endpoint had when keys were first stored.
    idempotency = Idempotency(store, settings, raw, scope="v1.create_batch")
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
    body = store.get_batch(batch_id, owner=request_owner())
    if body is None:
        raise NotFound("the batch this Idempotency-Key created has expired")
    g.batch_id = batch_id  # for the request's log line
    headers["Location"] = f"/v1/batches/{batch_id}"
    return jsonify(body), 202, headers


def _start_batch(store: JobStore, defaults: BatchRequest, entries: list[BatchEntry]) -> str:
    new = store.create_batch(entries, defaults.callback_url, owner=request_owner())
    producer = context.producer()
    unreachable: Exception | None = None
    workers: list[dict[str, Any]] | None = None  # read once, for the first model job
    bulk = False
    for job_id, digest, entry in new.to_enqueue:
        assert entry.options is not None and entry.text is not None
        if entry.options.mode == "extractive":
            result = summarize_extractive(Article(entry.text, entry.title, entry.options))
            store.succeed(job_id, digest, EXTRACTIVE, result)
            continue
        if workers is None:
            workers = store.workers()
        assert entry.model is not None
        failure = model_failure(workers, entry.model.name)
        if failure is not None:
            # The workers cannot load its model: the item fails now, with the fix, rather
            # than after waiting in the queue (as POST /v1/summaries answers 503).
            store.fail(job_id, "model_unavailable", failure)
        elif unreachable is not None:
            store.fail(job_id, "unavailable", f"the job queue was unreachable: {unreachable}")
        elif entry.lane == "bulk":
            bulk = True  # sent as its owner's turns come (dispatch_bulk), below and later
        else:
            try:
                enqueue(producer, job_id, entry.lane)
            except Exception as exc:
                log.warning("batch %s: enqueue failed: %s", new.batch_id, exc)
                unreachable = exc
                store.fail(job_id, "unavailable", f"the job queue was unreachable: {exc}")
    if bulk:
        dispatch_bulk(producer, store, context.settings())
    log.info("batch %s: %d item(s), %d queued", new.batch_id, len(entries), len(new.to_enqueue))
    return new.batch_id


def _batch_or_404(batch_id: str) -> dict[str, Any]:
    # Another key's batch is a 404, as if it did not exist: ids are random.
    store, owner = context.store(), request_owner()
    body = store.get_batch(batch_id, owner=owner) if len(batch_id) <= MAX_ID_CHARS else None
    if body is None:
        raise _no_batch(batch_id)
    return body


def _no_batch(batch_id: str) -> NotFound:
    return NotFound(f"no batch {batch_id!r} (never existed, or expired)")


def _check_batch_exists(batch_id: str) -> None:
    owner = request_owner()
    if len(batch_id) > MAX_ID_CHARS or not context.store().batch_exists(batch_id, owner=owner):
        raise _no_batch(batch_id)


@batches.get("/batches/<batch_id>")
@documented(
    "Read a batch's status and progress",
    "batches",
    {200: Reply("The batch.", BatchBody)},
    errors=READ_ERRORS,
)
def get_batch(batch_id: str) -> Response:
    """A batch's status, counts per item status and progress."""
    return jsonify(_batch_or_404(batch_id))


@batches.get("/batches/<batch_id>/results")
@documented(
    "Read a page of a batch's items",
    "batches",
    {200: Reply("A page of items, in submission order.", BatchResults)},
    errors=(*READ_ERRORS, InvalidRequest),
    parameters=("Cursor", "Limit"),
)
def get_batch_results(batch_id: str) -> Response:
    """A page of per-item results: `cursor` (from next_cursor) and `limit` (at most
    MAX_RESULTS_PAGE)."""
    _check_batch_exists(batch_id)
    cursor = _int_arg("cursor", 0, 0, MAX_CURSOR)
    limit = _int_arg("limit", DEFAULT_RESULTS_PAGE, 1, MAX_RESULTS_PAGE)
    items, next_cursor = context.store().batch_results(batch_id, cursor, limit)
    return jsonify({"batch": batch_id, "items": items, "next_cursor": next_cursor})


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    number = ascii_int(value)
    if number is None or not low <= number <= high:
        raise InvalidRequest(f"{name}: must be a whole number from {low} to {high}")
    return number


@batches.delete("/batches/<batch_id>")
@documented(
    "Cancel a batch's unfinished items",
    "batches",
    {
        200: Reply(
            "The batch; every item that had not ended is cancelled (running ones stop "
            "generating within about a second).",
            BatchBody,
        )
    },
    errors=READ_ERRORS,
)
def cancel_batch(batch_id: str) -> Response:
    """Cancel every item of a batch that has not ended, queued or running."""
    _check_batch_exists(batch_id)
    cancelled = context.store().cancel_batch(batch_id, owner=request_owner())
    log.info("batch %s: %d item(s) cancelled", batch_id, cancelled)
    return jsonify(_batch_or_404(batch_id))
