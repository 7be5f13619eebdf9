"""Schemathesis against /openapi.json: every documented operation, fed generated requests
(schema-valid and not, from the document itself), answers without a server error, and with
the statuses, headers, media types and bodies the document states.

The app is the one production builds, over a private redis-server of this module's own,
flushed before every case so that a generated Idempotency-Key or article never meets an
earlier one. No worker runs: jobs stay queued, and /readyz says it is not ready.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import redis
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from pydantic import ValidationError
from schemathesis.checks import (
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
)
from schemathesis.core.parameters import ParameterLocation

from helpers import TEST_MODEL
from nutgraf.contract import SummaryRequest
from nutgraf.contract.requests import ARTICLE_PATTERN, HEADLINE_PATTERN
from nutgraf.settings import Settings
from nutgraf.store.server import RedisServer
from service import create_app
from service.openapi import build_document

# Per operation and phase: about 750 requests, some 25 s on two busy cores.
MAX_EXAMPLES = 40
# `Prefer: wait=N` would hold a case N seconds (no worker ends the job): sent as wait=0.
ASKED_WAIT = re.compile(r"wait=[0-9]+", re.ASCII)


def deployment(redis_url: str, data_dir: Path | None = None) -> Settings:
    """The settings under test: the bundled model, no API keys, no webhook secret."""
    extra = {"data_dir": data_dir} if data_dir is not None else {}
    return Settings(redis_url=redis_url, model=TEST_MODEL, **extra)


# Collection needs the document before any fixture runs. Building it needs no Redis (the app
# connects on first use); test_the_schema_is_the_served_document ties it to /openapi.json.
schema = schemathesis.openapi.from_dict(
    build_document(create_app(deployment("redis://127.0.0.1:1/0")))
)


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of this module's own, so that flushing it touches no other test."""
    server = RedisServer(tmp_path_factory.mktemp("schemathesis-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(private_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The app under test, on the private server."""
    return create_app(deployment(private_redis.url, tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="module")
def store_redis(private_redis: RedisServer) -> redis.Redis:
    """A plain client of the private server."""
    return redis.Redis.from_url(private_redis.url)


def positive(case: schemathesis.Case) -> bool:
    """Whether every part of the case is schema-valid."""
    meta = case.meta
    return meta is not None and all(c.mode.is_positive for c in meta.components.values())


def whole_numbers(value: Any) -> Any:
    """`value` with every whole float (205.0) written as the integer (205)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value


def test_the_schema_is_the_served_document(api: Flask) -> None:
    assert api.test_client().get("/openapi.json").get_json() == schema.raw_schema


# Strings where Python's idea of space and JSON Schema's (ECMA-262) differ, and controls.
TRICKY_TEXTS = [
    "", " ", "\t\n\r", "\x85", "\ufeff", "\u3000\u2028", "\xa0a", "a", " a ", "\x00", "a\x00",
    "a\x1f", "a\x7f", "a\x0b", "a\x0c", "\x1c", "a\n", "a\x85\ufeff", "\U0001f600",
]  # fmt: skip


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_the_text_patterns_say_what_the_validators_enforce(text: str) -> None:
    article = jsonschema_rs.validator_for({"type": "string", "pattern": ARTICLE_PATTERN})
    headline = jsonschema_rs.validator_for({"type": "string", "pattern": HEADLINE_PATTERN})
    # A second regex engine (jsonschema-rs, in Rust) and Python's re agree with the model.
    assert (
        article.is_valid(text) == bool(re.search(ARTICLE_PATTERN, text)) == accepts({"text": text})
    )
    assert (
        headline.is_valid(text)
        == bool(re.search(HEADLINE_PATTERN, text))
        == accepts({"text": "a", "title": text})
    )


def accepts(body: dict[str, Any]) -> bool:
    """Whether POST /v1/summaries's model takes this body."""
    try:
        SummaryRequest.model_validate(body)
    except ValidationError:
        return False
    return True


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_generated_requests_get_documented_answers(
    case: schemathesis.Case, api: Flask, store_redis: redis.Redis
) -> None:
    store_redis.flushdb()
    # The contract takes integers as written (strict: 205, not "205" nor 205.0), and JSON
    # Schema cannot tell 205.0 from 205; schemathesis sends both for an integer.
    if isinstance(case.body, dict | list):
        case.body = whole_numbers(case.body)
    headers = None
    if "Prefer" in (case.headers or {}):
        # Sent in place of the generated header: the case and its metadata stay as made.
        headers = {"Prefer": ASKED_WAIT.sub("wait=0", case.headers["Prefer"])}
    excluded = []
    # /readyz and /hf answer 503 on purpose while no worker runs: the documented "not ready".
    not_ready = case.operation.path in ("/readyz", "/hf/models/{name}")
    if not_ready:
        excluded.append(not_a_server_error)
    batch = case.operation.label == "POST /v1/batches"
    # A bad item fails alone inside an accepted batch (202): checked below instead.
    bad_items = batch and case.meta is not None and case.meta.is_negative_at(ParameterLocation.BODY)
    if bad_items:
        excluded.append(negative_data_rejection)
    # Ids unique within the batch: a rule JSON Schema cannot state; checked below instead.
    good_batch = batch and positive(case)
    if good_batch:
        excluded.append(positive_data_acceptance)

    response = case.call_and_validate(app=api, headers=headers, excluded_checks=excluded)

    if not_ready and case.operation.path.startswith("/hf/"):
        # No other server error: a 503 is /hf's own "no worker runs", nothing else.
        assert response.status_code < 500 or response.json()["error_type"] == "not_ready"
        if response.status_code == 503:
            assert "no worker" in response.json()["error"], response.text
    if bad_items and response.status_code == 202:
        assert response.json()["counts"]["failed"] >= 1, case.body
    if good_batch and response.status_code == 422:
        ids = [item["id"] for item in case.body["items"]]
        assert len(set(ids)) < len(ids), response.text
        assert "used twice" in response.json()["error"]["message"]
