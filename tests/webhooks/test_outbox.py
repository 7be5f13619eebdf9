"""The webhook outbox against a real Redis and a real HTTP receiver on a loopback port:
signed delivery, retries with backoff, leases, and what is never sent."""

from __future__ import annotations

import time
from datetime import datetime
from email.utils import formatdate

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from webhook_kit import SECRET, Box, Receiver, body_for, run_until_settled

from helpers import wait_for
from nutgraf.webhooks import ID_HEADER, TIMESTAMP_HEADER, backoff_s, new_secret, retry_after_s


def test_backoff_doubles_up_to_five_minutes() -> None:
    assert [backoff_s(n) for n in range(1, 12)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def epoch(rfc3339: str) -> float:
    """Seconds since the epoch of an RFC 3339 time."""
    return datetime.fromisoformat(rfc3339).timestamp()


@pytest.mark.parametrize(
    ("kind", "event"), [("job", "summary.completed"), ("batch", "batch.completed")]
)
def test_delivered_signed_on_first_try(box: Box, receiver: Receiver, kind: str, event: str) -> None:
    key = box.add(kind, "abc", receiver.url)
    assert box.round() == 1

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers[ID_HEADER] == f"{kind}:abc"
    assert abs(int(request.headers[TIMESTAMP_HEADER]) - time.time()) < 30
    # The reference Standard Webhooks package verifies it, with this secret only.
    payload = Webhook(SECRET).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request.body, request.headers)
    assert payload == {"type": event, kind: body_for(kind, "abc")}

    assert box.redis.hget(key, "callback_state") == "delivered"
    [attempt] = box.attempts(key)
    assert attempt["status_code"] == 200
    assert attempt["error"] is None
    assert attempt["duration_ms"] >= 0
    assert abs(epoch(attempt["at"]) - time.time()) < 30
    assert box.due() == {}
    assert box.round() == 0  # nothing more to do
    assert len(receiver.requests) == 1


def test_host_names_are_pinned_to_the_checked_address(box: Box, receiver: Receiver) -> None:
    # Sent to the address resolved and checked, under the original Host header.
    key = box.add("job", "named", f"http://localhost:{receiver.port}/hook?x=1")
    box.round()
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
    # One webhook-id for every attempt (receivers drop duplicates by it); a fresh timestamp.
    assert {r.headers[ID_HEADER] for r in receiver.requests} == {"job:flaky"}
    for request in receiver.requests:
        Webhook(SECRET).verify(request.body, request.headers)


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
    assert box.round() == 1
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
    assert box.round(strict) == 1
    [attempt] = box.attempts(key)
    assert attempt["status_code"] is None
    assert "loopback" in attempt["error"]
    assert receiver.requests == []
    assert box.redis.hget(key, "callback_state") == "pending"


def test_a_worker_without_the_secret_records_why(box: Box, receiver: Receiver) -> None:
    key = box.add("job", "unsigned", receiver.url)
    unsigned = box.another(webhook_secret="")
    box.round(unsigned)
    [attempt] = box.attempts(key)
    assert "NUTGRAF_WEBHOOK_SECRET" in attempt["error"]
    assert receiver.requests == []


def test_unreachable_receivers_are_recorded(box: Box, receiver: Receiver) -> None:
    port = receiver.port
    receiver.server.shutdown()
    receiver.server.server_close()  # nothing listens there any more
    key = box.add("job", "gone", f"http://127.0.0.1:{port}/hook")
    box.round()
    [attempt] = box.attempts(key)
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("ConnectError")
    assert box.redis.hget(key, "callback_state") == "pending"


def test_an_abandoned_claim_is_claimed_again_after_its_lease(box: Box, receiver: Receiver) -> None:
    key = box.add("job", "orphan", receiver.url)
    first = box.another(lease_s=1, webhook_timeout_s=0.9)
    second = box.another(lease_s=1, webhook_timeout_s=0.9)
    assert first.claim_due(10) == ["job:orphan"]
    # `first` dies here without delivering. While its lease runs, nobody else gets it.
    assert second.claim_due(10) == []
    assert wait_for(lambda: second.claim_due(10), 5, "the lease to run out") == ["job:orphan"]
    assert second.deliver("job:orphan", body_for) == "delivered"
    assert len(receiver.requests) == 1
    assert box.redis.hget(key, "callback_state") == "delivered"


