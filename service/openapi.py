"""The OpenAPI 3.1 document, generated from the app's own routes.

Nothing here lists the paths: `build_document` walks the routes registered on the app and
takes each one's path, method and path parameters from Flask, and what it answers from the
`@documented` operation beside it (service/apidoc.py). Request and response schemas are
the pydantic models of nutgraf.contract, turned into JSON Schema by pydantic, plus what the
deployment's settings refuse (`deployment_limits`: served models, batch size); the error
table and each error response come from the error classes of service/errors.py. So the
document cannot drift from the routes, the validation or the errors.
"""

from __future__ import annotations

import copy
import re
from importlib.metadata import version
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from nutgraf.contract import (
    DEFAULT_RESULTS_PAGE,
    MAX_IDEMPOTENCY_KEY_CHARS,
    MAX_RESULTS_PAGE,
    MAX_WAIT_S,
)
from nutgraf.contract.hf import HfErrorBody
from nutgraf.contract.responses import ErrorBody
from nutgraf.models.specs import resolve
from nutgraf.settings import Settings
from service import context
from service.apidoc import Callback, Operation, Reply, operation_of
from service.errors import (
    CATALOGUE,
    HF_PREFIX,
    HttpError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    error_body,
)
from service.security import API_PREFIXES, V1_HOOK_ERRORS

REF_TEMPLATE = "#/components/schemas/{model}"
# Methods Flask adds to every route by itself.
IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})
# Every /v1 and /hf call can meet the hooks in front of them (keys, rate limit), and a bug.
V1_ERRORS: tuple[type[HttpError], ...] = (*V1_HOOK_ERRORS, InternalError)
# Answered for any route, rather than by one operation.
ROUTE_ERRORS: tuple[type[HttpError], ...] = (NotFound, MethodNotAllowed)

TAGS = [
    {"name": "summaries", "description": "One article, one summary job."},
    {"name": "batches", "description": "Many articles in one request."},
    {"name": "checks", "description": "Any summary checked against its article."},
    {"name": "models", "description": "What this deployment serves."},
    {"name": "hf", "description": "The Hugging Face Inference API's summarization task."},
    {"name": "operations", "description": "Probes and metrics."},
    {"name": "docs", "description": "This documentation and the web page."},
]

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

# Header and query parameters by the name operations use; path parameters are named after
# the route's variable (job_id: JobId).
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
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_CHARS},
    },
    "Prefer": {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "description": "`wait=N`: hold the request up to N seconds (at most "
        f"{MAX_WAIT_S}) for the summary; answered 200 if it is ready by then "
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
    "Name": {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "A model this deployment serves, as GET /v1/models names it (an HF "
        "id keeps its slash: `/hf/models/sshleifer/distilbart-cnn-12-6`), or `default`.",
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
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_RESULTS_PAGE,
            "default": DEFAULT_RESULTS_PAGE,
        },
    },
}

