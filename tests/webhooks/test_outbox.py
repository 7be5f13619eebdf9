"""The webhook outbox against a real Redis and a real HTTP receiver on a loopback port:
signed delivery, retries with backoff, leases, and what is never sent."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

from helpers import wait_for
from nutgraf.settings import Settings
from nutgraf.store.server import RedisServer
from nutgraf.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookOutbox,
    backoff_s,
    verify,
)

SECRET = "whsec_test"


def test_backoff_doubles_up_to_five_minutes() -> None:
    assert [backoff_s(n) for n in range(1, 12)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A real HTTP server on a loopback port that answers with scripted status codes."""

    server: ThreadingHTTPServer
    statuses: list[int] = field(default_factory=list)  # next answers; then `default`
    default: int = 200
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        """Its callback URL."""
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, received: Received) -> int:
        """Record a request and pick its status."""
        with self.lock:
            self.requests.append(received)
            return self.statuses.pop(0) if self.statuses else self.default


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    """A receiver serving in a thread for the test's duration."""
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received = Received(self.path, dict(self.headers.items()), body, time.time())
            status = holder[0].answer(received)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder[0]
    server.shutdown()
    server.server_close()
    thread.join()


def make_settings(redis_url: str, **overrides: Any) -> Settings:
    """Settings for an outbox: signed, private receivers allowed, retried for a minute."""
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "webhook_secret": SECRET,
        "webhook_allow_private": True,
        "webhook_timeout_s": 5,
        "webhook_retry_for_s": 60,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Box:
    """An outbox on its own key prefix, and the client to inspect it."""

    outbox: WebhookOutbox
    redis: Any
    prefix: str
    redis_url: str

    def add(self, kind: str, ident: str, url: str) -> str:
        """An ended record with a pending callback, due now, as the finishing script leaves it."""
        key = f"{self.prefix}:{kind}:{ident}"
        self.redis.hset(
            key, mapping={"id": ident, "callback_url": url, "callback_state": "pending"}
        )
        self.redis.zadd(f"{self.prefix}:webhooks:due", {f"{kind}:{ident}": time.time()})
        return key

    def attempts(self, key: str) -> list[dict[str, Any]]:
        """The recorded attempts of a record."""
        attempts: list[dict[str, Any]] = json.loads(self.redis.hget(key, "callback_attempts"))
        return attempts

    def due(self) -> dict[str, float]:
        """The outbox's members and their due times."""
        return dict(self.redis.zrange(f"{self.prefix}:webhooks:due", 0, -1, withscores=True))

    def another(self, **overrides: Any) -> WebhookOutbox:
        """A second outbox on the same prefix (another worker), with other settings."""
        outbox = WebhookOutbox(
            self.redis, self.prefix, make_settings(self.redis_url, **overrides), lease_s=1
        )
        self.others.append(outbox)
        return outbox

    others: list[WebhookOutbox] = field(default_factory=list)


@pytest.fixture()
def box(redis_server: RedisServer) -> Iterator[Box]:
    """A fresh outbox on a unique prefix of the test Redis."""
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    prefix = f"whtest-{uuid.uuid4().hex[:8]}"
    outbox = WebhookOutbox(client, prefix, make_settings(redis_server.url))
    holder = Box(outbox, client, prefix, redis_server.url)
    yield holder
    for each in [outbox, *holder.others]:
        each.close()
    client.close()


def body_for(kind: str, ident: str) -> dict[str, Any]:
    """A stand-in for the store's public body."""
    return {"id": ident, "status": "succeeded", "summary": "Caf\u00e9 owners said yes."}


def run_until_settled(box: Box, key: str, timeout_s: float) -> str:
    """Run delivery rounds (as the worker's loop does) until the callback is not pending."""

    def settled() -> str | None:
        box.outbox.run_once(body_for)
        state: str = box.redis.hget(key, "callback_state")
        return state if state != "pending" else None

    state: str = wait_for(settled, timeout_s, f"the callback of {key} to settle", 0.05)
    return state


def epoch(rfc3339: str) -> float:
    """Seconds since the epoch of an RFC 3339 time."""
    return datetime.fromisoformat(rfc3339).timestamp()


@pytest.mark.parametrize(
    ("kind", "event"), [("job", "summary.completed"), ("batch", "batch.completed")]
)
def test_delivered_signed_on_first_try(box: Box, receiver: Receiver, kind: str, event: str) -> None:
    key = box.add(kind, "abc", receiver.url)
    assert box.outbox.run_once(body_for) == 1

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers[DELIVERY_HEADER] == f"{kind}:abc"
    stamp = request.headers[TIMESTAMP_HEADER]
    assert abs(int(stamp) - time.time()) < 30
    assert request.headers[SIGNATURE_HEADER].startswith("sha256=")
    assert verify(SECRET, stamp, request.headers[SIGNATURE_HEADER], request.body)
    assert not verify("wrong", stamp, request.headers[SIGNATURE_HEADER], request.body)
    assert json.loads(request.body) == {"type": event, kind: body_for(kind, "abc")}

    assert box.redis.hget(key, "callback_state") == "delivered"
    [attempt] = box.attempts(key)
    assert attempt["status_code"] == 200
    assert attempt["error"] is None
    assert attempt["duration_ms"] >= 0
    assert abs(epoch(attempt["at"]) - time.time()) < 30
    assert box.due() == {}
    assert box.outbox.run_once(body_for) == 0  # nothing more to do
    assert len(receiver.requests) == 1


