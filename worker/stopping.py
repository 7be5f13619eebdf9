"""Which jobs of a running micro-batch were cancelled: asked between decoding steps."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from nutgraf.store import JobStore

log = logging.getLogger(__name__)

# How often a running batch reads its jobs' statuses: a cancel stops its generation within
# about this (plus one decoding step), for one small round trip per interval.
CHECK_EVERY_S = 0.5


class CancelWatch:
    """The cancelled jobs among a batch's, read from Redis at most every CHECK_EVERY_S."""

    def __init__(self, store: JobStore, job_ids: list[str]) -> None:
        self.store = store
        self.job_ids = list(job_ids)
        self.cancelled: set[str] = set()
        self._read_at = float("-inf")

    def stop_for(self, job_id: str) -> Callable[[], bool]:
        """The stop check of one job's generation (nutgraf.summarize.Article.stop)."""
        return lambda: self.is_cancelled(job_id)

    def is_cancelled(self, job_id: str) -> bool:
        """Whether the job was cancelled (by a client, or a newer revision) since it started."""
        now = time.monotonic()
        if now - self._read_at >= CHECK_EVERY_S:
            self._read_at = now
            self._read()
        return job_id in self.cancelled

    def _read(self) -> None:
        try:
            with self.store.redis.pipeline(transaction=False) as pipe:
                for job_id in self.job_ids:
                    pipe.hget(self.store.keys.job(job_id), "status")
                statuses = pipe.execute()
        except Exception as exc:  # Redis away: go on; the next check reads again
            log.warning("could not read the batch's statuses: %s", exc)
            return
        for job_id, status in zip(self.job_ids, statuses, strict=True):
            if status == "cancelled" and job_id not in self.cancelled:
                log.info("job %s: cancelled while it runs; its generation stops", job_id)
                self.cancelled.add(job_id)
