"""API keys, rate limits, backpressure, body-size limits and CORS, against a real Redis."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from nutgraf.settings import Settings
from nutgraf.store.server import free_port
from service import create_app

KEY_A = "alpha-" + "a" * 32
KEY_B = "beta-" + "b" * 32
ORIGIN = "https://newsroom.example"


@pytest.fixture()
def isolated(own_redis_url: str, settings: Settings) -> Settings:
    """The test settings on an empty Redis database of their own, where no worker listens
    (jobs queued there stay queued) and rate-limit budgets start empty."""
    return settings.model_copy(update={"redis_url": own_redis_url})


def build(base: Settings, **update: Any) -> Flask:
    """An app built by the production factory with some settings changed."""
    return create_app(base.model_copy(update=update))


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the contract's JSON error body with this status and code."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body


def article(tag: str) -> str:
    """A short article no other test submits."""
    return (
        f"The council of Northbridge met on Tuesday ({tag}). It approved a new budget of "
        "four million pounds for the harbour. The vote was close, with five members against."
    )


# -- API keys ------------------------------------------------------------------------------


def test_keys_are_required_on_v1_only(isolated: Settings) -> None:
    client = build(isolated, api_keys=[KEY_A, KEY_B]).test_client()
    for headers in (
        {},
        bearer("not-a-key"),
        bearer(KEY_A + "x"),
        bearer(KEY_A[:-1]),
        {"Authorization": "Bearer "},
        {"Authorization": KEY_A},
        {"Authorization": f"Basic {KEY_A}"},
    ):
        response = client.get("/v1/models", headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"
    # Every /v1 call, writes and unknown routes included, is behind the key.
    assert_error(client.post("/v1/summaries", json={"text": "x"}), 401, "unauthorized")
    assert_error(client.get("/v1/summaries/nope"), 401, "unauthorized")
    assert_error(client.get("/v1/nothing-here"), 401, "unauthorized")

    assert client.get("/v1/models", headers=bearer(KEY_A)).status_code == 200
    assert client.get("/v1/models", headers={"Authorization": f"bearer {KEY_B}"}).status_code == 200
    created = client.post(
        "/v1/summaries",
        json={"text": article("keys"), "mode": "extractive"},
        headers=bearer(KEY_B),
    )
    assert created.status_code == 200, created.get_json()
    job_id = created.get_json()["id"]
    assert client.get(f"/v1/summaries/{job_id}", headers=bearer(KEY_B)).status_code == 200
    # Another key's job is not found (tests/service/test_ownership.py).
    assert_error(client.get(f"/v1/summaries/{job_id}", headers=bearer(KEY_A)), 404, "not_found")
    assert_error(client.get("/v1/summaries/nope", headers=bearer(KEY_A)), 404, "not_found")

    # Probes stay open: orchestrators have no key.
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)


def test_keys_file_adds_keys(isolated: Settings, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(f"# newsroom CMS\n{KEY_B}  # rotated 2026-01\n\n", encoding="utf-8")
    client = build(isolated, api_keys=[KEY_A], api_keys_file=keys_file).test_client()
    assert client.get("/v1/models", headers=bearer(KEY_A)).status_code == 200
    assert client.get("/v1/models", headers=bearer(KEY_B)).status_code == 200
    assert_error(client.get("/v1/models", headers=bearer("# newsroom CMS")), 401, "unauthorized")

    only_file = build(isolated, api_keys_file=keys_file).test_client()
    assert only_file.get("/v1/models", headers=bearer(KEY_B)).status_code == 200
    assert_error(only_file.get("/v1/models"), 401, "unauthorized")


def test_without_keys_v1_is_open(isolated: Settings) -> None:
    assert build(isolated).test_client().get("/v1/models").status_code == 200


# -- rate limits ---------------------------------------------------------------------------


def test_each_key_has_its_own_budget(isolated: Settings) -> None:
    app = build(isolated, api_keys=[KEY_A, KEY_B], rate_limit="5/minute")
    client = app.test_client()
    for _ in range(5):
        assert client.get("/v1/models", headers=bearer(KEY_A)).status_code == 200
    refused = client.get("/v1/models", headers=bearer(KEY_A))
    body = assert_error(refused, 429, "rate_limited")
    assert "5 per 1 minute" in body["error"]["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Any /v1 route spends the same budget.
    assert_error(client.get("/v1/summaries/nope", headers=bearer(KEY_A)), 429, "rate_limited")

    assert client.get("/v1/models", headers=bearer(KEY_B)).status_code == 200
    # Probes and refused keys spend nothing.
    for _ in range(10):
        assert client.get("/healthz").status_code == 200
        assert_error(client.get("/v1/models", headers=bearer("wrong")), 401, "unauthorized")
    for _ in range(4):
        assert client.get("/v1/models", headers=bearer(KEY_B)).status_code == 200
    assert_error(client.get("/v1/models", headers=bearer(KEY_B)), 429, "rate_limited")

    # A second API process (another gunicorn worker) shares the budget through Redis.
    other = build(isolated, api_keys=[KEY_A, KEY_B], rate_limit="5/minute").test_client()
    assert_error(other.get("/v1/models", headers=bearer(KEY_A)), 429, "rate_limited")


def test_without_keys_the_budget_is_per_address(isolated: Settings) -> None:
    client = build(isolated, rate_limit="3/minute").test_client()
    first = {"REMOTE_ADDR": "192.0.2.1"}
    for _ in range(3):
        assert client.get("/v1/models", environ_base=first).status_code == 200
    assert_error(client.get("/v1/models", environ_base=first), 429, "rate_limited")
    assert client.get("/v1/models", environ_base={"REMOTE_ADDR": "192.0.2.2"}).status_code == 200


def test_no_rate_limit_when_unset(isolated: Settings) -> None:
    client = build(isolated).test_client()
    for _ in range(30):
        assert client.get("/v1/models").status_code == 200


def test_limiter_survives_redis_down(isolated: Settings) -> None:
    # Nobody listens on this port: the limiter falls back to memory, never a 500.
    down = f"redis://127.0.0.1:{free_port()}/0"
    client = build(isolated, redis_url=down, rate_limit="3/minute").test_client()
    for _ in range(3):
        assert client.get("/v1/models").status_code == 200
    refused = client.get("/v1/models")
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1

    fresh = build(isolated, redis_url=down, rate_limit="3/minute").test_client()
    assert_error(fresh.get("/v1/summaries/some-job"), 503, "unavailable")


# -- backpressure --------------------------------------------------------------------------


def test_new_work_is_refused_past_max_queue(isolated: Settings) -> None:
    app = build(isolated, max_queue=2)
    client = app.test_client()
    store = app.extensions["nutgraf.store"]
    jobs = []
    for n in range(2):
        response = client.post("/v1/summaries", json={"text": article(f"queued {n}")})
        assert response.status_code == 202, response.get_json()
        jobs.append(response.get_json()["id"])
    assert store.queue_depth() == 2

    refused = client.post("/v1/summaries", json={"text": article("one too many")})
    body = assert_error(refused, 503, "overloaded")
    assert "2" in body["error"]["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    # Only new work is refused: a job already in flight is shared, a cache hit answered.
    joined = client.post("/v1/summaries", json={"text": article("queued 0")})
    assert joined.status_code == 202 and joined.get_json()["id"] == jobs[0]
    extractive = {"text": article("no queue"), "mode": "extractive"}
    assert client.post("/v1/summaries", json=extractive).status_code == 200
    batch = {"items": [{"id": "x", "text": article("batch item")}]}
    assert_error(client.post("/v1/batches", json=batch), 503, "overloaded")
    # Reads still work while overloaded.
    assert client.get(f"/v1/summaries/{jobs[0]}").get_json()["status"] == "queued"
    assert client.get("/v1/models").status_code == 200

    # Room again once the queue drains.
    assert store.cancel(jobs[0]) == "cancelled"
    again = client.post("/v1/summaries", json={"text": article("room again")})
    assert again.status_code == 202, again.get_json()


# -- body size -----------------------------------------------------------------------------


@contextmanager
def serving(app: Flask) -> Iterator[int]:
    """The app behind a real HTTP server on a free port, for raw requests."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def claim_length(port: int, path: str, length: int) -> tuple[int, dict[str, Any]]:
    """POST a tiny body while claiming `length` bytes; the answer (how fast: bench/timings.py)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(length))
        conn.endheaders(b'{"text": "')
        # A server that read the whole body would wait for the rest, and this would time out.
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_oversized_bodies_are_refused_before_they_are_read(isolated: Settings) -> None:
    app = build(isolated, max_chars=50, max_body_mb=1)
    with serving(app) as port:
        status, body = claim_length(port, "/v1/summaries", 10**9)
        assert (status, body["error"]["code"]) == (413, "text_too_long")

        status, body = claim_length(port, "/v1/batches", 1024 * 1024 + 1)
        assert (status, body["error"]["code"]) == (413, "payload_too_large")
        assert "1048576" in body["error"]["message"]
        assert "NUTGRAF_MAX_BODY_MB is 1" in body["error"]["message"]


def test_batches_may_be_larger_than_one_summary(isolated: Settings) -> None:
    # 100 articles of 2,000 characters: far past one summary's body limit (about 90 KB at
    # max_chars=2000), well inside the batch limit.
    client = build(isolated, max_chars=2000, max_body_mb=1).test_client()
    items = [{"id": str(n), "text": "word " * 400, "mode": "extractive"} for n in range(100)]
    payload = json.dumps({"items": items})
    assert len(payload) > 2000 * 12 + 64 * 1024
    response = client.post("/v1/batches", data=payload, content_type="application/json")
    assert response.status_code == 202, response.get_data(as_text=True)


# -- CORS ----------------------------------------------------------------------------------


def preflight(client: Any, origin: str) -> Any:
    """A browser's CORS preflight for an authenticated JSON POST."""
    return client.options(
        "/v1/summaries",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )


