"""The OpenAPI 3.1 document of the API at /openapi.json, and Swagger UI at /docs.

Request and response schemas are not written here: they are the pydantic models that
validate requests (nutgraf.contract.requests) and describe responses
(nutgraf.contract.responses), turned
into JSON Schema by pydantic, so the document cannot drift from the validation.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from flask import Blueprint, Response, jsonify, send_from_directory, url_for
from markupsafe import escape
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

import nutgraf
from nutgraf.contract import BatchItem, BatchRequest, SummaryRequest
from nutgraf.contract import responses as am

REF_TEMPLATE = "#/components/schemas/{model}"
# Swagger UI 5 (flask-swagger-ui ships its dist files): version 4 cannot read OpenAPI 3.1.
SWAGGER_UI_DIR = str(files("flask_swagger_ui") / "dist")
# Swagger UI needs data: images and inline style attributes; everything else is this origin.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
MAX_PREFER_WAIT_S = 30

openapi = Blueprint("openapi", __name__)

REQUEST_MODELS: list[type[BaseModel]] = [SummaryRequest, BatchRequest, BatchItem]
RESPONSE_MODELS: list[type[BaseModel]] = [
    am.ErrorBody,
    am.JobBody,
    am.BatchBody,
    am.BatchResults,
    am.ModelsList,
    am.HealthBody,
    am.ReadyBody,
    am.SummaryCompleted,
    am.BatchCompleted,
]


@dataclass(frozen=True)
class ErrorCode:
    """One (status, code) pair of the contract and when it is answered."""

    status: int
    code: str
    when: str


# Every error the API answers, as the contract lists them.
ERRORS: dict[str, ErrorCode] = {
    e.code: e
    for e in [
        ErrorCode(400, "invalid_json", "The body is not valid JSON (or not UTF-8)."),
        ErrorCode(401, "unauthorized", "API keys are configured and no valid key was sent."),
        ErrorCode(
            404,
            "not_found",
            "Unknown (or expired) id, or unknown route; on a POST, the job or batch "
            "that its Idempotency-Key created has expired.",
        ),
        ErrorCode(405, "method_not_allowed", "The route exists, not with this method."),
        ErrorCode(
            409,
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is still being handled.",
        ),
        ErrorCode(409, "not_cancellable", "The job is running or has already ended."),
        ErrorCode(
            413, "text_too_long", "`text` over NUTGRAF_MAX_CHARS, or a body too large to read."
        ),
        ErrorCode(413, "payload_too_large", "A batch body over NUTGRAF_MAX_BODY_MB."),
        ErrorCode(415, "unsupported_media_type", "The body is not `application/json`."),
        ErrorCode(
            422,
            "invalid_request",
            "Missing, empty or wrong-typed field; unknown model, field or option; "
            "a refused callback_url.",
        ),
        ErrorCode(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different body.",
        ),
        ErrorCode(429, "rate_limited", "Over the per-key rate limit; see Retry-After."),
        ErrorCode(500, "internal_error", "A bug; it has been logged."),
        ErrorCode(503, "unavailable", "Redis or the queue cannot be reached; see Retry-After."),
        ErrorCode(503, "overloaded", "More jobs queued than NUTGRAF_MAX_QUEUE; see Retry-After."),
    ]
}
# Headers that come with some error codes.
ERROR_HEADERS: dict[str, list[str]] = {
    "unauthorized": ["WWW-Authenticate"],
    "method_not_allowed": ["Allow"],
    "rate_limited": ["Retry-After"],
    "unavailable": ["Retry-After"],
    "overloaded": ["Retry-After"],
}

# Errors every /v1 call can get; the rest are listed per operation.
V1_ERRORS = ("unauthorized", "rate_limited", "internal_error")
BODY_ERRORS = ("invalid_json", "unsupported_media_type", "invalid_request")
IDEMPOTENCY_ERRORS = ("idempotency_key_reused", "idempotency_key_in_use")
WORK_ERRORS = ("unavailable", "overloaded")

HEADERS: dict[str, dict[str, Any]] = {
    "Location": {
        "description": "Where to poll the job or batch (a path on this service).",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this answers an earlier request with the same "
        "Idempotency-Key and body (the job's or batch's current state).",
        "schema": {"type": "string", "const": "true"},
    },
    "Preference-Applied": {
        "description": "`wait=N`: the request waited up to N seconds for the summary.",
        "schema": {"type": "string", "pattern": "^wait=[0-9]+$"},
    },
    "WWW-Authenticate": {
        "description": "`Bearer`: the authentication scheme to use.",
        "schema": {"type": "string"},
    },
    "Allow": {
        "description": "The methods this route accepts.",
        "schema": {"type": "string"},
    },
}

PARAMETERS: dict[str, dict[str, Any]] = {
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Makes a retried POST safe: the same key with the same body answers "
        "with what the first request created (header Idempotent-Replayed: true) instead of "
        "creating it again; the same key with another body is refused "
        "(422 `idempotency_key_reused`); the same key while the first request is still "
        "being handled gets 409 `idempotency_key_in_use`. Remembered for "
        "NUTGRAF_IDEMPOTENCY_TTL_S.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    },
    "Prefer": {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "description": "`wait=N`: hold the request up to N seconds (at most "
        f"{MAX_PREFER_WAIT_S}) for the summary; answered 200 if it is ready by then "
        "(with Preference-Applied), else 202 as usual.",
        "schema": {"type": "string"},
        "example": "wait=10",
    },
    "JobId": {
        "name": "job_id",
        "in": "path",
        "required": True,
        "description": "The job id, as POST /v1/summaries answered it.",
        "schema": {"type": "string"},
    },
    "BatchId": {
        "name": "batch_id",
        "in": "path",
        "required": True,
        "description": "The batch id, as POST /v1/batches answered it.",
        "schema": {"type": "string"},
    },
    "Cursor": {
        "name": "cursor",
        "in": "query",
        "required": False,
        "description": "Position of the first item; `next_cursor` of the previous page.",
        "schema": {"type": "integer", "minimum": 0, "default": 0},
    },
    "Limit": {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "Most items on the page.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    },
}

# The callback POST's signature headers (see the webhooks section of the description).
CALLBACK_HEADERS: list[dict[str, Any]] = [
    {
        "name": "X-Nutgraf-Timestamp",
        "in": "header",
        "required": True,
        "description": "Unix seconds when this attempt was sent.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    {
        "name": "X-Nutgraf-Signature",
        "in": "header",
        "required": True,
        "description": "`sha256=` + hex HMAC-SHA256(NUTGRAF_WEBHOOK_SECRET, "
        '`f"{timestamp}."` + raw body).',
        "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
    },
    {
        "name": "X-Nutgraf-Delivery",
        "in": "header",
        "required": True,
        "description": "`job:<id>` or `batch:<id>`: the same for every attempt.",
        "schema": {"type": "string"},
    },
]

DESCRIPTION = """\
News summarization as a service: submit an article (or a batch of them), get a job to
poll, or wait for it, or receive a signed callback when it ends.

