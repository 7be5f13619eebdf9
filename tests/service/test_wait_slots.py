"""`Prefer: wait` under gunicorn: waits cannot take every API thread, so /healthz and other
calls are still answered while many clients wait on jobs that do not end."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import redis
import requests

from helpers import answers_200, wait_for
from nutgraf.settings import Settings, env_for_children
from nutgraf.store.server import free_port
from service.server import gunicorn_options

WAIT_S = 20


def test_wait_slots_leave_threads_for_other_calls(settings: Settings) -> None:
    from service.context import WAIT_SLOTS

    # Half the threads at most: the rest answer /healthz, reads and new submissions.
    assert 0 < WAIT_SLOTS <= gunicorn_options(settings)["threads"] // 2


def _post_and_wait(base: str, results: list[Any]) -> None:
    body = {"text": f"The mayor of Westfield resigned on Friday ({uuid.uuid4().hex})."}
    try:
        response = requests.post(
            f"{base}/v1/summaries", json=body, headers={"Prefer": f"wait={WAIT_S}"}, timeout=60
        )
        results.append(response)
    except requests.RequestException as exc:  # the server is stopped under the last waits
        results.append(exc)


def _answered(results: list[Any], least: int) -> list[requests.Response]:
    """The 202s answered so far, once there are at least `least` of them; else []."""
    done = [r for r in list(results) if isinstance(r, requests.Response)]
    return done if len(done) >= least else []


def test_many_waits_do_not_hang_healthz(
    own_redis_url: str, settings: Settings, tmp_path: Path
) -> None:
    # A database of the test's own, where no worker listens: the jobs waited on stay queued.
    url = own_redis_url
    db = redis.Redis.from_url(url)
    threads = gunicorn_options(settings)["threads"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **env_for_children(settings),
        "NUTGRAF_REDIS_URL": url,
        "NUTGRAF_PORT": str(port),
        "NUTGRAF_API_WORKERS": "1",  # one process: its threads are all there is
        "TMPDIR": str(tmp_path),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with (tmp_path / "api.log").open("wb") as log:
        api = subprocess.Popen(
            [sys.executable, "-m", "service"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    results: list[Any] = []
    clients = [
        threading.Thread(target=_post_and_wait, args=(base, results)) for _ in range(threads + 4)
    ]
    try:
        wait_for(lambda: answers_200(f"{base}/healthz"), 120, "the API to answer")
        for client in clients:
            client.start()
        # Every thread has taken a submission: without wait slots, all of them now wait.
        wait_for(lambda: db.scard("nutgraf:queued") >= threads, 30, "the jobs to be queued")
        try:
            health = requests.get(f"{base}/healthz", timeout=3)
        except requests.Timeout:
            raise AssertionError("/healthz hung: waits hold every API thread") from None
        assert health.status_code == 200
        # Waits past the slots (at most half the threads) are answered at once, as without
        # `Prefer: wait`, while the others still wait.
        least = len(clients) - threads // 2
        answered = wait_for(lambda: _answered(results, least), 10, "waits past the slots to answer")
        for response in answered:
            assert response.status_code == 202
            assert response.headers["Location"].startswith("/v1/summaries/")
            assert "Preference-Applied" not in response.headers
            assert response.json()["status"] == "queued"
    finally:
        api.send_signal(signal.SIGINT)  # quick shutdown: nobody waits out the waits
        api.wait(60)
        for client in clients:
            client.join(60)
        db.close()
