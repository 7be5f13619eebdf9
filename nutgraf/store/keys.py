"""Every Redis key nutgraf writes, and how long each lives: the store's map.

All keys share one prefix (`nutgraf` unless a test picks its own). `<p>` below is it.

key                     type    holds                                    lives
----------------------  ------  ---------------------------------------  ---------------
<p>:job:<id>            hash    a job's record (status, result, ...)     job TTL
<p>:text:<id>           string  the article, until the job ends          job TTL
<p>:cache:<digest>      hash    a finished result (result, model)        cache TTL (*)
<p>:inflight:<digest>   string  the job computing that digest now        job TTL
<p>:inflight:<d>:<own>  string  the same, for one API key's jobs         job TTL
<p>:queued              set     jobs sent to the broker, not started     none
<p>:lane:<lane>:sent    zset    the same, by lane -> order they were sent none
<p>:lane:bulk:pending   zset    bulk jobs not yet sent -> submit order   none
<p>:lane:bulk:owner:<o> list    one owner's pending bulk jobs, in order  none
<p>:lane:bulk:turns     list    owners with pending bulk jobs: whose turn none
<p>:lane:seq            string  the order counter of the lanes' zsets    none
<p>:lane:<lane>:rate    list    recent micro-batches: "jobs seconds"     none (20 kept)
<p>:ref:<own>:<sha256>  string  the latest job submitted with a `ref`    job TTL
<p>:running:jobs        set     jobs a worker has started                none
<p>:queued:seen         zset    queued job -> when last sent (reconciler) none
<p>:reconciler          string  the worker id leading the sweep          leader lease
<p>:replicated          string  written just before a WAIT (replication) 1 hour
<p>:consumer:<id>       string  a live consumer (holds prefetched jobs)  heartbeat TTL
<p>:watchers:<id>       hash    batch id -> items of it this job is      job TTL
<p>:batch:<id>          hash    a batch's record and ended-item counts   job TTL
<p>:batch_items:<id>    list    [client id, job id] JSON pairs           job TTL
<p>:events:job:<id>     pubsub  the status a job ended with              (a channel)
<p>:events:batch:<id>   pubsub  the status a batch ended with            (a channel)
<p>:webhooks:due        zset    "job:<id>", "batch:<id>" by due time     none
<p>:idem:<sha256>       string  "<fingerprint>|<target>"                 idempotency TTL
<p>:worker:<worker id>  string  a live worker's state (JSON)             heartbeat TTL
<p>:workers             zset    worker ids by heartbeat expiry (epoch)   none (pruned)
<p>:stats:jobs          hash    jobs ended, by status                    none (counters)
<p>:stats:cache         hash    cache hits                               none (counters)
<p>:metrics:<name>      hash    worker-side metrics (nutgraf.telemetry)  none (counters)
nutgraf:ratelimit...    (lib)   Flask-Limiter's counters                 the limit window

(*) A job answered from the cache holds no copy of the result: its record's cache_key
points at the entry (read_job.lua reads both), and each such answer keeps the entry alive
at least as long as its record.

The job TTL (NUTGRAF_JOB_TTL_S) and cache TTL (NUTGRAF_CACHE_TTL_S) come from the
settings; the idempotency and heartbeat TTLs from their callers. Lua scripts get every key
they can name before they run in KEYS; keys they find while running (the job already in
flight, the batches watching a job) they build from the prefix with the same names as here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PREFIX = "nutgraf"
# Flask-Limiter's own key prefix: one budget per client key across every API process.
RATE_LIMIT_PREFIX = f"{PREFIX}:ratelimit"


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix."""

    prefix: str = PREFIX

    @property
    def lua_prefix(self) -> str:
        """What the Lua scripts put in front of a key's kind to name it: '<prefix>:'."""
        return f"{self.prefix}:"

    def _name(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def job(self, job_id: str) -> str:
        """A job's record (hash)."""
        return self._name("job", job_id)

    def text(self, job_id: str) -> str:
        """A job's article, deleted when the job ends."""
        return self._name("text", job_id)

    def cache(self, digest: str) -> str:
        """A cached result, by cache key."""
        return self._name("cache", digest)

    def inflight(self, digest: str) -> str:
        """The id of the job computing a cache key right now."""
        return self._name("inflight", digest)

    def owned_inflight(self, digest: str, owner: str) -> str:
        """The job computing a cache key for one owner (an API key's digest; "": anyone)."""
        # Without keys every job's owner is "", and the name is the shared one; finish.lua
        # deletes whichever the job used when it ends.
        return self.inflight(digest) if not owner else self._name("inflight", digest, owner)

    @property
    def queued(self) -> str:
        """The set of jobs waiting for a worker."""
        return self._name("queued")

    def lane_sent(self, lane: str) -> str:
        """A lane's jobs sent to the broker and not started, scored by when they were sent."""
        return self._name("lane", lane, "sent")

    @property
    def bulk_pending(self) -> str:
        """Bulk jobs waiting for their owner's turn, scored by submit order (not yet sent)."""
        return self._name("lane", "bulk", "pending")

    def bulk_owner(self, owner: str) -> str:
        """One owner's pending bulk jobs, oldest first (owner "": the deployment without keys)."""
        return self._name("lane", "bulk", "owner", owner)

    @property
    def bulk_turns(self) -> str:
        """The owners with pending bulk jobs, in the order they take turns."""
        return self._name("lane", "bulk", "turns")

    @property
    def lane_seq(self) -> str:
        """The counter that orders jobs in the lanes' sorted sets."""
        return self._name("lane", "seq")

    def lane_rate(self, lane: str) -> str:
        """A lane's recent micro-batches as "<jobs> <seconds>" entries, newest first."""
        return self._name("lane", lane, "rate")

    def ref(self, owner: str, ref: str) -> str:
        """The latest job one owner submitted with a story id (`ref`), hashed."""
        return self._name("ref", owner, hashlib.sha256(ref.encode()).hexdigest())

    @property
    def running_jobs(self) -> str:
        """The set of jobs a worker has started."""
        return self._name("running", "jobs")

    @property
    def queued_seen(self) -> str:
        """The reconciler's clock: each queued job and when it was last seen sent."""
        return self._name("queued", "seen")

    def consumer(self, consumer_id: str) -> str:
        """A live worker's message consumer (the process holding prefetched jobs)."""
        return self._name("consumer", consumer_id)

    @property
    def reconciler(self) -> str:
        """The lease of the worker process that runs the reconciler's sweep."""
        return self._name("reconciler")

    @property
    def replicated(self) -> str:
        """Written just before a WAIT: the write that WAIT then counts replicas of."""
        return self._name("replicated")

    def watchers(self, job_id: str) -> str:
        """The batches that count a job's end (batch id -> number of items)."""
        return self._name("watchers", job_id)

    def batch(self, batch_id: str) -> str:
        """A batch's record (hash)."""
        return self._name("batch", batch_id)

    def batch_items(self, batch_id: str) -> str:
        """A batch's items in order: JSON [client id, job id] pairs."""
        return self._name("batch_items", batch_id)

    def job_events(self, job_id: str) -> str:
        """The channel a job's end is published on."""
        return self._name("events", "job", job_id)

    def batch_events(self, batch_id: str) -> str:
        """The channel a batch's end is published on."""
        return self._name("events", "batch", batch_id)

    @property
    def webhooks_due(self) -> str:
        """The outbox: callbacks to deliver, scored by when they are due."""
        return self._name("webhooks", "due")

    def callback_record(self, member: str) -> str:
        """The record an outbox member ("job:<id>" or "batch:<id>") stands for."""
        return self._name(member)

    def idempotency(self, scope: str, key: str) -> str:
        """An Idempotency-Key a client sent, hashed: any length, any characters."""
        return self._name("idem", hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest())

    def worker(self, worker_id: str) -> str:
        """A live worker process's state; expires unless its heartbeat renews it."""
        return self._name("worker", worker_id)

    @property
    def workers(self) -> str:
        """The index of worker ids, scored by when their heartbeat expires (epoch seconds)."""
        return self._name("workers")

    @property
    def stats_jobs(self) -> str:
        """Jobs ended since Redis started, by status."""
        return self._name("stats", "jobs")

    @property
    def stats_cache(self) -> str:
        """Cache hits since Redis started."""
        return self._name("stats", "cache")

    def metric(self, name: str) -> str:
        """One worker-side metric (nutgraf.telemetry), e.g. <prefix>:metrics:batch_size."""
        return self._name("metrics", name)
