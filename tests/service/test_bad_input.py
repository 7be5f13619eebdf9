"""Input that once answered 500: refused with the contract's 4xx, before anything is written.

Each case was found against `make serve` (issue 13): a lone surrogate in the JSON text, a
body nested tens of thousands of arrays deep, a NUL in an article, a batch whose last item
is bad (its good jobs were left `queued` for good), and header and query values whose
digits are not ASCII (`Prefer: wait=²`, `cursor=²`).
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from helpers import STORY


def assert_refused(response: Any, status: int, code: str) -> str:
    """The contract's error body with this status and code; returns its message."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert message
    return message


def job_keys(redis_client: redis.Redis) -> set[str]:
    """Every job record and queued id in the store."""
    return set(redis_client.keys("nutgraf:job:*")) | set(redis_client.smembers("nutgraf:queued"))


def written_since(before: set[str], redis_client: redis.Redis) -> set[str]:
    """Job keys and queued ids that are new since `before`. Other tests' jobs in the
    session's database may end and leave the queued set meanwhile: only new ones count."""
    return job_keys(redis_client) - before


@pytest.mark.parametrize(
    "raw",
    [
        '{"text": "The council voted \\ud800 on Tuesday."}',
        '{"text": "The council voted on Tuesday.", "title": "\\udfff"}',
        '{"text": "The council voted on Tuesday.", "model": "\\ud83d"}',
    ],
)
def test_a_lone_surrogate_is_refused(client: FlaskClient, raw: str) -> None:
    response = client.post("/v1/summaries", data=raw, content_type="application/json")
    assert "surrogate" in assert_refused(response, 400, "invalid_json")


def test_a_deeply_nested_body_is_refused(client: FlaskClient) -> None:
    raw = "[" * 50_000 + "]" * 50_000
    response = client.post("/v1/summaries", data=raw, content_type="application/json")
    assert "nested" in assert_refused(response, 400, "invalid_json")


def test_a_nested_text_field_is_refused(client: FlaskClient) -> None:
    raw = '{"text": ' + "[" * 5_000 + "]" * 5_000 + "}"
    response = client.post("/v1/summaries", data=raw, content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.get_json()["error"]["code"] in ("invalid_json", "invalid_request")


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f"])
def test_nul_and_control_characters_are_refused(client: FlaskClient, char: str) -> None:
    response = client.post("/v1/summaries", json={"text": f"The council{char} voted."})
    message = assert_refused(response, 422, "invalid_request")
    assert "text" in message and "control character" in message


def test_tabs_and_newlines_are_text(client: FlaskClient) -> None:
    response = client.post(
        "/v1/summaries", json={"text": f"{STORY}\n\n\tMore.\r\n", "mode": "extractive"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_batch_with_a_bad_last_item_writes_nothing(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    before = job_keys(redis_client)
    items = [
        {"id": str(n), "text": STORY.replace("Lakeport", f"Surrogate Falls {n}")} for n in range(20)
    ]
    raw = client.application.json.dumps({"items": items})
    raw = raw[:-2] + ', {"id": "bad", "text": "Lone \\ud800 surrogate."}]}'
    response = client.post("/v1/batches", data=raw, content_type="application/json")
    assert_refused(response, 400, "invalid_json")
    assert not written_since(before, redis_client)


@pytest.mark.parametrize("value", ["wait=²", "wait=٣", "wait=1²", "wait=-1", "wait=abc"])
def test_a_malformed_prefer_wait_is_ignored(client: FlaskClient, value: str) -> None:
    # RFC 7240: a preference the server cannot honour is ignored, never an error.
    response = client.post(
        "/v1/summaries", json={"text": STORY, "mode": "extractive"}, headers={"Prefer": value}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Preference-Applied" not in response.headers


@pytest.mark.parametrize("query", ["cursor=²", "limit=٣", "cursor=1²", "limit=%EF%BC%95"])
def test_non_ascii_digits_in_a_query_are_refused(client: FlaskClient, query: str) -> None:
    items = [{"id": "one", "text": STORY, "mode": "extractive"}]
    batch = client.post("/v1/batches", json={"items": items}).get_json()
    response = client.get(f"/v1/batches/{batch['id']}/results?{query}")
    assert "whole number" in assert_refused(response, 422, "invalid_request")


def test_a_batch_of_too_much_extractive_text_writes_nothing(
    client: FlaskClient, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Extractive items are computed inside the request: their total is bounded, so one
    # batch cannot hold an API thread (and the process's GIL) past gunicorn's timeout.
    routes = importlib.import_module("service.routes.batches")  # the module, not the blueprint
    monkeypatch.setattr(routes, "EXTRACTIVE_BATCH_CHARS", 3 * len(STORY))
    before = job_keys(redis_client)
    items = [
        {"id": str(n), "text": STORY.replace("Lakeport", f"Sentence Bay {n}")} for n in range(4)
    ]
    response = client.post("/v1/batches", json={"items": items, "mode": "extractive"})
    assert "extractive" in assert_refused(response, 413, "payload_too_large")
    assert not written_since(before, redis_client)
    # Abstractive items go to the workers and do not count.
    abstractive = client.post("/v1/batches", json={"items": items})
    assert abstractive.status_code == 202


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"priority": "urgent"}, "priority"),
        ({"priority": 1}, "priority"),
        ({"ref": "x" * 201}, "ref"),
        ({"ref": "story\x07"}, "ref"),
        ({"ref": ""}, "ref"),
    ],
)
def test_a_bad_lane_or_story_id_is_refused_before_anything_is_written(
    client: FlaskClient, redis_client: redis.Redis, fields: dict[str, Any], named: str
) -> None:
    before = job_keys(redis_client)
    response = client.post("/v1/summaries", json={"text": STORY, **fields})
    assert named in assert_refused(response, 422, "invalid_request")
    batch = client.post("/v1/batches", json={"items": [{"id": "1", "text": STORY}], **fields})
    if named == "priority":
        assert named in assert_refused(batch, 422, "invalid_request")
    assert not written_since(before, redis_client)
