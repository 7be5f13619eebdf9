"""The API's answers as the client returns them: the contract's response models, with a
few conveniences (`done`, `ok`, `finished`) and room for fields a newer server adds."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, field_serializer

from nutgraf.contract import responses
from nutgraf.contract.states import BATCH_TERMINAL, TERMINAL


class Job(responses.JobBody):
    """A summary job as GET /v1/summaries/<id> returns it."""

    # Fields a newer server adds must not break this client.
    model_config = ConfigDict(extra="allow")

    @property
    def done(self) -> bool:
        """True once the job ended: succeeded, failed or cancelled."""
        return self.status in TERMINAL

    @property
    def ok(self) -> bool:
        """True when the job succeeded."""
        return self.status == "succeeded"

    @field_serializer("created_at", "completed_at", when_used="json")
    def _rfc3339(self, value: datetime | None) -> str | None:
        # Written back out as the server writes them (milliseconds, Z), not as pydantic would.
        if value is None:
            return None
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BatchItemResult(responses.BatchResultItem, Job):
    """One item of a batch: the job body, with the caller's `id` and the job's `job_id`."""


class BatchCounts(responses.BatchCounts):
    """How many items of a batch are in each state."""

    @property
    def finished(self) -> int:
        """Items that ended, whatever the outcome."""
        return self.succeeded + self.failed + self.cancelled


class BatchStatus(responses.BatchBody):
    """A batch as GET /v1/batches/<id> returns it."""

    model_config = ConfigDict(extra="allow")

    counts: BatchCounts

    @property
    def done(self) -> bool:
        """True once every item ended."""
        return self.status in BATCH_TERMINAL


class BatchResultsPage(responses.BatchResults):
    """One page of GET /v1/batches/<id>/results."""

    model_config = ConfigDict(extra="allow")

    items: list[BatchItemResult]  # type: ignore[assignment]
