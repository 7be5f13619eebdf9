"""Receivers that take their time: a dripping answer ends at the attempt's deadline, a slow
receiver holds up no other callback, and a DNS look-up that hangs is a failed attempt."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from webhook_kit import Box, Receiver, SlowReceiver, body_for, in_background, make_settings

from helpers import wait_for
from nutgraf.webhooks import PARALLEL_DELIVERIES, WebhookOutbox, check_callback_url, url_guard

HANGING_HOST = "hangs.test"


@pytest.fixture()
def hanging_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """getaddrinfo never answers for HANGING_HOST (as when a resolver does not reply)."""
    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == HANGING_HOST:
            release.wait(60)
            raise socket.gaierror(socket.EAI_AGAIN, "no answer")  # never asks a real resolver
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    release.set()


def test_a_dripping_answer_ends_at_the_deadline_and_no_one_else_claims_it_meanwhile(
    box: Box, slow_receiver: SlowReceiver
) -> None:
    key = box.add("job", "drip", slow_receiver.url)
    # A byte every 0.1 s never trips a 1 s read timeout: only a deadline ends this attempt.
    first = box.another(lease_s=3, webhook_timeout_s=1)
    second = box.another(lease_s=3, webhook_timeout_s=1)
    in_background(lambda: first.run_once(body_for))
    wait_for(lambda: slow_receiver.deliveries, 5, "the slow receiver to be called", 0.05)

    def attempt_recorded() -> str | None:
        recorded: str | None = box.redis.hget(key, "callback_attempts")
        if recorded is None:
            # Still in flight: its lease must hold off every other deliverer.
            assert second.claim_due(10) == [], "claimed again while its attempt was in flight"
        return recorded

    wait_for(attempt_recorded, 8, "the dripping attempt to be cut off", 0.05)
    [attempt] = box.attempts(key)
    assert attempt["status_code"] is None
    assert "no answer within 1 s" in attempt["error"]
    assert box.redis.hget(key, "callback_state") == "pending"  # retried with backoff
    assert slow_receiver.deliveries == ["job:drip"]


def test_a_lease_shorter_than_an_attempt_is_refused(box: Box) -> None:
    settings = make_settings(box.redis_url, webhook_timeout_s=5)
    assert WebhookOutbox(box.redis, box.prefix, settings).lease_s > 5
    with pytest.raises(ValueError, match="lease_s"):
        WebhookOutbox(box.redis, box.prefix, settings, lease_s=5)


def delivered(box: Box, key: str) -> bool:
    """Whether the callback of the record at `key` was delivered."""
    return bool(box.redis.hget(key, "callback_state") == "delivered")


def test_a_slow_receiver_does_not_hold_up_callbacks_due_with_or_after_it(
    box: Box, receiver: Receiver, slow_receiver: SlowReceiver
) -> None:
    # The slow answer is held far longer than the waits below, deadline included.
    outbox = box.another(webhook_timeout_s=30)
    slow_key = box.add("job", "slow", slow_receiver.url)
    with_it = box.add("job", "with-it", receiver.url)  # due at the same moment
    stop = threading.Event()

    def worker_loop() -> None:  # as the worker's delivery thread runs it
        while not stop.is_set():
            if not outbox.run_once(body_for):
                stop.wait(0.05)

    loop = threading.Thread(target=worker_loop, daemon=True)
    loop.start()
    try:
        wait_for(lambda: slow_receiver.deliveries, 5, "the slow receiver to be called", 0.05)
        wait_for(lambda: delivered(box, with_it), 5, "the callback due with it", 0.05)
        after_it = box.add("job", "after-it", receiver.url)  # due while the slow one drips
        wait_for(lambda: delivered(box, after_it), 5, "the callback due after it", 0.05)
        assert box.redis.hget(slow_key, "callback_state") == "pending"
        assert box.redis.hget(slow_key, "callback_attempts") is None  # still in flight
    finally:
        stop.set()
        slow_receiver.stop.set()
        loop.join(10)


def test_deliveries_in_flight_are_capped_and_the_rest_left_to_other_workers(
    box: Box, slow_receiver: SlowReceiver
) -> None:
    outbox = box.another(webhook_timeout_s=30)
    members = [f"job:busy{i}" for i in range(PARALLEL_DELIVERIES + 1)]
    for member in members:
        box.add("job", member.partition(":")[2], slow_receiver.url)
    claimed = in_background(lambda: outbox.run_once(body_for))
    assert wait_for(lambda: claimed, 5, "run_once to return", 0.05) == [PARALLEL_DELIVERIES]
    wait_for(
        lambda: len(slow_receiver.deliveries) == PARALLEL_DELIVERIES, 5, "the deliveries", 0.05
    )
    assert outbox.run_once(body_for) == 0  # every slot is busy: nothing more is claimed
    [left] = [m for m in members if m not in slow_receiver.deliveries]
    assert box.another().claim_due(10) == [left]  # another worker may take it
    slow_receiver.stop.set()  # the dripping answers end (a 200 each)
    assert outbox.wait_idle(10)
    assert sorted(box.redis.hget(f"{box.prefix}:{m}", "callback_state") for m in members) == [
        "delivered"
    ] * PARALLEL_DELIVERIES + ["pending"]


def test_a_hanging_dns_look_up_is_a_failed_attempt_retried_later(
    box: Box, hanging_dns: None
) -> None:
    key = box.add("job", "nodns", f"http://{HANGING_HOST}:9/hook")
    outbox = box.another(webhook_timeout_s=1)
    before = time.time()
    in_background(lambda: outbox.run_once(body_for))
    wait_for(lambda: box.redis.hget(key, "callback_attempts"), 8, "the attempt", 0.05)
    [attempt] = box.attempts(key)
    assert attempt["status_code"] is None
    assert f"host '{HANGING_HOST}' cannot be resolved: no answer within 1 s" in attempt["error"]
    assert box.redis.hget(key, "callback_state") == "pending"
    assert box.due()["job:nodns"] >= before + 1  # after the first backoff


def test_accepting_a_callback_does_not_wait_forever_for_dns(
    monkeypatch: pytest.MonkeyPatch, hanging_dns: None
) -> None:
    monkeypatch.setattr(url_guard, "RESOLVE_TIMEOUT_S", 0.5, raising=False)
    url = f"https://{HANGING_HOST}/hook"
    outcome = in_background(lambda: check_callback_url(url, allow_private=False))
    [error] = wait_for(lambda: outcome, 5, "the check to give up", 0.05)
    assert isinstance(error, ValueError)
    assert "cannot be resolved: no answer within 0.5 s" in str(error)
