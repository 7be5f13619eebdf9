"""POST /hf/models/<name> in the OpenAPI document and in-process: the names it takes are
the served ones, and every error under /hf, the hooks' and the routing's included, has
the Hugging Face Inference API's shape."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from nutgraf.contract.hf import HfErrorBody
from nutgraf.settings import Settings
from service import create_app
from service.openapi import build_document

PATH = "/hf/models/{name}"
# What the route answers: status -> the error codes that status carries.
STATUSES: dict[int, set[str]] = {
    200: set(),
    400: {"invalid_json"},
    401: {"unauthorized"},
    404: {"not_found"},
    409: {"cancelled"},
    413: {"text_too_long"},
    415: {"unsupported_media_type"},
    422: {"invalid_request", "summarization_failed"},
    429: {"rate_limited"},
    500: {"internal_error"},
    503: {"unavailable", "overloaded", "not_ready"},
}


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    """The document as built in-process, from the app's routes."""
    return build_document(app)


def hf_error(response: Any, status: int, code: str) -> HfErrorBody:
    """HF's error body, with this status and code."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = HfErrorBody.model_validate(response.get_json())
    assert body.error_type == code and body.error
    return body


def test_the_operation_documents_its_statuses_codes_and_headers(
    document: dict[str, Any],
) -> None:
    operation = document["paths"][PATH]["post"]
    assert operation["security"] == [{"bearerAuth": []}, {}]
    responses = operation["responses"]
    assert set(responses) == {str(status) for status in STATUSES}
    for status, codes in STATUSES.items():
        examples = responses[str(status)]["content"]["application/json"].get("examples", {})
        assert {ex["value"]["error_type"] for ex in examples.values()} == codes, status
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert "Retry-After" in responses["503"]["headers"]
    assert all(
        "estimated_time" in ex["value"]
        for ex in responses["503"]["content"]["application/json"]["examples"].values()
    )


def test_the_model_names_are_what_the_route_serves(
    app: Flask, client: FlaskClient, document: dict[str, Any]
) -> None:
    names = document["components"]["parameters"]["Name"]["schema"]["enum"]
    assert names[0] == "default" and app.extensions["nutgraf.settings"].model in names
    for name in names:  # each one found: the blank article is what is refused
        hf_error(client.post(f"/hf/models/{name}", json={"inputs": " "}), 422, "invalid_request")
    unknown = client.post("/hf/models/acme/no-such-model", json={"inputs": "The council met."})
    assert "acme/no-such-model" in hf_error(unknown, 404, "not_found").error


def test_routing_errors_under_hf_have_hfs_shape(client: FlaskClient) -> None:
    hf_error(client.get("/hf/models/default"), 405, "method_not_allowed")
    hf_error(client.post("/hf/nothing-here", json={}), 404, "not_found")
    # Elsewhere, the contract's shape as before.
    assert client.post("/v1/nothing-here").get_json()["error"]["code"] == "not_found"


def test_keys_and_rate_limits_cover_hf(settings: Settings) -> None:
    key = f"key-{uuid.uuid4().hex}"  # a budget of this test's own in the session's Redis
    keyed = create_app(settings.model_copy(update={"api_keys": [key], "rate_limit": "1/hour"}))
    client = keyed.test_client()
    body = {"inputs": " "}
    response = client.post("/hf/models/default", json=body)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    hf_error(response, 401, "unauthorized")
    auth = {"Authorization": f"Bearer {key}"}
    hf_error(client.post("/hf/models/default", json=body, headers=auth), 422, "invalid_request")
    limited = client.post("/hf/models/default", json=body, headers=auth)
    hf_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0
