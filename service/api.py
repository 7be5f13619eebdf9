"""The v1 blueprint: submit a summary job, read it back, list the models."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import ValidationError

from nutgraf import models
from nutgraf.engine import Article, summarize_extractive
from nutgraf.jobs import JobStore
from nutgraf.schemas import SummaryRequest
from nutgraf.settings import Settings
from service.errors import (
    InvalidJson,
    InvalidRequest,
    NotFound,
    TextTooLong,
    Unavailable,
    UnsupportedMediaType,
)
from service.queue import Queue

log = logging.getLogger(__name__)
v1 = Blueprint("v1", __name__, url_prefix="/v1")


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


@v1.post("/summaries")
def create_summary() -> tuple[Response, int, dict[str, str]] | tuple[Response, int]:
    """Submit an article: 202 with a job to poll, or 200 when the summary is ready now
    (a cache hit, or extractive mode, which needs no model)."""
    settings = _settings()
    req = parse_summary_request(read_json_object(), settings)
    options = req.options()
    if options.mode == "extractive":
        spec = models.EXTRACTIVE
    else:
        served = _served_spec(req.model or settings.model, settings)
        assert served is not None  # the default model is always served
        spec = served
    store = _store()
    submission = store.submit(req.text, req.title, spec, options)
    if submission.outcome == "created" and options.mode == "extractive":
        # Milliseconds of CPU: answered here rather than queued behind model jobs.
        result = summarize_extractive(Article(req.text, req.title, options))
        store.succeed(submission.job_id, submission.cache_key, spec, result)
    elif submission.outcome == "created":
        queue: Queue = current_app.extensions["nutgraf.queue"]
        try:
            queue.enqueue(submission.job_id)
        except Exception as exc:
            log.warning("enqueue of %s failed: %s", submission.job_id, exc)
            store.abandon(submission.job_id)
            raise Unavailable("the job queue is unreachable; try again shortly") from exc
    body = store.get(submission.job_id)
    if body is None:
        raise Unavailable("the job record vanished; try again")
    log.info("job %s: %s", submission.job_id, submission.outcome)
    if body["status"] == "succeeded":
        return jsonify(body), 200
    return jsonify(body), 202, {"Location": f"/v1/summaries/{submission.job_id}"}


@v1.get("/summaries/<job_id>")
def get_summary(job_id: str) -> Response:
    """A job's status, and its summary once it has one."""
    body = _store().get(job_id) if len(job_id) <= 64 else None
    if body is None:
        raise NotFound(f"no summary job {job_id!r} (never existed, or expired)")
    return jsonify(body)


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
