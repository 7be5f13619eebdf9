"""Flask front end of nutgraf: create_app() builds it with injected settings."""

from __future__ import annotations

import logging

from celery import Celery
from flask import Flask, Response, request

from nutgraf.models.auto import settle
from nutgraf.settings import Settings, load_settings
from nutgraf.store import JobStore
from service import context
from service.errors import Unavailable, error_response, register_error_handlers
from service.repeats import RepeatedHits
from service.routes import register_routes
from service.security import install_security
from worker.queue import create_producer

log = logging.getLogger(__name__)

# Room for JSON escaping (a character can take up to 12 bytes as \uXXXX\uXXXX) plus fields.
BODY_BYTES_PER_CHAR = 12


def create_app(settings: Settings | None = None, producer: Celery | None = None) -> Flask:
    """Build the API; tests pass their own settings, production reads the environment."""
    # Settled already when `nutgraf api` started; tests and embedders may pass `auto`.
    settings = settle(settings or load_settings())
    if not settings.redis_url:
        raise ValueError("NUTGRAF_REDIS_URL is required for the API")
    app = Flask(__name__)
    # Bodies past this are refused from Content-Length, before they are read.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_chars * BODY_BYTES_PER_CHAR + 64 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]
    store = JobStore.from_settings(settings, precision=settings.dtype)
    app.extensions[context.SETTINGS] = settings
    app.extensions[context.STORE] = store
    app.extensions[context.PRODUCER] = producer or create_producer(settings)
    app.extensions[context.REPEATS] = RepeatedHits()
    register_error_handlers(app)
    register_routes(app)
    # Imported here: importing service.server runs this module in the gunicorn master, and
    # prometheus_client must not load before server.py sets PROMETHEUS_MULTIPROC_DIR.
    from service.metrics import metrics

    app.register_blueprint(metrics)
    install_security(app, settings, store)
    if settings.redis_min_replicas:
        app.after_request(_answer_once_replicated)
    return app


def _answer_once_replicated(response: Response) -> Response:
    """A 2xx to a POST or DELETE goes out only once NUTGRAF_REDIS_MIN_REPLICAS replicas
    have what it wrote: a failover then cannot lose what was answered for. Past the
    timeout, a 503 instead; the write stands, so the client's retry joins the job."""
    if request.method not in ("POST", "DELETE") or not 200 <= response.status_code < 300:
        return response
    try:
        kept = context.store().replicated()
    except Exception as exc:  # Redis away: the same 503 as any request that needs it
        return error_response(Unavailable(f"redis is unreachable: {exc}"))
    if kept:
        return response
    return error_response(
        Unavailable(
            "the write has not reached a Redis replica yet (NUTGRAF_REDIS_MIN_REPLICAS); try "
            "again with the same Idempotency-Key (the same article joins its job anyway)"
        )
    )
