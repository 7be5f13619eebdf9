"""/openapi.json covers every route and error of the contract, is valid OpenAPI 3.1, is
generated from the very schemas that validate requests; /docs serves Swagger UI locally."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from pydantic import BaseModel

from nutgraf.contract import BatchItem, BatchRequest, SummaryRequest
from nutgraf.contract import responses as am
from nutgraf.contract.hf import HfErrorBody, HfSummaries, HfSummarizationRequest
from service import errors
from service.openapi import REF_TEMPLATE, build_document, deployment_limits

IGNORED_METHODS = {"HEAD", "OPTIONS"}
# Swagger UI's own files are not API routes.
DOCS_ASSET_ENDPOINTS = {"openapi.docs_asset", "openapi.docs_initializer"}

# What the contract (the issue's shared contract file) promises, per operation:
# status -> the error codes that status carries (empty for a success).
CONTRACT: dict[tuple[str, str], dict[int, set[str]]] = {
    ("post", "/v1/summaries"): {
        200: set(),
        202: set(),
        400: {"invalid_json"},
        401: {"unauthorized"},
        409: {"idempotency_key_in_use"},
        413: {"text_too_long"},
        415: {"unsupported_media_type"},
        422: {"invalid_request", "idempotency_key_reused"},
        429: {"rate_limited"},
        500: {"internal_error"},
        503: {"unavailable", "overloaded"},
    },
    ("get", "/v1/summaries/{job_id}"): {
        200: set(),
        401: {"unauthorized"},
        404: {"not_found"},
        429: {"rate_limited"},
        503: {"unavailable"},
    },
    ("delete", "/v1/summaries/{job_id}"): {
        200: set(),
        401: {"unauthorized"},
        404: {"not_found"},
        409: {"not_cancellable"},
        429: {"rate_limited"},
    },
    ("post", "/v1/batches"): {
        202: set(),
        400: {"invalid_json"},
        401: {"unauthorized"},
        409: {"idempotency_key_in_use"},
        413: {"payload_too_large"},
        415: {"unsupported_media_type"},
        422: {"invalid_request", "idempotency_key_reused"},
        429: {"rate_limited"},
        503: {"unavailable", "overloaded"},
    },
    ("get", "/v1/batches/{batch_id}"): {
        200: set(),
        401: {"unauthorized"},
        404: {"not_found"},
        429: {"rate_limited"},
    },
    ("get", "/v1/batches/{batch_id}/results"): {
        200: set(),
        401: {"unauthorized"},
        404: {"not_found"},
        429: {"rate_limited"},
    },
    ("delete", "/v1/batches/{batch_id}"): {
        200: set(),
        401: {"unauthorized"},
        404: {"not_found"},
        429: {"rate_limited"},
    },
    ("get", "/v1/models"): {200: set(), 401: {"unauthorized"}, 429: {"rate_limited"}},
    ("get", "/healthz"): {200: set()},
    ("get", "/readyz"): {200: set(), 503: set()},
    ("get", "/metrics"): {200: set()},
    ("get", "/openapi.json"): {200: set()},
    ("get", "/docs"): {200: set()},
    ("get", "/"): {200: set()},
}
# Headers the contract names, per (operation, status).
CONTRACT_HEADERS: dict[tuple[str, str, int], set[str]] = {
    ("post", "/v1/summaries", 200): {"Preference-Applied", "Idempotent-Replayed"},
    ("post", "/v1/summaries", 202): {"Location", "Idempotent-Replayed"},
    ("post", "/v1/summaries", 401): {"WWW-Authenticate"},
    ("post", "/v1/summaries", 429): {"Retry-After"},
    ("post", "/v1/summaries", 503): {"Retry-After"},
    ("post", "/v1/batches", 202): {"Location", "Idempotent-Replayed"},
    ("post", "/v1/batches", 503): {"Retry-After"},
    ("get", "/v1/summaries/{job_id}", 401): {"WWW-Authenticate"},
    ("get", "/readyz", 503): {"Retry-After"},
}
# Request schemas that the deployment's settings add to (service.openapi.deployment_limits).
LIMITED: list[type[BaseModel]] = [SummaryRequest, BatchRequest, BatchItem, HfSummarizationRequest]
# Errors answered for any route rather than by an operation.
ROUTE_LEVEL_ERRORS = {(404, "not_found"), (405, "method_not_allowed")}
RESPONSE_MODELS: list[type[BaseModel]] = [
    am.JobBody,
    am.BatchBody,
    am.BatchResults,
    am.BatchResultItem,
    am.ErrorBody,
    am.ModelsList,
    am.HealthBody,
    am.ReadyBody,
    am.SummaryCompleted,
    am.BatchCompleted,
    am.Callback,
    am.CallbackAttempt,
    HfSummaries,
    HfErrorBody,
]


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    """The document as built in-process, from the app's routes."""
    return build_document(app)


