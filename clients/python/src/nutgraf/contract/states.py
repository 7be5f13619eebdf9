"""The states a job, a batch and a callback move through, named once."""

from __future__ import annotations

from typing import Final, Literal, get_args

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
BatchStatus = Literal["queued", "running", "succeeded", "partially_succeeded", "failed"]
# waiting: the job or batch has not ended; pending: due or being retried.
CallbackState = Literal["waiting", "pending", "delivered", "failed"]

# interactive: someone waits for this one; bulk: a backfill. Each is its own broker queue,
# and interactive work starts before any queued bulk work.
Lane = Literal["interactive", "bulk"]
LANES: Final = get_args(Lane)

JOB_STATUSES: Final = get_args(JobStatus)
# A job in one of these has ended, exactly once, and never changes again.
TERMINAL: Final = ("succeeded", "failed", "cancelled")
BATCH_TERMINAL: Final = ("succeeded", "partially_succeeded", "failed")