**Authentication.** When the deployment has API keys, every `/v1` call needs
`Authorization: Bearer <key>`; without keys the API is open. `/healthz`, `/readyz`,
`/metrics`, `/openapi.json` and `/docs` never need a key.

**Rate limits.** With `NUTGRAF_RATE_LIMIT` set, `/v1` calls are limited per key (per
client address without keys): over it, 429 `rate_limited` with `Retry-After`.

**Callbacks.** A request with `callback_url` gets a POST there when its job or batch ends
(see the callbacks of the two POST operations): JSON, signed with
`X-Nutgraf-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}." + body)>`.
A 2xx answer is a delivery; anything else is retried with exponential backoff (1 s, 2 s,
4 s ... at most 5 min apart) for `NUTGRAF_WEBHOOK_RETRY_FOR_S`; redirects are not followed.

**Errors.** Every error has the body `{"error": {"code": "...", "message": "..."}}`:

"""


def _ref(name: str, kind: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json_content(schema_name: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(schema_name)}}


def _error_responses(*codes: str) -> dict[str, Any]:
    """One response per status, listing its possible codes, with an example of each."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in codes:
        error = ERRORS[code]
        by_status.setdefault(error.status, []).append(error)
    responses: dict[str, Any] = {}
    for status, errors in sorted(by_status.items()):
        lines = [f"- `{e.code}`: {e.when}" for e in errors]
        header_names = sorted({h for e in errors for h in ERROR_HEADERS.get(e.code, [])})
        response: dict[str, Any] = {
            "description": "Error codes:\n" + "\n".join(lines),
            "content": {
                "application/json": {
                    "schema": _ref("ErrorBody"),
                    "examples": {
                        e.code: {
                            "summary": e.code,
                            "value": {"error": {"code": e.code, "message": e.when}},
                        }
                        for e in errors
                    },
                }
            },
        }
        if header_names:
            response["headers"] = {name: _ref(name, "headers") for name in header_names}
        responses[str(status)] = response
    return responses


def _job_response(description: str, *headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _json_content("JobBody")}
    if headers:
        response["headers"] = {name: _ref(name, "headers") for name in headers}
    return response


