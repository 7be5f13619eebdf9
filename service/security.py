"""API keys, per-key rate limits, backpressure, body-size limits and CORS for /v1 and /hf."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from typing import Any

from flask import Flask, Response, g, request
from flask_cors import CORS
from flask_limiter import Limiter, RequestLimit
from redis.connection import parse_url
from werkzeug.exceptions import RequestEntityTooLarge

from nutgraf.settings import Settings
from nutgraf.store import JobStore
from nutgraf.store.keys import RATE_LIMIT_PREFIX
from service.errors import (
    HF_PREFIX,
    HttpError,
    Overloaded,
    RateLimited,
    Unauthorized,
    error_response,
)

log = logging.getLogger(__name__)

V1_PREFIX = "/v1/"
# The API's calls: keys, rate limits and CORS cover both (HF clients send keys too).
API_PREFIXES = (V1_PREFIX, HF_PREFIX)
# What the hooks below can answer on any /v1 or /hf call, before its view runs.
V1_HOOK_ERRORS: tuple[type[HttpError], ...] = (Unauthorized, RateLimited)
MIB = 1024 * 1024
# Endpoints that create work for the queue, and the one that takes large bodies.
# A single summary is refused in the job store's submit script, and only when it would
# be new work (a cache hit is still answered); a batch is checked here, before its items.
WORK_ENDPOINTS = frozenset({"batches.create_batch"})
BATCH_ENDPOINT = "batches.create_batch"
# The limiter's own Redis client: a stalled Redis must not stall every request for long.
LIMITER_REDIS_TIMEOUT_S = 2
CORS_ALLOW_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "Prefer"]
CORS_EXPOSE_HEADERS = [
    "Location",
    "Retry-After",
    "Idempotent-Replayed",
    "Preference-Applied",
    "X-Request-Id",
]
CORS_MAX_AGE_S = 600


def install_security(app: Flask, settings: Settings, store: JobStore) -> None:
    """Put keys, rate limits, backpressure, body limits and CORS in front of /v1 and /hf."""
    # Order matters: Flask runs before_request hooks in registration order. Unauthenticated
    # calls are refused first (they cost no budget); then the limiter; then checks that
    # may touch the body size or the queue.
    _install_api_keys(app, settings)
    _install_rate_limit(app, settings)
    _install_body_limit(app, settings)
    _install_backpressure(app, settings, store)
    _install_cors(app, settings)


def _is_api_call() -> bool:
    # CORS preflights carry no credentials by design; flask-cors answers them.
    return request.path.startswith(API_PREFIXES) and request.method != "OPTIONS"


def key_digest(key: str) -> bytes:
    """sha256 of a key: fixed-length, so comparisons take the same time for any key."""
    return hashlib.sha256(key.encode()).digest()


def _install_api_keys(app: Flask, settings: Settings) -> None:
    # The keys file is read once, at start: rotating keys means restarting the API.
    digests = [key_digest(key) for key in settings.all_api_keys()]
    if not digests:
        return
    log.info("API keys required on /v1 and /hf (%d keys)", len(digests))

    @app.before_request
    def _authenticate() -> None:
        if not _is_api_call():
            return
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send an API key as `Authorization: Bearer <key>`")
        presented = key_digest(token)
        # Compare with every key, without stopping at a match, so timing reveals nothing.
        matched = False
        for digest in digests:
            matched |= hmac.compare_digest(presented, digest)
        if not matched:
            raise Unauthorized("unknown API key")
        # The limiter keys budgets by this, never by the key itself (it lands in Redis).
        g.nutgraf_client = "key:" + presented.hex()[:32]
        # Jobs and batches belong to the key that created them (see request_owner).
        g.nutgraf_owner = presented.hex()


def request_owner() -> str:
    """Who owns what this request creates, and may read or cancel: the hex SHA-256 of its
    API key, or "" when keys are off (then every caller is the same owner)."""
    owner: str = g.get("nutgraf_owner", "")
    return owner


def _rate_limit_key() -> str:
    client: str | None = g.get("nutgraf_client")
    # Without API keys the budget is per peer address (behind a proxy: the proxy's).
    return client or f"addr:{request.remote_addr or 'unknown'}"


def limiter_storage(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The limits library's storage URI and options for the job store's Redis."""
    assert settings.redis_url  # create_app refuses to start without it
    options: dict[str, Any] = {
        "key_prefix": RATE_LIMIT_PREFIX,
        "socket_connect_timeout": LIMITER_REDIS_TIMEOUT_S,
        "socket_timeout": LIMITER_REDIS_TIMEOUT_S,
    }
    if settings.redis_sentinels:
        # redis+sentinel://h1:p1,h2:p2/<master>: limits asks the Sentinels for the primary
        # and follows a failover as the store does. The primary's login and database are
        # NUTGRAF_REDIS_URL's; the Sentinels' own password is set apart (limits would
        # otherwise send the primary's to them too).
        primary = parse_url(settings.redis_url)
        options.update({k: primary[k] for k in ("username", "password", "db") if k in primary})
        options["sentinel_kwargs"] = {
            "password": settings.redis_sentinel_password,
            "socket_connect_timeout": LIMITER_REDIS_TIMEOUT_S,
            "socket_timeout": LIMITER_REDIS_TIMEOUT_S,
        }
        # Counted on the primary only: a replica's count may lag behind.
        options["use_replicas"] = False
        sentinels = ",".join(settings.redis_sentinels)
        return f"redis+sentinel://{sentinels}/{settings.redis_sentinel_master}", options
    # The limits library spells Unix sockets redis+unix://.
    if settings.redis_url.startswith("unix://"):
        return "redis+unix://" + settings.redis_url.removeprefix("unix://"), options
    return settings.redis_url, options


