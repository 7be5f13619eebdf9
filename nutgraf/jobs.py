"""Job records and the summary cache in Redis: keys, TTLs and state changes."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from nutgraf.models import ModelSpec
from nutgraf.schemas import SummaryOptions, SummaryResult
from nutgraf.text import normalize

PREFIX = "nutgraf"
CACHE_KEY_VERSION = 1
Status = Literal["queued", "running", "succeeded", "failed"]
TERMINAL = ("succeeded", "failed")

# Atomic submit: a cache hit, a job already in flight for the same input, or a new job.
# Doing all three in one script means two identical POSTs can never both enqueue.
_SUBMIT = """
local cached = redis.call('GET', KEYS[1])
if cached then return {'cached', cached} end
local current = redis.call('GET', KEYS[2])
if current then
  local status = redis.call('HGET', ARGV[3] .. current, 'status')
  if status == 'queued' or status == 'running' then return {'existing', current} end
end
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ttl)
redis.call('SET', KEYS[4], ARGV[4], 'EX', ttl)
redis.call('HSET', KEYS[3], unpack(cjson.decode(ARGV[5])))
redis.call('EXPIRE', KEYS[3], ttl)
return {'created', ARGV[1]}
"""
# Claim a job for a worker: only queued or running (a redelivery) jobs can start.
_START = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'succeeded' or status == 'failed' then return false end
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[1], 'worker', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return redis.call('HINCRBY', KEYS[1], 'attempts', 1)
"""
# Give a running job back to the queue if its worker is still the dead one we saw.
# Atomic, so that of several workers noticing the same orphan only one re-enqueues it.
_RELEASE_ORPHAN = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then
  redis.call('SREM', KEYS[2], ARGV[1]) return 0 end
if redis.call('HGET', KEYS[1], 'worker') ~= ARGV[2] then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'worker', '')
redis.call('SREM', KEYS[2], ARGV[1])
return 1
"""


def now_rfc3339() -> str:
    """Current UTC time as RFC 3339 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_job_id() -> str:
    """A URL-safe random job id."""
    return secrets.token_urlsafe(12)