def _operation(
    operation_id: str,
    summary: str,
    tag: str,
    responses: dict[str, Any],
    *,
    description: str | None = None,
    parameters: tuple[str, ...] = (),
    body: str | None = None,
    v1: bool = True,
    callbacks: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = [_ref(p, "parameters") for p in parameters]
    if body:
        operation["requestBody"] = {"required": True, "content": _json_content(body)}
    operation["responses"] = responses
    if callbacks:
        operation["callbacks"] = callbacks
    # Optional: the key is needed only when the deployment has keys ({} = no requirement).
    operation["security"] = [{"bearerAuth": []}, {}] if v1 else []
    return operation


def _callback(name: str, schema: str, description: str) -> dict[str, Any]:
    return {
        name: {
            "{$request.body#/callback_url}": {
                "post": {
                    "summary": description,
                    "parameters": CALLBACK_HEADERS,
                    "requestBody": {"required": True, "content": _json_content(schema)},
                    "responses": {
                        "2XX": {"description": "Delivered."},
                        "default": {
                            "description": "Not delivered: retried with exponential "
                            "backoff until NUTGRAF_WEBHOOK_RETRY_FOR_S after the first try."
                        },
                    },
                }
            }
        }
    }


def _static_get(operation_id: str, summary: str, tag: str, media: str) -> dict[str, Any]:
    schema = {"type": "object"} if media == "application/json" else {"type": "string"}
    return {
        "get": _operation(
            operation_id,
            summary,
            tag,
            {"200": {"description": summary, "content": {media: {"schema": schema}}}},
            v1=False,
        )
    }


def _paths() -> dict[str, Any]:
    submit_errors = (*V1_ERRORS, *BODY_ERRORS, *IDEMPOTENCY_ERRORS, *WORK_ERRORS)
    read_errors = (*V1_ERRORS, "not_found", "unavailable")
    return {
        "/v1/summaries": {
            "post": _operation(
                "create_summary",
                "Submit an article",
                "summaries",
                {
                    "200": _job_response(
                        "The job has ended (`succeeded`, or `failed`): a cache hit, "
                        "extractive mode, done within `Prefer: wait`, or a replay of an "
                        "ended job.",
                        "Preference-Applied",
                        "Idempotent-Replayed",
                    ),
                    "202": _job_response(
                        "Queued or running: poll Location.", "Location", "Idempotent-Replayed"
                    ),
                    # not_found: an Idempotency-Key replay whose job has expired.
                    **_error_responses(*submit_errors, "text_too_long", "not_found"),
                },
                description="Identical submissions share work: while the first is queued "
                "or running a second gets the same job; afterwards it is a cache hit.",
                parameters=("IdempotencyKey", "Prefer"),
                body="SummaryRequest",
                callbacks=_callback(
                    "summaryCompleted", "SummaryCompleted", "The job ended (callback_url)."
                ),
            ),
        },
        "/v1/summaries/{job_id}": {
            "parameters": [_ref("JobId", "parameters")],
            "get": _operation(
                "get_summary",
                "Read a job",
                "summaries",
                {"200": _job_response("The job."), **_error_responses(*read_errors)},
            ),
            "delete": _operation(
                "cancel_summary",
                "Cancel a queued job",
                "summaries",
                {
                    "200": _job_response("The job, now `cancelled`."),
                    **_error_responses(*read_errors, "not_cancellable"),
                },
            ),
        },
        "/v1/batches": {
            "post": _operation(
                "create_batch",
                "Submit a batch of articles",
                "batches",
                {
                    "202": {
                        "description": "The batch: poll Location, read its results_url.",
                        "headers": {
                            "Location": _ref("Location", "headers"),
                            "Idempotent-Replayed": _ref("Idempotent-Replayed", "headers"),
                        },
                        "content": _json_content("BatchBody"),
                    },
                    # not_found: an Idempotency-Key replay whose batch has expired.
                    **_error_responses(*submit_errors, "payload_too_large", "not_found"),
                },
                description="1 to NUTGRAF_MAX_BATCH_ITEMS items, each with a client `id` "
                "unique in the batch. Missing or duplicate ids, or too many items, refuse "
                "the whole batch (422); a problem inside one item (empty or too long text, "
                "a bad option) fails only that item, with its own `error`. Items already "
                "cached succeed at once.",
                parameters=("IdempotencyKey",),
                body="BatchRequest",
                callbacks=_callback(
                    "batchCompleted", "BatchCompleted", "The batch's last item ended."
                ),
            ),
        },
        "/v1/batches/{batch_id}": {
            "parameters": [_ref("BatchId", "parameters")],
            "get": _operation(
                "get_batch",
                "Read a batch's status and progress",
                "batches",
                {
                    "200": {"description": "The batch.", "content": _json_content("BatchBody")},
                    **_error_responses(*read_errors),
                },
            ),
            "delete": _operation(
                "cancel_batch",
                "Cancel a batch's queued items",
                "batches",
                {
                    "200": {
                        "description": "The batch; every item that was still queued is cancelled.",
                        "content": _json_content("BatchBody"),
                    },
                    **_error_responses(*read_errors),
                },
            ),
        },
        "/v1/batches/{batch_id}/results": {
            "parameters": [_ref("BatchId", "parameters")],
            "get": _operation(
                "get_batch_results",
                "Read a page of a batch's items",
                "batches",
                {
                    "200": {
                        "description": "A page of items, in submission order.",
                        "content": _json_content("BatchResults"),
                    },
                    **_error_responses(*read_errors, "invalid_request"),
                },
                parameters=("Cursor", "Limit"),
            ),
        },
        "/v1/models": {
            "get": _operation(
                "list_models",
                "List the served models",
                "models",
                {
                    "200": {
                        "description": "The models; the first is the default.",
                        "content": _json_content("ModelsList"),
                    },
                    **_error_responses(*V1_ERRORS),
                },
            ),
        },
        "/healthz": {
            "get": _operation(
                "healthz",
                "Liveness",
                "operations",
                {
                    "200": {
                        "description": "The process runs.",
                        "content": _json_content("HealthBody"),
                    }
                },
                v1=False,
            ),
        },
        "/readyz": {
            "get": _operation(
                "readyz",
                "Readiness",
                "operations",
                {
                    "200": {
                        "description": "Redis answers and a worker has the default model.",
                        "content": _json_content("ReadyBody"),
                    },
                    "503": {
                        "description": "Error codes:\n- `unavailable`: not ready; the "
                        "message says why (Redis unreachable, no worker, model loading or "
                        "failed).",
                        "headers": {"Retry-After": _ref("Retry-After", "headers")},
                        "content": _json_content("ErrorBody"),
                    },
                },
                v1=False,
            ),
        },
        "/metrics": _static_get(
            "metrics", "Prometheus metrics (text exposition format)", "operations", "text/plain"
        ),
        "/openapi.json": _static_get(
            "openapi", "This OpenAPI document", "docs", "application/json"
        ),
        "/docs": _static_get("docs", "Interactive API documentation", "docs", "text/html"),
        "/": _static_get("web_page", "The summarizer web page", "docs", "text/html"),
    }


def component_schemas() -> dict[str, Any]:
    """JSON Schemas of every request and response model, by name, refs into components."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((m, "validation") for m in REQUEST_MODELS),
        *((m, "serialization") for m in RESPONSE_MODELS),
    ]
    _, top = models_json_schema(models, ref_template=REF_TEMPLATE)
    schemas: dict[str, Any] = top["$defs"]
    # The paths refer to models by class name: a clash renamed by pydantic must fail here.
    missing = sorted({m.__name__ for m, _ in models} - schemas.keys())
    if missing:
        raise RuntimeError(f"schema names clash or were renamed: {missing}")
    return schemas


def _errors_table() -> str:
    rows = [f"| {e.status} | `{e.code}` | {e.when} |" for e in ERRORS.values()]
    return "| status | code | when |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n"


@cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "nutgraf",
            "version": nutgraf.__version__,
            "description": DESCRIPTION + _errors_table(),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [
            {"name": "summaries", "description": "One article, one summary job."},
            {"name": "batches", "description": "Many articles in one request."},
            {"name": "models", "description": "What this deployment serves."},
            {"name": "operations", "description": "Probes and metrics."},
            {"name": "docs", "description": "This documentation and the web page."},
        ],
        "paths": _paths(),
        "components": {
            "schemas": component_schemas(),
            "parameters": PARAMETERS,
            "headers": HEADERS,
            "responses": {
                # Answered for any route, rather than by one operation.
                "NotFound": _error_responses("not_found")["404"],
                "MethodNotAllowed": _error_responses("method_not_allowed")["405"],
            },
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "One of the deployment's API keys (NUTGRAF_API_KEYS).",
                }
            },
        },
    }


def build_document() -> dict[str, Any]:
    """The OpenAPI document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())


@openapi.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(_document())


@openapi.get("/docs")
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
def docs_asset(filename: str) -> Response:
    """Swagger UI's own files (scripts, stylesheet, icons)."""
    return send_from_directory(SWAGGER_UI_DIR, filename)
