"""The states a job, a batch and a callback move through, named once."""

from __future__ import annotations

from typing import Final, Literal, get_args

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
BatchStatus = Literal["queued", "running", "succeeded", "partially_succeeded", "failed"]
# waiting: the job or batch has not ended; pending: due or being retried.
CallbackState = Literal["waiting", "pending", "delivered", "failed"]

JOB_STATUSES: Final = get_args(JobStatus)
# A job in one of these has ended, exactly once, and never changes again.
TERMINAL: Final = ("succeeded", "failed", "cancelled")
BATCH_TERMINAL: Final = ("succeeded", "partially_succeeded", "failed")