def test_host_names_are_pinned_to_the_checked_address(box: Box, receiver: Receiver) -> None:
    # Sent to the address resolved and checked, under the original Host header.
    key = box.add("job", "named", f"http://localhost:{receiver.port}/hook?x=1")
    box.outbox.run_once(body_for)
    assert box.redis.hget(key, "callback_state") == "delivered"
    [request] = receiver.requests
    assert request.headers["Host"] == f"localhost:{receiver.port}"
    assert request.path == "/hook?x=1"


def test_failures_are_retried_with_exponential_backoff(box: Box, receiver: Receiver) -> None:
    receiver.statuses = [500, 500]
    key = box.add("job", "flaky", receiver.url)
    assert run_until_settled(box, key, timeout_s=20) == "delivered"

    attempts = box.attempts(key)
    assert [a["status_code"] for a in attempts] == [500, 500, 200]
    assert [a["error"] for a in attempts] == ["HTTP 500", "HTTP 500", None]
    times = [epoch(a["at"]) for a in attempts]
    assert times[1] - times[0] >= 1.0
    assert times[2] - times[1] >= 2.0
    arrivals = [r.at for r in receiver.requests]
    assert arrivals[1] - arrivals[0] >= 1.0
    assert arrivals[2] - arrivals[1] >= 2.0
    assert box.due() == {}


def test_retries_end_in_failed_after_retry_for(box: Box, receiver: Receiver) -> None:
    receiver.default = 503
    key = box.add("batch", "doomed", receiver.url)
    box.outbox = box.another(webhook_retry_for_s=1)
    assert run_until_settled(box, key, timeout_s=20) == "failed"
    attempts = box.attempts(key)
    assert len(attempts) >= 2
    assert all(a["status_code"] == 503 for a in attempts)
    assert len(receiver.requests) == len(attempts)
    assert box.due() == {}


def test_redirects_are_not_followed(box: Box, receiver: Receiver) -> None:
    receiver.statuses = [302]
    key = box.add("job", "moved", receiver.url)
    before = time.time()
    assert box.outbox.run_once(body_for) == 1
    [attempt] = box.attempts(key)
    assert attempt["status_code"] == 302
    assert "redirects are not followed" in attempt["error"]
    assert len(receiver.requests) == 1  # nothing sent to the Location
    assert box.redis.hget(key, "callback_state") == "pending"
    assert box.due()["job:moved"] >= before + 1  # the next try after the first backoff


def test_private_receivers_are_refused_at_delivery_time(box: Box, receiver: Receiver) -> None:
    # Accepted when the job was created, but the worker does not allow private addresses:
    # the address is checked again before every attempt.
    key = box.add("job", "rebound", f"http://localhost:{receiver.port}/hook")
    strict = box.another(webhook_allow_private=False)
    assert strict.run_once(body_for) == 1
    [attempt] = box.attempts(key)
    assert attempt["status_code"] is None
    assert "loopback" in attempt["error"]
    assert receiver.requests == []
    assert box.redis.hget(key, "callback_state") == "pending"


def test_a_worker_without_the_secret_records_why(box: Box, receiver: Receiver) -> None:
    key = box.add("job", "unsigned", receiver.url)
    unsigned = box.another(webhook_secret=None)
    unsigned.run_once(body_for)
    [attempt] = box.attempts(key)
    assert "NUTGRAF_WEBHOOK_SECRET" in attempt["error"]
    assert receiver.requests == []


def test_unreachable_receivers_are_recorded(box: Box, receiver: Receiver) -> None:
    port = receiver.port
    receiver.server.shutdown()
    receiver.server.server_close()  # nothing listens there any more
    key = box.add("job", "gone", f"http://127.0.0.1:{port}/hook")
    box.outbox.run_once(body_for)
    [attempt] = box.attempts(key)
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("ConnectError")
    assert box.redis.hget(key, "callback_state") == "pending"


def test_an_abandoned_claim_is_claimed_again_after_its_lease(box: Box, receiver: Receiver) -> None:
    key = box.add("job", "orphan", receiver.url)
    first, second = box.another(), box.another()  # lease_s=1
    assert first.claim_due(10) == ["job:orphan"]
    # `first` dies here without delivering. While its lease runs, nobody else gets it.
    assert second.claim_due(10) == []
    assert wait_for(lambda: second.claim_due(10), 5, "the lease to run out") == ["job:orphan"]
    assert second.deliver("job:orphan", body_for) == "delivered"
    assert len(receiver.requests) == 1
    assert box.redis.hget(key, "callback_state") == "delivered"


def test_many_due_callbacks_are_delivered_in_one_round(box: Box, receiver: Receiver) -> None:
    keys = [box.add("job", f"many{i}", receiver.url) for i in range(5)]
    assert box.outbox.run_once(body_for) == 5
    assert {box.redis.hget(k, "callback_state") for k in keys} == {"delivered"}
    assert sorted(r.headers[DELIVERY_HEADER] for r in receiver.requests) == [
        f"job:many{i}" for i in range(5)
    ]


def test_settled_or_expired_members_are_dropped(box: Box, receiver: Receiver) -> None:
    box.redis.zadd(f"{box.prefix}:webhooks:due", {"job:expired": time.time(), "bogus": 0})
    key = box.add("job", "done", receiver.url)
    box.redis.hset(key, "callback_state", "delivered")  # a stale duplicate
    assert box.outbox.run_once(body_for) == 3
    assert box.due() == {}
    assert receiver.requests == []
    assert not box.redis.exists(f"{box.prefix}:job:expired")  # not re-created
