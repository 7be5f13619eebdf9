"""/readyz refuses a Redis that may evict: job records and queued messages live there.

Under `allkeys-lru` (a common cache setting) Redis drops job records and queued messages
when memory runs short, and accepted jobs vanish; the service must say so (issue 13).
"""

from __future__ import annotations

import ctypes
import logging
import subprocess
from collections.abc import Iterator
from multiprocessing.sharedctypes import RawValue
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from helpers import wait_for
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from nutgraf.store.server import find_redis_server, free_port
from service import context, create_app


@pytest.fixture()
def evicting_redis(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """The private server set to evict any key, put back afterwards."""
    before = redis_client.config_get("maxmemory-policy")["maxmemory-policy"]
    redis_client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        yield redis_client
    finally:
        redis_client.config_set("maxmemory-policy", before)


def test_the_store_reads_the_eviction_policy(redis_client: redis.Redis) -> None:
    store = JobStore(redis_client, 60, 60)
    assert store.eviction_policy() == "noeviction"


def test_readyz_is_503_when_redis_may_evict(
    client: FlaskClient, evicting_redis: redis.Redis
) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "unavailable"
    assert "maxmemory-policy" in error["message"] and "allkeys-lru" in error["message"]
    assert "noeviction" in error["message"]


def test_a_server_without_config_is_not_refused(tmp_path: Path) -> None:
    # Managed Redis services often disable CONFIG: the policy is then unknown, not wrong.
    port = free_port()
    server = subprocess.Popen(
        [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path), "--rename-command", "CONFIG", ""],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port, decode_responses=True)
        wait_for(lambda: _pings(client), 15, "the redis-server without CONFIG")
        with pytest.raises(redis.ResponseError):
            client.config_get("maxmemory-policy")
        assert JobStore(client, 60, 60).eviction_policy() is None
    finally:
        server.terminate()
        server.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_probes_are_logged_at_debug_and_other_requests_at_info(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 15: every /readyz poll was an INFO line.
    with caplog.at_level(logging.DEBUG, logger="nutgraf.http"):
        client.get("/readyz")
        client.get("/healthz")
        client.get("/v1/models")
    lines = [r for r in caplog.records if r.name == "nutgraf.http"]
    levels = {r.__dict__["path"]: r.levelno for r in lines}  # `path` is an extra field
    assert levels == {
        "/readyz": logging.DEBUG,
        "/healthz": logging.DEBUG,
        "/v1/models": logging.INFO,
    }


def test_readyz_is_503_first_while_the_api_drains(settings: Settings) -> None:
    # The flag service/server.py shares with gunicorn's processes, set on SIGTERM.
    app = create_app(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    draining = RawValue(ctypes.c_bool, False)
    app.extensions[context.DRAINING] = draining
    client = app.test_client()
    assert "redis is unreachable" in client.get("/readyz").get_json()["error"]["message"]
    draining.value = True
    response = client.get("/readyz")
    # Said before Redis is asked: a stopping API need not wait on a Redis that is away.
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.get_json()["error"]["message"] == "the API is shutting down"
    assert client.get("/healthz").status_code == 200