def openapi_path(rule: str) -> str:
    """Flask's `/v1/summaries/<job_id>` (or `<string:job_id>`) as `/v1/summaries/{job_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every operation of the document."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}:
                yield method, path, operation


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref (one level is all the document uses)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = document
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    assert isinstance(target, dict)
    return target


def error_code(example: dict[str, Any]) -> str:
    """The code of an error body: the contract's, or HF's (under /hf)."""
    error = example["error"]
    code: str = error["code"] if isinstance(error, dict) else example["error_type"]
    return code


def error_codes(document: dict[str, Any], response: dict[str, Any]) -> set[str]:
    """The error codes a response documents (one example per code)."""
    response = resolve(document, response)
    media = response.get("content", {}).get("application/json", {})
    return {error_code(ex["value"]) for ex in media.get("examples", {}).values()}


def documented_errors(document: dict[str, Any]) -> set[tuple[int, str]]:
    """Every (status, code) some operation of the document answers."""
    return {
        (int(status), code)
        for _, _, operation in operations(document)
        for status, response in operation["responses"].items()
        for code in error_codes(document, response)
    }


def api_error_classes(
    cls: type[errors.ApiError] = errors.ApiError,
) -> Iterator[type[errors.ApiError]]:
    """Every subclass of ApiError, however deep."""
    for sub in cls.__subclasses__():
        yield sub
        yield from api_error_classes(sub)


def refs(node: Any) -> Iterator[str]:
    """Every $ref string anywhere under node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


# --- 1. every route of the app is documented ------------------------------------------------


