"""Enqueueing jobs: the API's only contact with Celery."""

from __future__ import annotations

from nutgraf.settings import Settings
from worker.app import SUMMARIZE_TASK, create_celery


class Queue:
    """Sends job ids to the workers; never imports the tasks or the model stack."""

    def __init__(self, settings: Settings) -> None:
        self.celery = create_celery(settings, with_tasks=False)

    def enqueue(self, job_id: str) -> None:
        """Put one summary job on the queue (raises on broker failure)."""
        self.celery.send_task(SUMMARIZE_TASK, args=[job_id])
