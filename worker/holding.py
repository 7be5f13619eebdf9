"""The consumer's side of the reconciler: this worker notes each job whose message it has
prefetched, and beats while it lives; if it dies holding them, the sweep sends them again
within a heartbeat instead of after the broker's visibility timeout."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

from celery import Celery

from nutgraf.settings import Settings
from nutgraf.store import JobStore
from worker.app import SUMMARIZE_TASK

log = logging.getLogger(__name__)

CONSUMER_BEAT_S = 5
CONSUMER_TTL_S = 15


def hold_received_jobs(app: Celery, settings: Settings) -> str:
    """Make the summarize task note each job it receives, and start this consumer's
    heartbeat; returns the consumer's id."""
    consumer_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    # Not patient: a note that cannot be written is skipped, never waited for.
    store = JobStore.from_settings(settings)

    def beat() -> None:
        while True:  # a daemon thread: it ends with its process
            try:
                store.reconciler.consumer_beat(consumer_id, CONSUMER_TTL_S)
            except Exception as exc:  # Redis away: the next beat tries again.
                log.warning("consumer heartbeat failed: %s", exc)
            time.sleep(CONSUMER_BEAT_S)

    threading.Thread(target=beat, name="nutgraf-consumer-beat", daemon=True).start()
    task = app.tasks[SUMMARIZE_TASK]
    task.on_received = lambda job_id: store.reconciler.hold(job_id, consumer_id)
    # Given back unstarted at a shutdown: held by nobody, or the sweep would count them
    # abandoned once this consumer's heartbeat expires, and send them a second time.
    task.on_handed_back = lambda job_ids: store.reconciler.unhold(job_ids, consumer_id)
    return consumer_id
