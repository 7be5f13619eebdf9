"""Flask front end of nutgraf: create_app() builds it with injected settings."""

from __future__ import annotations

import logging

from flask import Flask

from nutgraf.jobs import JobStore
from nutgraf.settings import Settings, load_settings
from service.api import v1
from service.errors import register_error_handlers
from service.health import health
from service.openapi import openapi
from service.queue import Queue
from service.security import install_security
from service.web import web

log = logging.getLogger(__name__)

# Room for JSON escaping (a character can take up to 12 bytes as \uXXXX\uXXXX) plus fields.
BODY_BYTES_PER_CHAR = 12


def create_app(settings: Settings | None = None, queue: Queue | None = None) -> Flask:
    """Build the API; tests pass their own settings, production reads the environment."""
    settings = settings or load_settings()
    if not settings.redis_url:
        raise ValueError("NUTGRAF_REDIS_URL is required for the API")
    app = Flask(__name__)
    # Bodies past this are refused from Content-Length, before they are read.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_chars * BODY_BYTES_PER_CHAR + 64 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["nutgraf.settings"] = settings
    app.extensions["nutgraf.store"] = JobStore.from_url(
        settings.redis_url, settings.job_ttl_s, settings.cache_ttl_s, precision=settings.dtype
    )
    app.extensions["nutgraf.queue"] = queue or Queue(settings)
    register_error_handlers(app)
    app.register_blueprint(v1)
    app.register_blueprint(health)
    app.register_blueprint(web)
    app.register_blueprint(openapi)
    # Imported here: importing service.server runs this module in the gunicorn master, and
    # prometheus_client must not load before server.py sets PROMETHEUS_MULTIPROC_DIR.
    from service.metrics import metrics

    app.register_blueprint(metrics)
    install_security(app, settings, app.extensions["nutgraf.store"])
    return app
