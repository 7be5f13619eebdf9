"""Signed webhook callbacks: URL checks, HMAC signatures and the delivery outbox in Redis.

A job or batch with a `callback_url` that ends is put in the sorted set
`<prefix>:webhooks:due` (member "job:<id>" or "batch:<id>", score = when it is due) by the
same Lua script that ends it. Workers claim due members, POST the signed body, record each
attempt on the record's `callback_attempts` and reschedule failures with exponential backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from nutgraf.jobs import now_rfc3339
from nutgraf.settings import Settings

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Nutgraf-Timestamp"
SIGNATURE_HEADER = "X-Nutgraf-Signature"
DELIVERY_HEADER = "X-Nutgraf-Delivery"
MAX_URL_CHARS = 2048
BACKOFF_CAP_S = 300
# Deliveries one run_once makes at once, so that one slow receiver does not hold up the rest.
PARALLEL_DELIVERIES = 8
# What each kind of outbox member is announced as: (event type, payload field).
EVENTS = {"job": ("summary.completed", "job"), "batch": ("batch.completed", "batch")}
# NAT64 (RFC 6052) embeds an IPv4 address that the gateway then connects to.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# (kind, id) -> the public body of that job or batch, or None when it is gone.
BodyFor = Callable[[str, str], dict[str, Any] | None]

# Claim due members: push each one's score a lease into the future, so that a deliverer
# that dies mid-delivery leaves it to be claimed again when the lease runs out.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], member) end
return due
"""
# Record one attempt and its outcome atomically. ARGV: member, attempt JSON, outcome
# (delivered|retry|failed), next due time. A record that another deliverer ended meanwhile
# (after a lease ran out) keeps its state; an expired record is not re-created.
_RECORD = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1]) return 'missing' end
local attempts = redis.call('HGET', KEYS[1], 'callback_attempts')
if not attempts or attempts == '' or attempts == '[]' then
  attempts = '[' .. ARGV[2] .. ']'
else
  attempts = string.sub(attempts, 1, -2) .. ',' .. ARGV[2] .. ']'
end
redis.call('HSET', KEYS[1], 'callback_attempts', attempts)
local state = redis.call('HGET', KEYS[1], 'callback_state')
if ARGV[3] == 'delivered' or (ARGV[3] == 'failed' and state == 'pending') then
  redis.call('HSET', KEYS[1], 'callback_state', ARGV[3])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return ARGV[3]
end
if ARGV[3] == 'retry' and state == 'pending' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
  return 'pending'
end
redis.call('ZREM', KEYS[2], ARGV[1])
return state or 'missing'
"""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Nutgraf-Signature value: "sha256=" + hex HMAC-SHA256 of b"<timestamp>." + body."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    *,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """True when the signature matches the body and the timestamp is within tolerance_s."""
    if not timestamp_header or not signature_header:
        return False
    stamp = timestamp_header.strip()
    if not (stamp.isascii() and stamp.isdigit()):
        return False
    timestamp = int(stamp)
    # Old (or far-future) timestamps are refused so that a captured request cannot be replayed.
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).encode()
    return hmac.compare_digest(expected, signature_header.strip().encode())


def check_callback_url(url: str, *, allow_private: bool) -> None:
    """Raise ValueError (a readable message) unless nutgraf may POST callbacks to `url`."""
    # With private addresses allowed there is nothing to refuse by address, so the host is
    # not resolved: a DNS hiccup must not refuse a job. Delivery resolves it anyway.
    _checked_addresses(url, allow_private=allow_private, resolve=not allow_private)


def backoff_s(attempts: int) -> float:
    """Seconds to wait after the n-th failed attempt: 1, 2, 4 ... capped at 5 minutes."""
    return float(min(2 ** max(0, attempts - 1), BACKOFF_CAP_S))


def _parse(url: str) -> httpx.URL:
    """The URL as httpx (which sends the request) reads it, with the rules applied."""
    if not isinstance(url, str) or not url:
        raise ValueError("must be a non-empty string")
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"longer than {MAX_URL_CHARS} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValueError("must not contain spaces or control characters")
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if target.scheme not in ("http", "https"):
        scheme = f"{target.scheme}:" if target.scheme else "no scheme"
        raise ValueError(f"must be an http or https URL, not {scheme}")
    # Any "@" in the authority (even an empty user) is refused: it is how credentials leak
    # into logs and how parsers disagree about which host is meant.
    if target.userinfo or "@" in urlsplit(url).netloc:
        raise ValueError("must not contain credentials (user:password@)")
    if not target.host:
        raise ValueError("a host is required")
    if target.port is not None and not 0 < target.port < 65536:
        raise ValueError(f"invalid port: {target.port}")
    return target


def _checked_addresses(url: str, *, allow_private: bool, resolve: bool) -> list[str]:
    """Validate `url` and return the distinct addresses its host resolves to (none when
    `resolve` is false); refuse if any of them is not public, unless `allow_private`."""
    target = _parse(url)
    if not resolve:
        return []
    host = target.raw_host.decode("ascii")  # IDNA-encoded; IPv6 without brackets
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"host {target.host!r} cannot be resolved: {reason}") from None
    addresses: list[str] = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        # Every address counts, not just the first: a host may resolve to several, and the
        # connection could go to any of them.
        kind = None if allow_private else refusal(address)
        if kind is not None:
            raise ValueError(
                f"host {target.host!r} is {address}, a {kind} address; callbacks "
                "to loopback, private and link-local addresses are refused "
                "(NUTGRAF_WEBHOOK_ALLOW_PRIVATE=1 allows them)"
            )
        if str(address) not in addresses:
            addresses.append(str(address))
    if not addresses:
        raise ValueError(f"host {target.host!r} has no IP address")
    return addresses


def refusal(address: Address) -> str | None:
    """Why a callback to `address` is refused by default ("loopback", "private"...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address reach that IPv4 host: judge it instead.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and (kind := refusal(embedded)) is not None:
            return kind
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        # Shared (100.64/10), documentation and other special-purpose ranges.
        ("non-public", not address.is_global),
    )
    return next((kind for kind, hit in checks if hit), None)