# The callback POST's Standard Webhooks headers (see the webhooks section of the description).
CALLBACK_HEADERS: list[dict[str, Any]] = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "`job:<id>` or `batch:<id>`: the same on every attempt of a delivery.",
        "schema": {"type": "string"},
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "Unix seconds when this attempt was sent.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "`v1,` + base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>`, "
        "keyed with the base64-decoded part of a `whsec_` secret of NUTGRAF_WEBHOOK_SECRET; "
        "one such signature per secret, space-separated.",
        "schema": {"type": "string", "pattern": "^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$"},
    },
]

DESCRIPTION = """\
News summarization as a service: submit an article (or a batch of them), get a job to
poll, or wait for it, or receive a signed callback when it ends.

**Authentication.** When the deployment has API keys, every `/v1` and `/hf` call needs
`Authorization: Bearer <key>`; without keys the API is open. `/healthz`, `/readyz`,
`/metrics`, `/openapi.json` and `/docs` never need a key.

**Rate limits.** With `NUTGRAF_RATE_LIMIT` set, `/v1` and `/hf` calls are limited per key (per
client address without keys): over it, 429 `rate_limited` with `Retry-After`.

**Callbacks.** A request with `callback_url` gets a POST there when its job or batch ends
(see the callbacks of the two POST operations): JSON, signed as
[Standard Webhooks](https://www.standardwebhooks.com) has it (`webhook-id`,
`webhook-timestamp`, `webhook-signature`). A 2xx answer is a delivery; 410 Gone ends the
callback; anything else is retried with exponential backoff (1 s, 2 s, 4 s ... at most
5 min apart), or when a 429's or 503's `Retry-After` says, for
`NUTGRAF_WEBHOOK_RETRY_FOR_S`; redirects are not followed.

**Errors.** Every error has the body `{"error": {"code": "...", "message": "..."}}` (under
`/hf`, Hugging Face's, which its clients read: `{"error": "message", "error_type": "code"}`,
plus `estimated_time` in seconds on a 503):

"""


def _ref(name: str, kind: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json_content(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model.__name__)}}


def openapi_path(rule: str) -> str:
    """Flask's `/v1/summaries/<job_id>` (or `<string:job_id>`) as `/v1/summaries/{job_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _path_parameter(name: str) -> str:
    """The component of a route variable: job_id is JobId."""
    component = "".join(part.title() for part in name.split("_"))
    if component not in PARAMETERS:
        raise LookupError(f"no parameter component {component} for route variable {name!r}")
    return component


def error_responses(errors: tuple[type[HttpError], ...], hf: bool = False) -> dict[str, Any]:
    """One response per status, listing its possible codes, with an example of each (in
    HF's error shape for `hf`, the /hf routes)."""
    by_status: dict[int, list[type[HttpError]]] = {}
    for error in sorted(set(errors), key=CATALOGUE.index):
        by_status.setdefault(error.status, []).append(error)
    responses: dict[str, Any] = {}
    for status, classes in sorted(by_status.items()):
        lines = [f"- `{e.code}`: {e.when}" for e in classes]
        header_names = sorted({h for e in classes for h in e.header_names})
        response: dict[str, Any] = {
            "description": "Error codes:\n" + "\n".join(lines),
            "content": {
                "application/json": {
                    "schema": _ref((HfErrorBody if hf else ErrorBody).__name__),
                    "examples": {
                        e.code: {
                            "summary": e.code,
                            "value": error_body(e.status, e.code, e.when, hf=hf),
                        }
                        for e in classes
                    },
                }
            },
        }
        if header_names:
            response["headers"] = {name: _ref(name, "headers") for name in header_names}
        responses[str(status)] = response
    return responses


def _reply(reply: Reply) -> dict[str, Any]:
    response: dict[str, Any] = {"description": reply.description}
    if reply.headers:
        response["headers"] = {name: _ref(name, "headers") for name in reply.headers}
    if reply.body is not None:
        response["content"] = _json_content(reply.body)
    else:
        schema = {"type": "object"} if reply.media == "application/json" else {"type": "string"}
        response["content"] = {reply.media: {"schema": schema}}
    return response


def _callback(callback: Callback) -> dict[str, Any]:
    post = {
        "summary": callback.summary,
        "parameters": CALLBACK_HEADERS,
        "requestBody": {"required": True, "content": _json_content(callback.body)},
        "responses": {
            "2XX": {"description": "Delivered."},
            "410": {"description": "Gone: no more attempts of this callback."},
            "default": {
                "description": "Not delivered: retried with exponential backoff, or after "
                "a 429's or 503's Retry-After, until NUTGRAF_WEBHOOK_RETRY_FOR_S after the "
                "first try."
            },
        },
    }
    return {callback.name: {"{$request.body#/callback_url}": {"post": post}}}


def _operation(operation: Operation, operation_id: str, path: str) -> dict[str, Any]:
    api = path.startswith(API_PREFIXES)
    built: dict[str, Any] = {
        "operationId": operation_id,
        "summary": operation.summary,
        "tags": [operation.tag],
    }
    if operation.description:
        built["description"] = operation.description
    if operation.parameters:
        built["parameters"] = [_ref(_known(p), "parameters") for p in operation.parameters]
    if operation.body is not None:
        built["requestBody"] = {"required": True, "content": _json_content(operation.body)}
    errors = (*V1_ERRORS, *operation.errors) if api else operation.errors
    built["responses"] = {
        **{str(status): _reply(reply) for status, reply in sorted(operation.replies.items())},
        **error_responses(errors, hf=path.startswith(HF_PREFIX)),
    }
    if operation.callbacks:
        built["callbacks"] = {k: v for c in operation.callbacks for k, v in _callback(c).items()}
    # Optional: the key is needed only when the deployment has keys ({} = no requirement).
    built["security"] = [{"bearerAuth": []}, {}] if api else []
    return built


def _known(parameter: str) -> str:
    if parameter not in PARAMETERS:
        raise LookupError(f"no parameter component {parameter!r}")
    return parameter


def _operations(app: Flask) -> tuple[dict[str, Any], list[Operation]]:
    """The paths of every documented route of the app, and their operations."""
    paths: dict[str, Any] = {}
    found: list[Operation] = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        view = app.view_functions[rule.endpoint]
        operation = operation_of(view)
        if operation is None:
            continue
        path = openapi_path(rule.rule)
        item = paths.setdefault(path, {})
        variables = re.findall(r"{([^}]+)}", path)
        if variables:
            item["parameters"] = [_ref(_path_parameter(v), "parameters") for v in variables]
        methods = sorted((rule.methods or set()) - IMPLICIT_METHODS)
        if len(methods) != 1:
            raise ValueError(f"{rule.rule}: one method per documented view, not {methods}")
        operation_id = operation.operation_id or view.__name__
        item[methods[0].lower()] = _operation(operation, operation_id, path)
        found.append(operation)
    return paths, found


def component_schemas(operations: list[Operation]) -> dict[str, Any]:
    """JSON Schemas of every model the operations use, by name, refs into components."""
    models: dict[type[BaseModel], JsonSchemaMode] = {
        ErrorBody: "serialization",
        HfErrorBody: "serialization",
    }
    for operation in operations:
        if operation.body is not None:
            models[operation.body] = "validation"
        for reply in operation.replies.values():
            if reply.body is not None:
                models.setdefault(reply.body, "serialization")
        for callback in operation.callbacks:
            models.setdefault(callback.body, "serialization")
    _, top = models_json_schema(list(models.items()), ref_template=REF_TEMPLATE)
    schemas: dict[str, Any] = top["$defs"]
    # The operations refer to models by class name: a clash renamed by pydantic must fail.
    missing = sorted({m.__name__ for m in models} - schemas.keys())
    if missing:
        raise RuntimeError(f"schema names clash or were renamed: {missing}")
    return schemas


def served_model_names(settings: Settings) -> list[str]:
    """Every `model` value this deployment accepts: each served model by the name it was
    configured with, its preset name and its source (what service.validation matches)."""
    names: list[str] = []
    for served in settings.models:
        spec = resolve(served, settings.model_revision)
        names.extend(n for n in (served, spec.name, spec.source) if n not in names)
    return names


def deployment_limits(schemas: dict[str, Any], settings: Settings) -> None:
    """Add to the request schemas what this deployment's settings refuse with a 422: the
    models it serves, its batch size (/hf's inputs too), and callback_url while no webhook
    secret is set.
    Not NUTGRAF_MAX_CHARS as the text's maxLength: that is a 413, and schemathesis cannot
    generate from maxLength 100000 together with the text's pattern."""
    names = served_model_names(settings)
    for name in ("SummaryRequest", "BatchRequest", "BatchItem"):
        schemas[name]["properties"]["model"]["anyOf"][0]["enum"] = names
    # Not on BatchItem: an item too long fails alone, inside an accepted batch.
    schemas["BatchRequest"]["properties"]["items"]["maxItems"] = settings.max_batch_items
    # /hf's list of inputs: as many as a batch.
    schemas["HfSummarizationRequest"]["properties"]["inputs"]["anyOf"][1]["maxItems"] = (
        settings.max_batch_items
    )
    if not settings.webhook_secret:
        for name in ("SummaryRequest", "BatchRequest"):
            field = schemas[name]["properties"]["callback_url"]
            field["anyOf"] = [{"type": "null"}]
            field["description"] += " Refused here: NUTGRAF_WEBHOOK_SECRET is not set."


def _errors_table() -> str:
    rows = [f"| {e.status} | `{e.code}` | {e.when} |" for e in CATALOGUE]
    return "| status | code | when |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n"


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of the app's routes (a fresh one: callers may change it)."""
    paths, operations = _operations(app)
    schemas = component_schemas(operations)
    settings = app.extensions[context.SETTINGS]
    deployment_limits(schemas, settings)
    parameters = copy.deepcopy(PARAMETERS)  # with the names of the models served under /hf
    parameters["Name"]["schema"]["enum"] = ["default", *served_model_names(settings)]
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "nutgraf",
            # The server distribution's (the `nutgraf` namespace has no __version__).
            "version": version("nutgraf"),
            "description": DESCRIPTION + _errors_table(),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": TAGS,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": parameters,
            "headers": HEADERS,
            "responses": {
                error.__name__: error_responses((error,))[str(error.status)]
                for error in ROUTE_ERRORS
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
    return copy.deepcopy(document)
