"""GET /v1/models: what this deployment serves."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from nutgraf.contract import ModelsList
from nutgraf.models.specs import resolve
from service import context
from service.apidoc import Reply, documented

models = Blueprint("models", __name__, url_prefix="/v1")


@models.get("/models")
@documented(
    "List the served models",
    "models",
    {200: Reply("The models; the first is the default.", ModelsList)},
)
def list_models() -> Response:
    """The models this deployment serves; the first one is the default."""
    settings = context.settings()
    listed = []
    for name in settings.models:
        spec = resolve(name, settings.model_revision)
        listed.append(
            {
                "name": spec.name,
                "source": spec.source,
                "revision": spec.revision,
                "family": spec.family,
                "description": spec.description,
                "default": name == settings.model,
                "bundled": spec.bundled,
                "auto": settings.model_auto if name == settings.model else None,
            }
        )
    return jsonify({"models": listed})