def _pinned(target: httpx.URL, address: str) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The request aimed at the checked `address` rather than at a second DNS answer (DNS
    rebinding), with the original Host header and TLS server name."""
    extensions: dict[str, Any] = {}
    if target.scheme == "https":
        # The certificate is still verified against the original host name.
        extensions["sni_hostname"] = target.raw_host.decode("ascii")
    return target.copy_with(host=address), {"Host": target.netloc.decode("ascii")}, extensions


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
        self.settings = settings
        self.due_key = f"{prefix}:webhooks:due"
        # A claim must outlast one delivery (up to two addresses tried, each with its timeout).
        self.lease_s = lease_s if lease_s is not None else max(60.0, 4 * settings.webhook_timeout_s)
        self._claim = client.register_script(_CLAIM)
        self._record = client.register_script(_RECORD)
        self._http = httpx.Client(
            timeout=settings.webhook_timeout_s,
            follow_redirects=False,
            # A proxy from the environment would connect somewhere the address check never saw.
            trust_env=False,
            # No pooled connections: requests are pinned to IP addresses, and a connection
            # opened for one host name must never carry a request for another on that IP.
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"User-Agent": "nutgraf-webhooks/1"},
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def claim_due(self, limit: int) -> list[str]:
        """Members due now (at most `limit`), each leased to the caller for lease_s seconds."""
        now = time.time()
        members: list[str] = self._claim(keys=[self.due_key], args=[now, now + self.lease_s, limit])
        return members

    def run_once(self, body_for: BodyFor, limit: int = PARALLEL_DELIVERIES) -> int:
        """Claim the due callbacks and deliver them in parallel; return how many were tried."""
        members = self.claim_due(limit)
        if len(members) == 1:
            self._deliver_logged(members[0], body_for)
        elif members:
            # Daemon threads, not an executor: a hung receiver never delays process exit.
            threads = [
                threading.Thread(target=self._deliver_logged, args=(m, body_for), daemon=True)
                for m in members
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        return len(members)

    def _deliver_logged(self, member: str, body_for: BodyFor) -> None:
        try:
            self.deliver(member, body_for)
        except Exception:  # Redis away: the lease runs out and the member is claimed again.
            log.exception("webhook %s: delivery round failed", member)

    def deliver(self, member: str, body_for: BodyFor) -> str:
        """Make one attempt for a claimed member, record it and return the callback's state
        afterwards: delivered, pending (retry scheduled), failed, or missing."""
        kind, _, ident = member.partition(":")
        if kind not in EVENTS or not ident:
            self.redis.zrem(self.due_key, member)
            return "missing"
        record_key = f"{self.prefix}:{member}"
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
        status_code, error = self._post(url, member, payload)
        attempt = {
            "at": at,
            "status_code": status_code,
            "error": error,
            "duration_ms": round((time.monotonic() - started) * 1000),
        }
        attempts = json.loads(attempts_raw or "[]")
        first = _epoch(attempts[0]["at"]) if attempts else started_wall
        now = time.time()
        next_due = 0.0
        if status_code is not None and 200 <= status_code < 300:
            outcome = "delivered"
        elif now - first < self.settings.webhook_retry_for_s:
            outcome, next_due = "retry", now + backoff_s(len(attempts) + 1)
        else:
            outcome = "failed"
        result: str = self._record(
            keys=[record_key, self.due_key],
            args=[member, json.dumps(attempt), outcome, next_due],
        )
        level = logging.INFO if result == "delivered" else logging.WARNING
        log.log(level, "webhook %s: attempt %d to %s: %s, callback %s", member,
                len(attempts) + 1, url, status_code or error, result)  # fmt: skip
        return result

    def _post(self, url: str, member: str, payload: bytes) -> tuple[int | None, str | None]:
        """POST the payload signed; (status code, None) or (maybe a status, what went wrong)."""
        secret = self.settings.webhook_secret
        if not secret:
            return None, "NUTGRAF_WEBHOOK_SECRET is not set where the worker runs"
        try:
            # Checked again now, not only when the job was accepted: DNS may have changed.
            addresses = _checked_addresses(
                url, allow_private=self.settings.webhook_allow_private, resolve=True
            )
        except ValueError as exc:
            return None, str(exc)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, payload),
            DELIVERY_HEADER: member,
        }
        target = httpx.URL(url)
        error = "no address to connect to"
        for address in addresses[:2]:
            pinned_url, host, extensions = _pinned(target, address)
            try:
                with self._http.stream(
                    "POST",
                    pinned_url,
                    content=payload,
                    headers={**headers, **host},
                    extensions=extensions,
                ) as response:  # the answer's body is never read: only its status counts
                    code = response.status_code
                    if 200 <= code < 300:
                        return code, None
                    if 300 <= code < 400:
                        return code, f"HTTP {code}: redirects are not followed"
                    return code, f"HTTP {code}"
            except httpx.ConnectError as exc:  # try the host's next address
                error = f"ConnectError: {exc}"
            except Exception as exc:  # whatever a receiver provokes is this attempt's error
                return None, f"{type(exc).__name__}: {exc}".rstrip(": ")
        return None, error
