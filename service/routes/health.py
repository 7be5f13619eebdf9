"""Liveness and readiness probes (no API key: orchestrators have none)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from nutgraf.contract.responses import ErrorBody, HealthBody, ReadyBody
from nutgraf.models.specs import BUNDLED_FIX, ModelError, resolve
from nutgraf.store.jobstore import primary_address
from service import context
from service.apidoc import Reply, documented
from service.errors import Unavailable
from worker.queue import ready_messages

health = Blueprint("health", __name__)


@health.get("/healthz")
@documented("Liveness", "operations", {200: Reply("The process runs.", HealthBody)})
def healthz() -> Response:
    """200 while the process runs."""
    return jsonify({"status": "ok"})


def ready_workers(workers: list[dict[str, Any]], name: str) -> int:
    """How many of these workers (their heartbeats) have model `name` loaded."""
    return sum(1 for w in workers if w["models"].get(name, {}).get("state") == "ready")


def loaded_precision(workers: list[dict[str, Any]], name: str) -> str | None:
    """`dtype (why)` of model `name` in the first worker that has it loaded and says."""
    for worker in workers:
        state = worker["models"].get(name, {})
        if state.get("state") == "ready" and state.get("dtype"):
            return f"{state['dtype']} ({state.get('dtype_reason', '')})"
    return None


@health.get("/readyz")
@documented(
    "Readiness",
    "operations",
    {
        200: Reply(
            "Redis (and a separate broker) answers and a worker has the default model.",
            ReadyBody,
        ),
        # Its own explanation of `unavailable`: the message says which check failed.
        503: Reply(
            f"Error codes:\n- `{Unavailable.code}`: not ready; the message says why "
            "(the API shutting down, Redis or the broker unreachable, Redis allowed to evict "
            "keys, no worker, model loading or failed).",
            ErrorBody,
            headers=Unavailable.header_names,
        ),
    },
)
def readyz() -> Response:
    """200 when Redis and the broker answer and a worker has the default model; else 503."""
    if context.draining():
        # First, before Redis is asked: a load balancer must stop sending clients here.
        raise Unavailable("the API is shutting down")
    store, settings = context.store(), context.settings()
    try:
        primary = primary_address(store.redis)
        store.redis.ping()
        policy = store.eviction_policy()
        workers = store.workers()
    except Exception as exc:
        raise Unavailable(f"redis is unreachable: {exc}") from exc
    if policy not in (None, "noeviction"):
        raise Unavailable(
            f"redis maxmemory-policy is {policy!r}: it may evict job records and queued "
            "messages; set it to 'noeviction'"
        )
    if settings.broker != settings.redis_url:
        # A broker of its own (RabbitMQ): the API can queue nothing while it is away.
        try:
            ready_messages(context.producer())
        except Exception as exc:
            raise Unavailable(f"the broker is unreachable: {exc}") from exc
    if not workers:
        raise Unavailable("no worker is running")
    try:
        name = resolve(settings.model, settings.model_revision).name
    except ModelError as exc:
        raise Unavailable(f"{exc}; {BUNDLED_FIX}") from exc
    ready = ready_workers(workers, name)
    if ready:
        return jsonify(
            {
                "status": "ready",
                "workers": ready,
                "model": settings.model,
                "auto": settings.model_auto,
                "dtype": loaded_precision(workers, name),
                "redis": primary,
            }
        )
    chosen = f" (NUTGRAF_MODEL=auto: {settings.model_auto})" if settings.model_auto else ""
    if any(w.get("loading") for w in workers):
        reason = f"workers are loading model {settings.model!r}{chosen}"
    else:
        errors = {w["models"].get(name, {}).get("error") for w in workers} - {None}
        reason = "; ".join(sorted(e for e in errors if e)) or "no worker has the model loaded"
    raise Unavailable(reason)
