"""The webhook outbox in Redis: claim due callbacks, deliver them signed, record attempts.

A job or batch with a `callback_url` that ends is put in the sorted set
`<prefix>:webhooks:due` (member "job:<id>" or "batch:<id>", score = when it is due) by the
same Lua script that ends it. Workers claim due members, POST the signed body, record each
attempt on the record's `callback_attempts` and reschedule failures with exponential backoff,
or when a 429 or 503 answer's Retry-After says. A 410 Gone ends the callback at once: the
receiver no longer wants it (Standard Webhooks' status code handling).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from nutgraf.settings import Settings
from nutgraf.store.ids import now_rfc3339
from nutgraf.store.keys import Keys
from nutgraf.store.lua import LuaScript
from nutgraf.store.replication import replicated
from nutgraf.webhooks.deadline import DeadlineTransport, deadline_at
from nutgraf.webhooks.signing import signed_headers
from nutgraf.webhooks.url_guard import checked_addresses, pinned

log = logging.getLogger(__name__)

BACKOFF_CAP_S = 300
# Deliveries in flight at once per outbox, each in its own thread, so that one slow
# receiver holds up only its own.
PARALLEL_DELIVERIES = 8
# What each kind of outbox member is announced as: (event type, payload field).
EVENTS = {"job": ("summary.completed", "job"), "batch": ("batch.completed", "batch")}

# (kind, id) -> the public body of that job or batch, or None when it is gone.
BodyFor = Callable[[str, str], dict[str, Any] | None]
# Answers whose Retry-After header sets the next attempt (RFC 6585 and RFC 9110).
RETRY_AFTER_STATUSES = (429, 503)
# The receiver asks for no more attempts of this callback.
GONE = 410


def backoff_s(attempts: int) -> float:
    """Seconds to wait after the n-th failed attempt: 1, 2, 4 ... capped at 5 minutes."""
    return float(min(2 ** max(0, attempts - 1), BACKOFF_CAP_S))


def retry_after_s(value: str | None, now: float) -> float | None:
    """Seconds a Retry-After header value (delay seconds or an HTTP-date) asks to wait from
    `now`; None when it is missing or malformed. A date in the past asks for 0."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit():
        # Capped so that an absurd value stays a float; any cap past the retry window will do.
        return float(min(int(value), 10**9))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322, but naive here
        return None
    return max(0.0, when.timestamp() - now)


def _epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()


