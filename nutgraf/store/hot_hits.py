"""Repeated cache hits answered from the API process's memory, without a Redis round trip.

A hit's job record is written once (submit_cached.lua); for the next HOT_HIT_S seconds the
same process answers the same article from the same API key with that same job, from
memory. Under load the one round trip per hit was most of a hit's cost (docs/benchmarks.md).
While hits are answered this way, at most once every CHECK_EVERY_S seconds a request adds
the process's uncounted hits to the cache-hit counter and confirms that the jobs it hands
out still exist (Redis emptied or replaced: they are forgotten and written anew)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from redis.exceptions import RedisError

from nutgraf.store.keys import Keys
from nutgraf.store.submission import Submission

# One job per article and key for this long: one record written a minute, not one per hit.
HOT_HIT_S: Final = 60.0
# Seconds between the hit counter's updates and the checks that the jobs still exist.
CHECK_EVERY_S: Final = 1.0
# Articles kept per process: a result is a few kB, so this is a few MB at most.
MAX_ENTRIES: Final = 1024


@dataclass(frozen=True)
class _Hot:
    submission: Submission
    until: float  # time.monotonic() after which the entry is not used


class HotHits:
    """A process's recent cache hits, by (cache key, owner); safe across threads."""

    def __init__(self, client: Any, keys: Keys, job_ttl_s: int) -> None:
        self.redis = client
        self.keys = keys
        # A job handed out must stay readable long after: never reused past half its TTL.
        self.lifetime_s = min(HOT_HIT_S, job_ttl_s / 2)
        self._entries: OrderedDict[tuple[str, str], _Hot] = OrderedDict()
        self._lock = threading.Lock()
        self._uncounted = 0
        self._next_check = 0.0

    def get(self, digest: str, owner: str) -> Submission | None:
        """The hit answered for this article and owner within HOT_HIT_S, or None."""
        now = time.monotonic()
        with self._lock:
            hot = self._entries.get((digest, owner))
            if hot is None:
                return None
            if hot.until <= now:
                del self._entries[(digest, owner)]
                return None
            self._entries.move_to_end((digest, owner))
            self._uncounted += 1
            due = now >= self._next_check
            if due:
                self._next_check = now + CHECK_EVERY_S
        if due:
            self.check()
        return hot.submission

    def put(self, submission: Submission, owner: str) -> None:
        """Remember a hit just written to Redis (the least recently used entry makes room)."""
        now = time.monotonic()
        with self._lock:
            self._entries[(submission.cache_key, owner)] = _Hot(submission, now + self.lifetime_s)
            self._entries.move_to_end((submission.cache_key, owner))
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
            if not self._next_check:
                self._next_check = now + CHECK_EVERY_S

    def check(self) -> None:
        """Add the uncounted hits to Redis's counter and forget entries whose job is gone.
        With Redis out of reach, the count waits for the next check and entries stay."""
        with self._lock:
            uncounted, self._uncounted = self._uncounted, 0
            entries = list(self._entries.items())
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                if uncounted:
                    pipe.hincrby(self.keys.stats_cache, "hits", uncounted)
                for _, hot in entries:
                    pipe.exists(self.keys.job(hot.submission.job_id))
                answers = pipe.execute()
        except RedisError:
            with self._lock:
                self._uncounted += uncounted
            return
        exists = answers[1:] if uncounted else answers
        with self._lock:
            for (key, hot), found in zip(entries, exists, strict=True):
                if not found and self._entries.get(key) is hot:
                    del self._entries[key]

    def clear(self) -> None:
        """Forget every entry (counted hits are kept)."""
        with self._lock:
            self._entries.clear()
