"""What a submit answers: the job it created, joined or answered from the cache."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from nutgraf.store.bodies import public_body


@dataclass(frozen=True)
class Submission:
    """Outcome of a submit: `created` (enqueue it), `existing` (in flight), `cached`, or
    `overloaded` (refused: the queue is full)."""

    outcome: Literal["created", "existing", "cached", "overloaded"]
    job_id: str
    cache_key: str
    record: dict[str, str]  # the job's record as written (created, cached); else empty
    queue: dict[str, Any] | None = None  # a created job's place in its lane

    def body(self) -> dict[str, Any] | None:
        """The job's public body as this submit left it, if known without a read."""
        if self._body is None:
            return None
        return {**self._body, "queue": self.queue} if self.queue else dict(self._body)

    @functools.cached_property
    def _body(self) -> dict[str, Any] | None:
        # Built once: a hit answered from memory (HotHits) hands out the same submission.
        return public_body(self.record) if self.record else None