def test_every_route_and_method_of_the_app_is_documented(
    app: Flask, document: dict[str, Any]
) -> None:
    checked, missing = 0, []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        if rule.endpoint in DOCS_ASSET_ENDPOINTS:
            continue
        path = openapi_path(rule.rule)
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            checked += 1
            if method.lower() not in document["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []
    assert checked >= 6  # at least the routes this test was written against


def test_every_contract_route_is_documented(document: dict[str, Any]) -> None:
    documented = {(method, path) for method, path, _ in operations(document)}
    assert set(CONTRACT) <= documented


def test_path_parameters_match_the_path_templates(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        in_path = set(re.findall(r"{([^}]+)}", path))
        declared = {
            p["name"]
            for p in (resolve(document, p) for p in item.get("parameters", []))
            if p["in"] == "path"
        }
        assert declared == in_path, path


# --- 2. every error and status of the contract is documented --------------------------------


def test_every_api_error_class_is_documented(document: dict[str, Any]) -> None:
    classes = {(cls.status, cls.code) for cls in api_error_classes()}
    assert len(classes) >= 6
    assert classes - documented_errors(document) == set()


def test_every_status_and_code_of_the_contract_is_documented(document: dict[str, Any]) -> None:
    problems = []
    for (method, path), statuses in CONTRACT.items():
        responses = document["paths"][path][method]["responses"]
        for status, codes in statuses.items():
            if str(status) not in responses:
                problems.append(f"{method.upper()} {path}: no {status}")
            elif missing := codes - error_codes(document, responses[str(status)]):
                problems.append(f"{method.upper()} {path} {status}: lacks {sorted(missing)}")
    assert problems == []


def test_route_level_errors_are_documented(document: dict[str, Any]) -> None:
    responses = document["components"]["responses"]
    documented = {
        code for response in responses.values() for code in error_codes(document, response)
    }
    assert {code for _, code in ROUTE_LEVEL_ERRORS} <= documented
    assert "Allow" in responses["MethodNotAllowed"]["headers"]


def test_the_contract_headers_are_documented(document: dict[str, Any]) -> None:
    for (method, path, status), names in CONTRACT_HEADERS.items():
        response = document["paths"][path][method]["responses"][str(status)]
        assert names <= set(response.get("headers", {})), (method, path, status)
    post = document["paths"]["/v1/summaries"]["post"]
    parameters = {resolve(document, p)["name"] for p in post["parameters"]}
    assert {"Idempotency-Key", "Prefer"} <= parameters
    results = document["paths"]["/v1/batches/{batch_id}/results"]["get"]
    assert {resolve(document, p)["name"] for p in results["parameters"]} == {"cursor", "limit"}


def test_error_responses_point_at_the_error_body(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        # /hf answers errors in the Hugging Face Inference API's shape.
        body = "HfErrorBody" if path.startswith("/hf/") else "ErrorBody"
        model = HfErrorBody if body == "HfErrorBody" else am.ErrorBody
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                media = resolve(document, response)["content"]["application/json"]
                assert media["schema"] == {"$ref": REF_TEMPLATE.format(model=body)}, (
                    method,
                    path,
                    status,
                )
                for example in media.get("examples", {}).values():
                    model.model_validate(example["value"])


def test_v1_and_hf_calls_declare_the_bearer_scheme(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    for _, path, operation in operations(document):
        if path.startswith(("/v1/", "/hf/")):
            assert {"bearerAuth": []} in operation["security"], path
        else:
            assert operation["security"] == [], path


# --- 3. valid OpenAPI, and one source of truth ----------------------------------------------


def test_document_is_valid_openapi_3_1(client: FlaskClient, document: dict[str, Any]) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    served = response.get_json()
    assert served == document
    assert served["openapi"] == "3.1.0"
    assert served["info"]["title"] == "nutgraf"
    validate(served)
    components = served["components"]
    for ref in set(refs(served)):
        kind, name = ref.removeprefix("#/components/").split("/")
        assert name in components[kind], ref


@pytest.mark.parametrize("model", [SummaryRequest, BatchRequest, BatchItem, HfSummarizationRequest])
def test_request_schemas_are_the_validating_models(
    app: Flask, document: dict[str, Any], model: type[BaseModel]
) -> None:
    schemas = document["components"]["schemas"]
    expected = model.model_json_schema(ref_template=REF_TEMPLATE)
    defs = {**expected.pop("$defs", {}), model.__name__: expected}
    # Plus only what this deployment's settings refuse (the next test checks those).
    limited = {m.__name__: m.model_json_schema(ref_template=REF_TEMPLATE) for m in LIMITED}
    for schema in limited.values():  # the models they refer to are checked on their own
        schema.pop("$defs", None)
    deployment_limits(limited, app.extensions["nutgraf.settings"])
    for name, definition in defs.items():
        assert schemas[name] == limited.get(name, definition)


def test_the_deployment_limits_are_what_the_service_refuses(
    app: Flask, client: FlaskClient, document: dict[str, Any]
) -> None:
    settings = app.extensions["nutgraf.settings"]
    schemas = document["components"]["schemas"]
    names = schemas["SummaryRequest"]["properties"]["model"]["anyOf"][0]["enum"]
    assert settings.model in names
    for name in ("BatchRequest", "BatchItem"):
        assert schemas[name]["properties"]["model"]["anyOf"][0]["enum"] == names
    for name in names:  # each one accepted (extractive: answered at once, no worker)
        body = {"text": "The council met.", "model": name, "mode": "extractive"}
        assert client.post("/v1/summaries", json=body).status_code == 200, name
    refused = client.post("/v1/summaries", json={"text": "The council met.", "model": "x"})
    assert refused.status_code == 422
    items = schemas["BatchRequest"]["properties"]["items"]
    assert (items["minItems"], items["maxItems"]) == (1, settings.max_batch_items)
    assert settings.webhook_secret == []  # so callback_url can only be null here
    for name in ("SummaryRequest", "BatchRequest"):
        assert schemas[name]["properties"]["callback_url"]["anyOf"] == [{"type": "null"}]
    url = {"text": "The council met.", "callback_url": "https://example.com/hook"}
    assert client.post("/v1/summaries", json=url).status_code == 422


def test_request_bodies_refer_to_the_request_models(document: dict[str, Any]) -> None:
    for path, name in [
        ("/v1/summaries", "SummaryRequest"),
        ("/v1/batches", "BatchRequest"),
        ("/hf/models/{name}", HfSummarizationRequest.__name__),
    ]:
        body = document["paths"][path]["post"]["requestBody"]
        assert body["required"] is True
        schema = body["content"]["application/json"]["schema"]
        assert schema == {"$ref": REF_TEMPLATE.format(model=name)}


@pytest.mark.parametrize("model", RESPONSE_MODELS)
def test_response_schemas_are_the_api_models(
    document: dict[str, Any], model: type[BaseModel]
) -> None:
    schemas = document["components"]["schemas"]
    expected = model.model_json_schema(mode="serialization", ref_template=REF_TEMPLATE)
    for name, definition in expected.pop("$defs", {}).items():
        assert schemas[name] == definition
    assert schemas[model.__name__] == expected


def test_real_responses_match_their_documented_models(
    client: FlaskClient, sample_article: str
) -> None:
    # No worker needed: extractive mode is answered in-process.
    created = client.post("/v1/summaries", json={"text": sample_article, "mode": "extractive"})
    assert created.status_code == 200
    job = am.JobBody.model_validate(created.get_json())
    assert job.status == "succeeded"
    am.JobBody.model_validate(client.get(f"/v1/summaries/{job.id}").get_json())
    am.ModelsList.model_validate(client.get("/v1/models").get_json())
    am.HealthBody.model_validate(client.get("/healthz").get_json())
    for response in [
        client.get("/v1/summaries/no-such-job"),
        client.post("/v1/summaries", data="{", content_type="application/json"),
        client.post("/v1/summaries", json={"text": ""}),
        client.put("/v1/models"),
    ]:
        assert response.status_code >= 400
        am.ErrorBody.model_validate(response.get_json())


# --- 4. Swagger UI from local files ---------------------------------------------------------


def test_docs_page_loads_local_swagger_ui(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert html.count("<script") == len(scripts)  # no inline script (the CSP forbids them)
    assert any(s.endswith("/swagger-ui-bundle.js") for s in scripts)
    assert any(s.endswith("/swagger-ui.css") for s in styles)
    assert "'unsafe-eval'" not in page.headers["Content-Security-Policy"]
    expected_types = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    for url in [*scripts, *styles, *re.findall(r'<link rel="icon"[^>]*href="([^"]+)"', html)]:
        assert url.startswith("/docs/"), url  # this origin, no CDN
        with client.get(url) as asset:  # closes the served file
            assert asset.status_code == 200, url
            assert asset.mimetype == expected_types[url[url.rindex(".") :]], url
            assert asset.get_data(), url
    with client.get(next(s for s in scripts if s.endswith("initializer.js"))) as initializer:
        assert '"url": "/openapi.json"' in initializer.get_data(as_text=True)
    # Swagger UI 4 refuses OpenAPI 3.1 documents; version 5 has the 3.1 support.
    with client.get(next(s for s in scripts if s.endswith("/swagger-ui-bundle.js"))) as bundle:
        assert b"isOAS31" in bundle.get_data()


def test_unknown_docs_asset_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/docs/no-such-file.js")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert client.get("/docs/../openapi.py").status_code == 404