def test_cors_for_configured_origins(isolated: Settings) -> None:
    client = build(
        isolated, cors_origins=[ORIGIN], api_keys=[KEY_A], rate_limit="2/minute"
    ).test_client()
    # Preflights need no key and spend no budget.
    for _ in range(3):
        allowed = preflight(client, ORIGIN)
        assert allowed.status_code == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
        allowed_headers = allowed.headers["Access-Control-Allow-Headers"].lower()
        for header in ("authorization", "content-type", "idempotency-key"):
            assert header in allowed_headers
        assert "POST" in allowed.headers["Access-Control-Allow-Methods"]

    refused = preflight(client, "https://elsewhere.example")
    assert "Access-Control-Allow-Origin" not in refused.headers

    actual = client.get("/v1/models", headers={"Origin": ORIGIN, **bearer(KEY_A)})
    assert actual.status_code == 200
    assert actual.headers["Access-Control-Allow-Origin"] == ORIGIN
    exposed = actual.headers["Access-Control-Expose-Headers"].lower()
    for header in ("location", "retry-after", "idempotent-replayed", "preference-applied"):
        assert header in exposed
    # Errors carry the headers too, so the page can read why.
    unauthorized = client.get("/v1/models", headers={"Origin": ORIGIN})
    assert unauthorized.status_code == 401
    assert unauthorized.headers["Access-Control-Allow-Origin"] == ORIGIN
    # Only /v1 is shared.
    probe = client.get("/healthz", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in probe.headers


def test_no_cors_headers_unless_configured(isolated: Settings) -> None:
    client = build(isolated).test_client()
    assert "Access-Control-Allow-Origin" not in preflight(client, ORIGIN).headers
    got = client.get("/v1/models", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in got.headers
