"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from nutgraf import models
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from service.errors import RETRY_AFTER_S, error_response

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    """200 while the process runs."""
    return jsonify({"status": "ok"})


@health.get("/readyz")
def readyz() -> Response:
    """200 when Redis answers and a worker has the default model loaded; else 503 and why."""
    store: JobStore = current_app.extensions["nutgraf.store"]
    settings: Settings = current_app.extensions["nutgraf.settings"]
    retry = {"Retry-After": str(RETRY_AFTER_S)}
    try:
        store.redis.ping()
        workers = store.workers()
    except Exception as exc:
        return error_response(503, "unavailable", f"redis is unreachable: {exc}", retry)
    if not workers:
        return error_response(503, "unavailable", "no worker is running", retry)
    name = models.resolve(settings.model, settings.model_revision).name
    ready = [w for w in workers if w["models"].get(name, {}).get("state") == "ready"]
    if ready:
        return jsonify({"status": "ready", "workers": len(ready), "model": settings.model})
    if any(w.get("loading") for w in workers):
        reason = f"workers are loading model {settings.model!r}"
    else:
        errors = {w["models"].get(name, {}).get("error") for w in workers} - {None}
        reason = "; ".join(sorted(e for e in errors if e)) or "no worker has the model loaded"
    return error_response(503, "unavailable", reason, retry)
