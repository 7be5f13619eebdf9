"""The API's routes, one blueprint per resource, each route with its OpenAPI operation.

summaries.py (POST/GET/DELETE /v1/summaries), batches.py (/v1/batches and their results),
checks.py (POST /v1/checks: any summary checked against its article),
models.py (GET /v1/models), hf.py (POST /hf/models/<name>, the Hugging Face Inference
API's summarization task), health.py (/healthz, /readyz), web.py (the page at /),
docs.py (/openapi.json and Swagger UI at /docs). GET /metrics lives with the metrics
(service/metrics.py), which must be imported after the process has set up Prometheus.
"""

from flask import Blueprint, Flask

from service.routes.batches import batches
from service.routes.checks import checks
from service.routes.docs import openapi
from service.routes.health import health
from service.routes.hf import hf
from service.routes.models import models
from service.routes.summaries import summaries
from service.routes.web import web

BLUEPRINTS: tuple[Blueprint, ...] = (
    summaries,
    batches,
    checks,
    models,
    hf,
    health,
    web,
    openapi,
)


def register_routes(app: Flask) -> None:
    """Put every blueprint of the API on the app."""
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
