"""A repeated cache-hit POST answered with the response this process gave last time.

The same body, sent as JSON by the same key, is the same request: it validates the same
way and has the same cache key, so neither is computed again, and the response body is
reused while the store's HotHits still hands out the same job for it. Only for plain hits:
a body with a callback_url or an Idempotency-Key always takes the full path."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from flask import Response, request

from nutgraf.store import JobStore

# Bodies remembered per process, each with its answer (a few kB).
MAX_REMEMBERED: Final = 1024


@dataclass(frozen=True)
class _Answer:
    cache_key: str
    job_id: str
    payload: bytes


class RepeatedHits:
    """The last plain cache-hit answers of this process, by (body digest, owner)."""

    def __init__(self) -> None:
        self._answers: OrderedDict[tuple[bytes, str], _Answer] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def fingerprint(owner: str) -> tuple[bytes, str] | None:
        """The request's key here, or None when it may not be answered this way."""
        if not request.is_json or "Idempotency-Key" in request.headers:
            return None
        # Cached: read_json_object reads the same bytes again.
        return hashlib.sha256(request.get_data(cache=True)).digest(), owner

    def answer(
        self, store: JobStore, fingerprint: tuple[bytes, str]
    ) -> tuple[Response, str] | None:
        """The remembered answer and its job id, when the store still hands out that job
        for this article and key; else None."""
        with self._lock:
            known = self._answers.get(fingerprint)
            if known is not None:
                self._answers.move_to_end(fingerprint)
        if known is None:
            return None
        hot = store.jobs.hot_hits.get(known.cache_key, fingerprint[1])
        if hot is None or hot.job_id != known.job_id:
            return None
        return Response(known.payload, 200, mimetype="application/json"), known.job_id

    def remember(
        self, fingerprint: tuple[bytes, str], cache_key: str, job_id: str, response: Response
    ) -> None:
        """Keep a plain hit's answer for the next identical request."""
        answer = _Answer(cache_key, job_id, response.get_data())
        with self._lock:
            self._answers[fingerprint] = answer
            self._answers.move_to_end(fingerprint)
            while len(self._answers) > MAX_REMEMBERED:
                self._answers.popitem(last=False)
