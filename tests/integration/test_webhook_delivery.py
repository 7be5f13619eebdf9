"""Signed callbacks end to end: the API accepts a callback_url, the job or batch ends, a
real worker's delivery thread POSTs it to a real HTTP receiver, which checks it with the
reference Standard Webhooks package, and the attempts show up in the API's answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from helpers import Databases, WorkerProcess, started_worker, wait_for
from nutgraf.settings import Settings
from nutgraf.store.keys import Keys
from nutgraf.webhooks import ID_HEADER, SIGNATURE_HEADER, new_secret
from service import create_app

# The deployment is in the middle of a rotation: every callback is signed with both.
NEW_SECRET = "whsec_bmV3IHNlY3JldCBvZiB0aGUgdGVzdCBkZXBsb3ltZW50"
OLD_SECRET = "whsec_dGhlIG9sZCBzZWNyZXQgb2YgdGhlIHRlc3QgZGVwbG95bWVudA=="
STORY = (
    "The city council of Lakeport voted 7 to 2 on Tuesday to build a new library on Harbor "
    "Street. Mayor Ana Ruiz said construction will start in March and cost 12 million "
    "dollars. Opponents said the money should go to road repairs. The library will open "
    "in 2028 and hold 200,000 books, the council said."
)


class Receiver:
    """A real HTTP server on a loopback port: records each POST (headers, body, when it
    came), answers scripted codes and headers."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes, float]] = []
        self.statuses: list[int] = []  # the next answers; 200 after them
        self.answer_headers: list[dict[str, str]] = []  # the next answers' extra headers
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.requests.append((dict(self.headers.items()), body, time.time()))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    extra = receiver.answer_headers.pop(0) if receiver.answer_headers else {}
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        """A callback URL on this receiver."""
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def for_delivery(self, delivery: str) -> list[tuple[dict[str, str], bytes, float]]:
        """The requests received for one webhook-id."""
        with self.lock:
            return [r for r in self.requests if r[0].get(ID_HEADER) == delivery]

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class SlowReceiver:
    """A real HTTP server on a loopback port that drips its answer's headers a byte every
    0.1 s (never tripping a read timeout) until closed."""

    def __init__(self) -> None:
        self.calls = 0
        self.stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.calls += 1
                self.close_connection = True
                try:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                    while not receiver.stop.wait(0.1):
                        self.wfile.write(b"a")
                except OSError:
                    pass  # the worker hung up at its deadline

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slow"

    def close(self) -> None:
        """Stop dripping and serving."""
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def hooked_settings(settings: Settings, databases: Databases) -> Iterator[Settings]:
    """The test deployment with a webhook secret, on its own Redis database: the session's
    worker (no secret, private receivers refused) must not claim these callbacks."""
    with databases.take() as url:
        yield settings.model_copy(
            update={
                "redis_url": url,
                "webhook_secret": [NEW_SECRET, OLD_SECRET],
                "webhook_allow_private": True,
                # Far longer than the waits below: a slow receiver is held this long.
                "webhook_timeout_s": 30,
            }
        )


