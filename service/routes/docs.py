"""The OpenAPI document at /openapi.json, and Swagger UI over it at /docs (local files only)."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, send_from_directory, url_for
from markupsafe import escape

from service.apidoc import Reply, documented, undocumented
from service.openapi import build_document

# Swagger UI 5 (flask-swagger-ui ships its dist files): version 4 cannot read OpenAPI 3.1.
SWAGGER_UI_DIR = str(files("flask_swagger_ui") / "dist")
# Swagger UI needs data: images and inline style attributes; everything else is this origin.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
DOCUMENT = "This OpenAPI document"
DOCS = "Interactive API documentation"

openapi = Blueprint("openapi", __name__)


def document_of(app: Flask) -> dict[str, Any]:
    """The app's OpenAPI document, built on first use (the routes do not change)."""
    document: dict[str, Any] | None = app.extensions.get("nutgraf.openapi")
    if document is None:
        document = app.extensions["nutgraf.openapi"] = build_document(app)
    return document


@openapi.get("/openapi.json")
@documented(DOCUMENT, "docs", {200: Reply(DOCUMENT)}, operation_id="openapi")
def openapi_json() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(document_of(current_app))


@openapi.get("/docs")
@documented(DOCS, "docs", {200: Reply(DOCS, media="text/html")})
def docs() -> Response:
    """Swagger UI over /openapi.json, from local files only."""
    css = escape(url_for("openapi.docs_asset", filename="swagger-ui.css"))
    bundle = escape(url_for("openapi.docs_asset", filename="swagger-ui-bundle.js"))
    init = escape(url_for("openapi.docs_initializer"))
    icon = escape(url_for("openapi.docs_asset", filename="favicon-32x32.png"))
    html = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>nutgraf API</title>
  <link rel="stylesheet" href="{css}">
  <link rel="icon" type="image/png" href="{icon}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{bundle}"></script>
  <script src="{init}"></script>
</body>
</html>
"""
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@openapi.get("/docs/swagger-initializer.js")
@undocumented
def docs_initializer() -> Response:
    """Starts Swagger UI (a file, not an inline script, so the CSP can forbid those)."""
    config = {
        "url": url_for("openapi.openapi_json"),
        "dom_id": "#swagger-ui",
        "deepLinking": True,
        # No badge fetched from swagger.io: the docs work air-gapped.
        "validatorUrl": None,
    }
    script = (
        "window.addEventListener('load', function () {\n"
        f"  var config = {json.dumps(config)};\n"
        "  config.presets = [SwaggerUIBundle.presets.apis];\n"
        "  window.ui = SwaggerUIBundle(config);\n"
        "});\n"
    )
    return Response(script, mimetype="text/javascript")


@openapi.get("/docs/<path:filename>")
@undocumented
def docs_asset(filename: str) -> Response:
    """Swagger UI's own files (scripts, stylesheet, icons)."""
    return send_from_directory(SWAGGER_UI_DIR, filename)