def cache_key(text: str, title: str | None, model: ModelSpec, options: SummaryOptions) -> str:
    """sha256 over everything that changes the output: normalized text and title, model
    name and revision, and every option."""
    material = json.dumps(
        {
            "v": CACHE_KEY_VERSION,
            "text": normalize(text),
            "title": normalize(title) if title else None,
            "model": model.name,
            "revision": model.revision,
            "options": options.model_dump(mode="json"),
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class Submission:
    """Outcome of a submit: `created` (enqueue it), `existing` (in flight) or `cached`."""

    outcome: Literal["created", "existing", "cached"]
    job_id: str
    cache_key: str


@dataclass(frozen=True)
class WorkItem:
    """What a worker needs to run a job."""

    job_id: str
    text: str
    title: str | None
    model: str
    options: SummaryOptions
    cache_key: str
    attempts: int


class JobStore:
    """All Redis keys of nutgraf live behind this class."""

    def __init__(
        self, client: redis.Redis, job_ttl_s: int, cache_ttl_s: int, prefix: str = PREFIX
    ) -> None:
        # Any: the client decodes to str (decode_responses=True), which redis-py's types
        # cannot express; they would force a cast at every call.
        self.redis: Any = client
        self.job_ttl_s = job_ttl_s
        self.cache_ttl_s = cache_ttl_s
        self.prefix = prefix
        self._submit = client.register_script(_SUBMIT)
        self._start = client.register_script(_START)
        self._release_orphan = client.register_script(_RELEASE_ORPHAN)

    @classmethod
    def from_url(
        cls, url: str, job_ttl_s: int, cache_ttl_s: int, *, patient: bool = False
    ) -> JobStore:
        """Connect lazily. `patient` clients (workers) ride out a Redis restart of about a
        minute; impatient ones (the API) fail fast so clients get a 503 at once."""
        retry = Retry(ExponentialBackoff(cap=5.0, base=0.2), retries=20 if patient else 1)
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=10,
            health_check_interval=15,
            retry=retry,
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )
        return cls(client, job_ttl_s, cache_ttl_s)

    def key(self, kind: str, ident: str) -> str:
        """Namespaced key, e.g. nutgraf:job:<id>."""
        return f"{self.prefix}:{kind}:{ident}"

    def submit(
        self,
        text: str,
        title: str | None,
        model: ModelSpec,
        options: SummaryOptions,
    ) -> Submission:
        """Record a new job, or find the cached result or in-flight job for the same input."""
        digest = cache_key(text, title, model, options)
        job_id = new_job_id()
        record = {
            "id": job_id,
            "status": "queued",
            "model": json.dumps(model.public()),
            "options": options.model_dump_json(),
            "title": title or "",
            "cache_key": digest,
            "cached": "0",
            "created_at": now_rfc3339(),
            "attempts": "0",
            "input": json.dumps({"characters": len(text)}),
        }
        flat = [item for pair in record.items() for item in pair]
        outcome, value = self._submit(
            keys=[
                self.key("cache", digest),
                self.key("inflight", digest),
                self.key("job", job_id),
                self.key("text", job_id),
            ],
            args=[job_id, self.job_ttl_s, self.key("job", ""), text, json.dumps(flat)],
        )
        if outcome == "cached":
            self._record_cache_hit(job_id, record, json.loads(value))
        else:
            job_id = value
        return Submission(outcome, job_id, digest)

    def _record_cache_hit(self, job_id: str, record: dict[str, str], hit: dict[str, Any]) -> None:
        # A cache hit still gets its own job id, so clients can GET it like any other.
        record.update(
            status="succeeded",
            cached="1",
            completed_at=now_rfc3339(),
            result=json.dumps(hit["result"]),
            model=json.dumps(hit["model"]),
        )
        with self.redis.pipeline() as pipe:
            pipe.hset(self.key("job", job_id), mapping=record)
            pipe.expire(self.key("job", job_id), self.job_ttl_s)
            pipe.execute()

    def abandon(self, job_id: str) -> None:
        """Remove a job that could not be enqueued, so that nothing waits for it."""
        digest = self.redis.hget(self.key("job", job_id), "cache_key")
        keys = [self.key("job", job_id), self.key("text", job_id)]
        if digest and self.redis.get(self.key("inflight", digest)) == job_id:
            keys.append(self.key("inflight", digest))
        self.redis.delete(*keys)

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The public JSON body of a job, or None when unknown or expired."""
        raw = self.redis.hgetall(self.key("job", job_id))
        if not raw:
            return None
        return public_body(raw)

    def start(self, job_id: str, worker: str) -> WorkItem | None:
        """Mark a job running and return its input; None if it is gone or already ended."""
        attempts = self._start(
            keys=[self.key("job", job_id), self.key("running", "jobs")],
            args=[now_rfc3339(), worker, job_id],
        )
        if not attempts:
            return None
        with self.redis.pipeline() as pipe:
            pipe.hmget(self.key("job", job_id), ["title", "model", "options", "cache_key"])
            pipe.get(self.key("text", job_id))
            (title, model, options, digest), text = pipe.execute()
        if text is None:
            self.fail(job_id, "expired", "the article expired before a worker reached it")
            return None
        return WorkItem(
            job_id=job_id,
            text=text,
            title=title or None,
            model=json.loads(model)["name"],
            options=SummaryOptions.model_validate_json(options),
            cache_key=digest,
            attempts=int(attempts),
        )

    def succeed(self, job_id: str, digest: str, model: ModelSpec, result: SummaryResult) -> None:
        """Store the result on the job and in the cache, in one transaction."""
        stored = result.model_dump(mode="json")
        cached = {"result": stored, "model": model.public()}
        with self.redis.pipeline() as pipe:
            pipe.hset(
                self.key("job", job_id),
                mapping={
                    "status": "succeeded",
                    "result": json.dumps(stored),
                    "model": json.dumps(model.public()),
                    "completed_at": now_rfc3339(),
                },
            )
            pipe.set(self.key("cache", digest), json.dumps(cached), ex=self.cache_ttl_s)
            pipe.delete(self.key("text", job_id))
            pipe.srem(self.key("running", "jobs"), job_id)
            pipe.execute()

    def fail(self, job_id: str, code: str, message: str) -> None:
        """End a job as failed with an error the client can read."""
        with self.redis.pipeline() as pipe:
            pipe.hset(
                self.key("job", job_id),
                mapping={
                    "status": "failed",
                    "error": json.dumps({"code": code, "message": message}),
                    "completed_at": now_rfc3339(),
                },
            )
            pipe.delete(self.key("text", job_id))
            pipe.srem(self.key("running", "jobs"), job_id)
            pipe.execute()

    def release_orphans(self) -> list[str]:
        """Put back to `queued` the running jobs whose worker stopped beating (killed), and
        return their ids so the caller re-enqueues them. Faster than waiting for Redis's
        visibility timeout to hand the unacknowledged message out again."""
        released = []
        for job_id in self.redis.smembers(self.key("running", "jobs")):
            owner = self.redis.hget(self.key("job", job_id), "worker")
            if owner is None:
                self.redis.srem(self.key("running", "jobs"), job_id)
                continue
            if self.redis.exists(self.key("worker", owner)):
                continue
            if self._release_orphan(
                keys=[
                    self.key("job", job_id),
                    self.key("running", "jobs"),
                    self.key("worker", owner),
                ],
                args=[job_id, owner],
            ):
                released.append(job_id)
        return released

    def heartbeat(self, worker_id: str, state: dict[str, Any], ttl_s: int) -> None:
        """Announce a live worker process and its models' states; expires unless renewed."""
        self.redis.set(self.key("worker", worker_id), json.dumps(state), ex=ttl_s)

    def workers(self) -> list[dict[str, Any]]:
        """States of the worker processes whose heartbeat has not expired."""
        keys = list(self.redis.scan_iter(match=self.key("worker", "*"), count=200))
        if not keys:
            return []
        return [json.loads(v) for v in self.redis.mget(keys) if v is not None]


def public_body(raw: dict[str, str]) -> dict[str, Any]:
    """Turn a Redis hash into the contract's job body."""
    result = json.loads(raw["result"]) if raw.get("result") else {}
    return {
        "id": raw["id"],
        "status": raw["status"],
        "summary": result.get("summary"),
        "bullets": result.get("bullets"),
        "sentences": result.get("sentences"),
        "checks": result.get("checks"),
        "model": json.loads(raw["model"]),
        "options": json.loads(raw.get("options") or "{}"),
        "cached": raw.get("cached") == "1",
        "created_at": raw["created_at"],
        "completed_at": raw.get("completed_at") or None,
        "input": result.get("input") or json.loads(raw.get("input") or "null"),
        "output": {"tokens": result["generated_tokens"]} if "generated_tokens" in result else None,
        "error": json.loads(raw["error"]) if raw.get("error") else None,
    }