@pytest.fixture(scope="module")
def hooked_worker(
    hooked_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """A real worker on that database: it delivers the callbacks."""
    log_path = tmp_path_factory.mktemp("hooked") / "worker.log"
    with started_worker(hooked_settings, log_path) as process:
        yield process


@pytest.fixture(scope="module")
def hooked(hooked_settings: Settings) -> FlaskClient:
    """The API of that deployment."""
    return create_app(hooked_settings).test_client()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    """A callback receiver for one test."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture()
def slow_receiver() -> Iterator[SlowReceiver]:
    """A dripping callback receiver for one test."""
    server = SlowReceiver()
    yield server
    server.close()


def settled_callback(client: FlaskClient, path: str, worker: WorkerProcess) -> dict[str, Any]:
    """GET `path` until its callback is no longer pending; return the body."""

    def settled() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(path).get_json()
        return body if body["callback"]["state"] in ("delivered", "failed") else None

    try:
        result: dict[str, Any] = wait_for(settled, 60, f"the callback of {path}")
    except AssertionError:
        raise AssertionError(f"callback not settled; worker log:\n{worker.log_tail()}") from None
    return result


def check_signed(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """Assert the request verifies with either secret of the rotation, as a receiver that
    knows only one of them checks it, and with no other; return its JSON."""
    assert headers["Content-Type"] == "application/json"
    assert len(headers[SIGNATURE_HEADER].split(" ")) == 2
    payload: dict[str, Any] = Webhook(NEW_SECRET).verify(body, headers)
    assert Webhook(OLD_SECRET).verify(body, headers) == payload
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    return payload


def test_a_job_callback_is_signed_retried_and_recorded(
    hooked: FlaskClient, hooked_worker: WorkerProcess, receiver: Receiver
) -> None:
    receiver.statuses = [500]  # the first attempt fails, the retry a second later succeeds
    url = receiver.url("/hooks/job?source=cms")
    answer = hooked.post(
        "/v1/summaries",
        json={"text": STORY, "mode": "extractive", "length": "short", "callback_url": url},
    )
    assert answer.status_code == 200, answer.get_json()
    job = answer.get_json()
    assert job["status"] == "succeeded"
    assert job["callback"]["url"] == url

    body = settled_callback(hooked, f"/v1/summaries/{job['id']}", hooked_worker)
    callback = body["callback"]
    assert callback["state"] == "delivered"
    assert [a["status_code"] for a in callback["attempts"]] == [500, 200]
    assert callback["attempts"][1]["error"] is None

    # Both attempts carry the same webhook-id (receivers drop duplicates by it).
    requests = receiver.for_delivery(f"job:{job['id']}")
    assert len(requests) == 2
    for headers, raw, _ in requests:
        payload = check_signed(headers, raw)
        assert payload["type"] == "summary.completed"
        assert payload["job"]["id"] == job["id"]
        assert payload["job"]["status"] == "succeeded"
        assert payload["job"]["summary"] == job["summary"]


def test_a_batch_callback_is_sent_when_its_last_item_ends(
    hooked: FlaskClient, hooked_worker: WorkerProcess, receiver: Receiver
) -> None:
    url = receiver.url("/hooks/batch")
    answer = hooked.post(
        "/v1/batches",
        json={
            "items": [
                {"id": "lib", "text": STORY},
                {"id": "lib-bullets", "text": STORY, "format": "bullets"},
                {"id": "empty", "text": ""},  # fails on its own
            ],
            "mode": "extractive",
            "length": "short",
            "callback_url": url,
        },
    )
    assert answer.status_code == 202, answer.get_json()
    batch_id = answer.get_json()["id"]

    body = settled_callback(hooked, f"/v1/batches/{batch_id}", hooked_worker)
    assert body["status"] == "partially_succeeded"
    assert body["callback"]["state"] == "delivered"
    assert [a["status_code"] for a in body["callback"]["attempts"]] == [200]

    [(headers, raw, _)] = receiver.for_delivery(f"batch:{batch_id}")
    payload = check_signed(headers, raw)
    assert payload["type"] == "batch.completed"
    assert payload["batch"]["id"] == batch_id
    assert payload["batch"]["status"] == "partially_succeeded"
    assert payload["batch"]["counts"]["succeeded"] == 2
    assert payload["batch"]["counts"]["failed"] == 1
    # The items themselves carried no callback of their own.
    assert len(receiver.requests) == 1


def test_a_slow_receiver_does_not_hold_up_the_next_callback(
    hooked: FlaskClient,
    hooked_worker: WorkerProcess,
    receiver: Receiver,
    slow_receiver: SlowReceiver,
) -> None:
    options = {"text": STORY, "mode": "extractive", "length": "short"}
    slow = hooked.post("/v1/summaries", json={**options, "callback_url": slow_receiver.url})
    assert slow.status_code == 200, slow.get_json()
    wait_for(lambda: slow_receiver.calls, 30, "the slow receiver to be called", 0.1)

    # The next job's callback falls due while the worker's attempt to the slow one drips.
    url = receiver.url("/hooks/next")
    next_job = {**options, "text": STORY.replace("Tuesday", "Monday"), "callback_url": url}
    answer = hooked.post("/v1/summaries", json=next_job)
    assert answer.status_code == 200, answer.get_json()
    job_id = answer.get_json()["id"]
    # A bounded wait well below the 30 s that the slow attempt may last.
    wait_for(lambda: receiver.for_delivery(f"job:{job_id}"), 10, "the next callback", 0.1)
    slow_body = hooked.get(f"/v1/summaries/{slow.get_json()['id']}").get_json()
    assert slow_body["callback"]["attempts"] == []  # its attempt is still in flight


def test_a_gone_receiver_gets_no_more_attempts(
    hooked: FlaskClient,
    hooked_settings: Settings,
    hooked_worker: WorkerProcess,
    receiver: Receiver,
) -> None:
    receiver.statuses = [410]
    options = {"text": STORY.replace("Tuesday", "Friday"), "mode": "extractive"}
    answer = hooked.post("/v1/summaries", json={**options, "callback_url": receiver.url("/gone")})
    assert answer.status_code == 200, answer.get_json()
    job_id = answer.get_json()["id"]

    body = settled_callback(hooked, f"/v1/summaries/{job_id}", hooked_worker)
    assert body["callback"]["state"] == "failed"
    [attempt] = body["callback"]["attempts"]
    assert attempt["status_code"] == 410
    # Nothing is left in the outbox for it: no later attempt can come.
    due = redis.Redis.from_url(hooked_settings.redis_url or "", decode_responses=True)
    assert due.zscore(Keys().webhooks_due, f"job:{job_id}") is None
    due.close()
    assert len(receiver.for_delivery(f"job:{job_id}")) == 1


def test_retry_after_is_honoured(
    hooked: FlaskClient, hooked_worker: WorkerProcess, receiver: Receiver
) -> None:
    # Busy: come back in 3 s (the backoff alone would retry after 1 s).
    receiver.statuses = [503]
    receiver.answer_headers = [{"Retry-After": "3"}]
    options = {"text": STORY.replace("Tuesday", "Saturday"), "mode": "extractive"}
    answer = hooked.post("/v1/summaries", json={**options, "callback_url": receiver.url("/busy")})
    assert answer.status_code == 200, answer.get_json()
    job_id = answer.get_json()["id"]

    body = settled_callback(hooked, f"/v1/summaries/{job_id}", hooked_worker)
    assert body["callback"]["state"] == "delivered"
    assert [a["status_code"] for a in body["callback"]["attempts"]] == [503, 200]
    assert body["callback"]["attempts"][0]["error"] == "HTTP 503: Retry-After 3 s"
    first, second = receiver.for_delivery(f"job:{job_id}")
    assert second[2] - first[2] >= 3.0  # the second attempt did not come before it was asked
    for headers, raw, _ in (first, second):
        assert check_signed(headers, raw)["job"]["id"] == job_id