def test_many_due_callbacks_are_delivered_in_one_round(box: Box, receiver: Receiver) -> None:
    keys = [box.add("job", f"many{i}", receiver.url) for i in range(5)]
    assert box.round() == 5
    assert {box.redis.hget(k, "callback_state") for k in keys} == {"delivered"}
    assert sorted(r.headers[ID_HEADER] for r in receiver.requests) == [
        f"job:many{i}" for i in range(5)
    ]


def test_settled_or_expired_members_are_dropped(box: Box, receiver: Receiver) -> None:
    box.redis.zadd(f"{box.prefix}:webhooks:due", {"job:expired": time.time(), "bogus": 0})
    key = box.add("job", "done", receiver.url)
    box.redis.hset(key, "callback_state", "delivered")  # a stale duplicate
    assert box.round() == 3
    assert box.due() == {}
    assert receiver.requests == []
    assert not box.redis.exists(f"{box.prefix}:job:expired")  # not re-created


def test_gone_ends_the_callback_at_once(box: Box, receiver: Receiver) -> None:
    receiver.statuses = [410]
    key = box.add("job", "unwanted", receiver.url)
    assert box.round() == 1
    [attempt] = box.attempts(key)
    assert attempt["status_code"] == 410
    assert "no more attempts" in attempt["error"]
    assert box.redis.hget(key, "callback_state") == "failed"
    assert box.due() == {}  # nothing left to claim: no retry
    assert box.round() == 0
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_sets_the_next_attempt(
    box: Box, receiver: Receiver, status: int
) -> None:
    receiver.statuses = [status]
    receiver.answer_headers = [{"Retry-After": "3"}]
    key = box.add("job", f"busy{status}", receiver.url)
    assert run_until_settled(box, key, timeout_s=20) == "delivered"
    first, second = box.attempts(key)
    assert (first["status_code"], second["status_code"]) == (status, 200)
    assert first["error"] == f"HTTP {status}: Retry-After 3 s"
    arrivals = [r.at for r in receiver.requests]
    assert arrivals[1] - arrivals[0] >= 3.0  # not the 1 s backoff: not before it said


def test_retry_after_as_an_http_date(box: Box, receiver: Receiver) -> None:
    receiver.statuses = [503]
    when = time.time() + 30  # within the minute the retries last here (make_settings)
    receiver.answer_headers = [{"Retry-After": formatdate(when, usegmt=True)}]
    key = box.add("job", "dated", receiver.url)
    box.round()
    assert box.redis.hget(key, "callback_state") == "pending"
    # Due at that date (HTTP-dates have whole seconds), not after the 1 s backoff.
    assert box.due()["job:dated"] >= int(when)


def test_retry_after_past_the_retry_window_ends_the_retries(box: Box, receiver: Receiver) -> None:
    receiver.statuses = [429]
    receiver.answer_headers = [{"Retry-After": "7200"}]
    key = box.add("job", "later", receiver.url)
    box.round()  # the window is a minute (make_settings)
    [attempt] = box.attempts(key)
    assert attempt["error"] == "HTTP 429: Retry-After 7200 s, past NUTGRAF_WEBHOOK_RETRY_FOR_S"
    assert box.redis.hget(key, "callback_state") == "failed"
    assert box.due() == {}


def test_retry_after_is_read_only_on_429_and_503(box: Box, receiver: Receiver) -> None:
    receiver.statuses = [500]
    receiver.answer_headers = [{"Retry-After": "7200"}]
    key = box.add("job", "broken", receiver.url)
    before = time.time()
    box.round()
    [attempt] = box.attempts(key)
    assert attempt["error"] == "HTTP 500"
    assert box.due()["job:broken"] < before + 60  # the backoff's, not the header's


def test_retry_after_values() -> None:
    now = 1_700_000_000.0
    assert retry_after_s("120", now) == 120
    assert retry_after_s(" 0 ", now) == 0
    assert retry_after_s(formatdate(now + 30, usegmt=True), now) == 30
    assert retry_after_s(formatdate(now - 30, usegmt=True), now) == 0  # past: now
    assert retry_after_s("9" * 400, now) == 10**9
    for bad in (None, "", "-5", "1.5", "soon", "Mon, 99 Foo 2026 00:00:00 GMT", "\u0661"):
        assert retry_after_s(bad, now) is None
