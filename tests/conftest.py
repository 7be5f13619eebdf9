"""Shared fixtures: a private real Redis, a real Celery worker process, the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from helpers import REPO, TEST_MODEL, WorkerProcess
from nutgraf.settings import Settings
from nutgraf.store.server import RedisServer


@pytest.fixture(scope="session")
def sample_article() -> str:
    """A real news article (a copy of shared/samples/montenegro-nato.txt)."""
    return (REPO / "tests" / "data" / "montenegro-nato.txt").read_text()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server on a free port, AOF fsynced on every write (restartable)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"), fsync="always")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def settings(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the test deployment: the bundled model and short fault-recovery times."""
    return Settings(
        redis_url=redis_server.url,
        model=TEST_MODEL,
        data_dir=tmp_path_factory.mktemp("data"),
        task_time_limit_s=240,
        log_level="INFO",
    )


@pytest.fixture()
def redis_client(redis_server: RedisServer) -> redis.Redis:
    """A plain client of the private server."""
    return redis.Redis.from_url(redis_server.url, decode_responses=True)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Flask:
    """The Flask app built by the same factory production uses."""
    from service import create_app

    return create_app(settings)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture(scope="session")
def worker_process(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """One worker for the session; tests that kill it get a fresh one from `worker`."""
    process = WorkerProcess(settings, tmp_path_factory.mktemp("worker") / "worker.log")
    yield process
    process.stop()


@pytest.fixture()
def worker(worker_process: WorkerProcess) -> WorkerProcess:
    """A running worker with its model loaded."""
    if not worker_process.running():
        worker_process.start()
    return worker_process
