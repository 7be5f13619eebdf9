"""JobStore: the one object the API and the workers hold, composing the store's parts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.connection import parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from nutgraf.settings import Settings
from nutgraf.store.batches import Batches
from nutgraf.store.idempotency import IdempotencyKeys
from nutgraf.store.jobs import Jobs
from nutgraf.store.keys import PREFIX, Keys
from nutgraf.store.lanes import Lanes
from nutgraf.store.liveness import Liveness
from nutgraf.store.reconcile import Reconciler
from nutgraf.store.replication import replicated


def connect(
    url: str,
    *,
    patient: bool = False,
    sentinels: Sequence[str] = (),
    master: str | None = None,
    sentinel_password: str | None = None,
) -> redis.Redis:
    """A lazy client. `patient` clients (workers) ride out a Redis restart of about a
    minute; impatient ones (the API) fail fast so clients get a 503 at once.

    With `sentinels` (host:port each) the client asks them for `master`'s primary and asks
    again whenever a connection fails or lands on a demoted primary (READONLY), so it
    follows a failover; `url` then gives only the primary's password, database and TLS."""
    retry = Retry(ExponentialBackoff(cap=5.0, base=0.2), retries=20 if patient else 1)
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
        "health_check_interval": 15,
        "retry": retry,
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
    }
    if not sentinels:
        return redis.Redis.from_url(url, **options)
    if not master:
        raise ValueError("a master name is needed with sentinels")
    primary = parse_url(url)
    login = {key: primary[key] for key in ("username", "password", "db") if key in primary}
    if url.startswith("rediss://"):
        login["ssl"] = True
    sentinel = Sentinel(
        [_address(address) for address in sentinels],
        sentinel_kwargs={
            "password": sentinel_password,
            "socket_connect_timeout": 2,
            "socket_timeout": 2,
        },
    )
    client: redis.Redis = sentinel.master_for(master, **options, **login)
    return client


def _address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def connect_to(settings: Settings, *, patient: bool = False) -> redis.Redis:
    """`connect` to the Redis these settings name: through the Sentinels when they are set."""
    return connect(
        settings.redis_url or "",
        patient=patient,
        sentinels=settings.redis_sentinels,
        master=settings.redis_sentinel_master,
        sentinel_password=settings.redis_sentinel_password,
    )


def primary_address(client: redis.Redis) -> str:
    """host:port (or the socket's path) of the Redis this client writes to now: with
    Sentinel, the primary they name (asked anew, as a reconnection would)."""
    pool = client.connection_pool
    if isinstance(pool, SentinelConnectionPool):
        host, port = pool.get_master_address()
        return f"{host}:{port}"
    kwargs = pool.connection_kwargs
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


class JobStore:
    """Jobs, batches, idempotency keys and worker liveness on one Redis client.

    Each part lives in its own module; the store's methods are theirs, named here so that
    callers hold one object. The key names are in nutgraf.store.keys.
    """

    def __init__(
        self,
        client: redis.Redis,
        job_ttl_s: int,
        cache_ttl_s: int,
        prefix: str = PREFIX,
        precision: str = "auto",
    ) -> None:
        # Any: the client decodes to str (decode_responses=True), which redis-py's types
        # cannot express; they would force a cast at every call.
        self.redis: Any = client
        self.prefix = prefix
        self.keys = Keys(prefix)
        self.precision = precision  # the deployment's NUTGRAF_DTYPE, part of cache keys
        self.job_ttl_s = job_ttl_s
        self.cache_ttl_s = cache_ttl_s
        # Replicas a write must reach before it is answered for (from_settings sets them).
        self.min_replicas = 0
        self.min_replicas_timeout_ms = 1000
        self.liveness = Liveness(client, self.keys)
        self.lanes = Lanes(client, self.keys, self.liveness)
        self.jobs = Jobs(client, self.keys, job_ttl_s, cache_ttl_s, precision, self.lanes)
        self.batches = Batches(client, self.keys, self.jobs, job_ttl_s)
        self.idempotency = IdempotencyKeys(client, self.keys)
        self.reconciler = Reconciler(client, self.keys)
        # A job's life (nutgraf.store.jobs).
        self.submit = self.jobs.submit
        self.record_invalid = self.jobs.record_invalid
        self.abandon = self.jobs.abandon
        self.get = self.jobs.get
        self.wait_for_end = self.jobs.wait_for_end
        self.start = self.jobs.start
        self.succeed = self.jobs.succeed
        self.fail = self.jobs.fail
        self.cancel = self.jobs.cancel
        self.queue_depth = self.jobs.queue_depth
        self.job_counts = self.jobs.job_counts
        # Batches (nutgraf.store.batches).
        self.create_batch = self.batches.create_batch
        self.get_batch = self.batches.get_batch
        self.batch_exists = self.batches.batch_exists
        self.batch_results = self.batches.batch_results
        self.cancel_batch = self.batches.cancel_batch
        # Idempotency keys (nutgraf.store.idempotency).
        self.claim_idempotency_key = self.idempotency.claim
        self.complete_idempotency_key = self.idempotency.complete
        self.release_idempotency_key = self.idempotency.release
        # Worker liveness (nutgraf.store.liveness).
        self.heartbeat = self.liveness.heartbeat
        self.workers = self.liveness.workers
        self.release_orphans = self.liveness.release_orphans
        self.eviction_policy = self.liveness.eviction_policy

    @classmethod
    def from_url(
        cls,
        url: str,
        job_ttl_s: int,
        cache_ttl_s: int,
        *,
        patient: bool = False,
        precision: str = "auto",
    ) -> JobStore:
        """Connect lazily (see `connect`) and build the store on that client."""
        return cls(connect(url, patient=patient), job_ttl_s, cache_ttl_s, precision=precision)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, patient: bool = False, precision: str = "auto"
    ) -> JobStore:
        """`from_url` for the Redis of these settings, through the Sentinels when set."""
        client = connect_to(settings, patient=patient)
        store = cls(client, settings.job_ttl_s, settings.cache_ttl_s, precision=precision)
        store.min_replicas = settings.redis_min_replicas
        store.min_replicas_timeout_ms = settings.redis_min_replicas_timeout_ms
        return store

    def replicated(self) -> bool:
        """True once NUTGRAF_REDIS_MIN_REPLICAS replicas have every write made so far
        (always, when it is 0); False past its timeout (nutgraf.store.replication)."""
        return replicated(self.redis, self.keys, self.min_replicas, self.min_replicas_timeout_ms)