class WebhookOutbox:
    """Claims due callbacks from Redis, delivers them signed and records every attempt."""

    def __init__(
        self, client: Any, prefix: str, settings: Settings, *, lease_s: float | None = None
    ) -> None:
        # client: a redis.Redis with decode_responses=True (the job store's own).
        self.redis: Any = client
        self.prefix = prefix
        self.keys = Keys(prefix)
        self.settings = settings
        self.due_key = self.keys.webhooks_due
        # One attempt (DNS look-up, connect, send, the answer's status and headers) ends
        # within webhook_timeout_s; a claim outlasts it, so that no second deliverer claims
        # a callback whose attempt is still in flight.
        self.lease_s = lease_s if lease_s is not None else max(60.0, 4 * settings.webhook_timeout_s)
        if self.lease_s <= settings.webhook_timeout_s:
            raise ValueError(
                f"lease_s ({self.lease_s}) must be longer than one attempt "
                f"(NUTGRAF_WEBHOOK_TIMEOUT_S={settings.webhook_timeout_s})"
            )
        self._claim = LuaScript(client, "webhook_claim")
        self._record = LuaScript(client, "webhook_record")
        self._http = httpx.Client(
            transport=DeadlineTransport(),
            timeout=settings.webhook_timeout_s,
            follow_redirects=False,
            # A proxy from the environment would connect somewhere the address check never saw.
            trust_env=False,
            headers={"User-Agent": "nutgraf-webhooks/1"},
        )
        # Deliveries started by run_once and not yet ended; they end within the deadline.
        self._in_flight = 0
        self._changed = threading.Condition()

    def close(self) -> None:
        """Let the deliveries in flight end (they are bounded), then close the HTTP client."""
        self.wait_idle(self.settings.webhook_timeout_s + 5)
        self._http.close()

    def _replicated(self) -> bool:
        """Every end recorded so far is on NUTGRAF_REDIS_MIN_REPLICAS replicas (WAIT)."""
        return replicated(
            self.redis,
            self.keys,
            self.settings.redis_min_replicas,
            self.settings.redis_min_replicas_timeout_ms,
        )

    def claim_due(self, limit: int) -> list[str]:
        """Members due now (at most `limit`), each leased to the caller for lease_s seconds."""
        now = time.time()
        members: list[str] = self._claim(
            webhooks_due=self.due_key, now=now, lease_until=now + self.lease_s, limit=limit
        )
        return members

    def run_once(self, body_for: BodyFor, limit: int = PARALLEL_DELIVERIES) -> int:
        """Claim due callbacks for the free delivery slots (at most `limit`) and start each
        delivery in its own thread; return how many were claimed. Never waits for them."""
        # Not waiting is what keeps a slow receiver from holding up callbacks that fall due
        # later; claiming no more than the free slots leaves the rest to other workers.
        with self._changed:
            free = min(limit, PARALLEL_DELIVERIES - self._in_flight)
        if free > 0 and not self._replicated():
            return 0  # a callback must not announce an end a failover could still lose
        members = self.claim_due(free) if free > 0 else []
        for member in members:
            with self._changed:
                self._in_flight += 1
            # Daemon threads, not an executor: a delivery in flight never delays process exit.
            threading.Thread(
                target=self._deliver_logged,
                args=(member, body_for),
                name=f"nutgraf-webhook {member}",
                daemon=True,
            ).start()
        return len(members)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait at most timeout_s for the deliveries run_once started to end; True if they did."""
        with self._changed:
            return self._changed.wait_for(lambda: self._in_flight == 0, timeout_s)

    def _deliver_logged(self, member: str, body_for: BodyFor) -> None:
        try:
            self.deliver(member, body_for)
        except Exception:  # Redis away: the lease runs out and the member is claimed again.
            log.exception("webhook %s: delivery round failed", member)
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def deliver(self, member: str, body_for: BodyFor) -> str:
        """Make one attempt for a claimed member, record it and return the callback's state
        afterwards: delivered, pending (retry scheduled), failed, or missing."""
        kind, _, ident = member.partition(":")
        if kind not in EVENTS or not ident:
            self.redis.zrem(self.due_key, member)
            return "missing"
        record_key = self.keys.callback_record(member)
        url, state, attempts_raw = self.redis.hmget(
            record_key, ["callback_url", "callback_state", "callback_attempts"]
        )
        body = body_for(kind, ident) if url and state == "pending" else None
        if body is None:  # expired, or a stale duplicate of a callback already settled
            self.redis.zrem(self.due_key, member)
            return state or "missing"
        event, field = EVENTS[kind]
        payload = json.dumps(
            {"type": event, field: body}, separators=(",", ":"), ensure_ascii=False
        ).encode()
        at, started_wall, started = now_rfc3339(), time.time(), time.monotonic()
        status_code, error, wait_s = self._post(url, member, payload)
        attempt = {
            "at": at,
            "status_code": status_code,
            "error": error,
            "duration_ms": round((time.monotonic() - started) * 1000),
        }
        attempts = json.loads(attempts_raw or "[]")
        first = _epoch(attempts[0]["at"]) if attempts else started_wall
        now = time.time()
        next_due, retry_until = 0.0, first + self.settings.webhook_retry_for_s
        if status_code is not None and 200 <= status_code < 300:
            outcome = "delivered"
        elif status_code == GONE:
            outcome = "failed"
        elif wait_s is not None:  # the receiver said when: not before, nor past the window
            # At least the first backoff: a "Retry-After: 0" must not make a busy loop.
            next_due = now + max(wait_s, backoff_s(1))
            outcome = "retry" if next_due <= retry_until else "failed"
            if outcome == "failed":
                attempt["error"] = f"{error}, past NUTGRAF_WEBHOOK_RETRY_FOR_S"
        elif now < retry_until:
            outcome, next_due = "retry", now + backoff_s(len(attempts) + 1)
        else:
            outcome = "failed"
        result: str = self._record(
            record=record_key,
            webhooks_due=self.due_key,
            member=member,
            attempt=json.dumps(attempt),
            outcome=outcome,
            next_due=next_due,
        )
        level = logging.INFO if result == "delivered" else logging.WARNING
        log.log(level, "webhook %s: attempt %d to %s: %s, callback %s", member,
                len(attempts) + 1, url, status_code or error, result)  # fmt: skip
        return result

    def _post(
        self, url: str, member: str, payload: bytes
    ) -> tuple[int | None, str | None, float | None]:
        """POST the payload signed: (status code, None, None) when delivered, else (maybe a
        status, what went wrong, the seconds a 429's or 503's Retry-After asks to wait)."""
        webhook_secrets = self.settings.webhook_secret
        if not webhook_secrets:
            return None, "NUTGRAF_WEBHOOK_SECRET is not set where the worker runs", None
        timeout_s = self.settings.webhook_timeout_s
        # One deadline for the whole attempt: look-up, both addresses, send and answer.
        deadline = time.monotonic() + timeout_s
        try:
            # Checked again now, not only when the job was accepted: DNS may have changed.
            addresses = checked_addresses(
                url,
                allow_private=self.settings.webhook_allow_private,
                resolve=True,
                timeout_s=timeout_s,
            )
        except ValueError as exc:
            return None, str(exc), None
        # The outbox member ("job:<id>", "batch:<id>") is the webhook-id: the same on every
        # attempt, so that a receiver can drop the duplicates of a delivery by it.
        headers = signed_headers(webhook_secrets, payload, member, int(time.time()))
        target = httpx.URL(url)
        error = "no address to connect to"
        for address in addresses[:2]:
            pinned_url, host, extensions = pinned(target, address)
            try:
                with (
                    deadline_at(deadline),
                    self._http.stream(
                        "POST",
                        pinned_url,
                        content=payload,
                        headers={**headers, **host},
                        extensions=extensions,
                    ) as response,
                ):  # the answer's body is never read: only its status counts
                    code = response.status_code
                    retry_after = response.headers.get("Retry-After")
                return code, *_failure(code, retry_after)
            except httpx.TimeoutException as exc:
                return None, f"{type(exc).__name__}: no answer within {timeout_s:g} s", None
            except httpx.ConnectError as exc:  # try the host's next address
                error = f"ConnectError: {exc}"
            except Exception as exc:  # whatever a receiver provokes is this attempt's error
                return None, f"{type(exc).__name__}: {exc}".rstrip(": "), None
        return None, error, None


def _failure(code: int, retry_after: str | None) -> tuple[str | None, float | None]:
    """What went wrong with an answer of this status (None: delivered), and the seconds its
    Retry-After asks to wait before the next attempt (only a 429's or a 503's counts)."""
    if 200 <= code < 300:
        return None, None
    if 300 <= code < 400:
        return f"HTTP {code}: redirects are not followed", None
    if code == GONE:
        return f"HTTP {code}: the receiver wants no more attempts", None
    wait_s = retry_after_s(retry_after, time.time()) if code in RETRY_AFTER_STATUSES else None
    if wait_s is None:
        return f"HTTP {code}", None
    return f"HTTP {code}: Retry-After {wait_s:.0f} s", wait_s