def _on_breach(limit: RequestLimit) -> Response:
    """The 429 for a spent budget; flask-limiter raises it inside RateLimitExceeded."""
    # Returned, not raised, so service.errors answers with this very response. Retry when
    # the oldest call leaves the window (reset_at would round up one more second).
    reset_in = math.ceil(limit.window.reset_time - time.time())
    retry_after = max(1, min(reset_in, limit.limit.get_expiry()))
    return error_response(
        RateLimited(f"rate limit of {limit.limit} exceeded; retry in {retry_after} s", retry_after)
    )


def _install_rate_limit(app: Flask, settings: Settings) -> None:
    if not settings.rate_limit:
        return
    storage_uri, storage_options = limiter_storage(settings)
    limiter = Limiter(
        _rate_limit_key,
        # Application limits share one budget across every route, per key.
        application_limits=[settings.rate_limit],
        # Storage in the job store's Redis: every gunicorn process spends the same budget.
        storage_uri=storage_uri,
        storage_options=storage_options,
        # Exact: a client is refused only with `limit` calls in the last window, and
        # Retry-After is when the oldest of them leaves it.
        strategy="moving-window",
        on_breach=_on_breach,
        # Redis down: limit per process in memory (and never turn a call into a 500),
        # back to Redis once it answers again.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
    limiter.request_filter(lambda: not _is_api_call())
    limiter.init_app(app)
    log.info("rate limit on /v1 and /hf: %s", settings.rate_limit)


def _install_body_limit(app: Flask, settings: Settings) -> None:
    batch_limit = settings.max_body_mb * MIB

    @app.before_request
    def _limit_body() -> None:
        if request.endpoint == BATCH_ENDPOINT:
            # Batches carry many articles; other calls keep the app's MAX_CONTENT_LENGTH.
            request.max_content_length = batch_limit
        limit = request.max_content_length
        # Refuse from Content-Length alone, before a byte of the body is read; bodies
        # without one (chunked) are cut off by Werkzeug at the same limit while read.
        if limit is not None and (request.content_length or 0) > limit:
            raise RequestEntityTooLarge()


def _install_backpressure(app: Flask, settings: Settings, store: JobStore) -> None:
    @app.before_request
    def _refuse_when_overloaded() -> None:
        if request.method != "POST" or request.endpoint not in WORK_ENDPOINTS:
            return
        # Checked before the view: a batch whose items would all be cache hits is refused
        # too while the queue is full; a batch is rarely all cached, so that is harmless.
        depth = store.queue_depth()
        if depth >= settings.max_queue:
            raise Overloaded(
                f"{depth} jobs are queued (limit {settings.max_queue}); try again later"
            )


def _install_cors(app: Flask, settings: Settings) -> None:
    if not settings.cors_origins:
        return
    CORS(
        app,
        resources={r"/(v1|hf)/.*": {"origins": settings.cors_origins}},
        allow_headers=CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
        max_age=CORS_MAX_AGE_S,
    )
