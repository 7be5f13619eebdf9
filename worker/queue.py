"""The one way a job reaches the workers, for the API and for the worker's own requeue.

Imports no task and no model stack: the API process sends with it and stays light.
"""

from __future__ import annotations

import logging

from celery import Celery
from kombu.exceptions import ChannelError

from nutgraf.contract import Lane
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from worker.app import QUEUES, SUMMARIZE_TASK, create_celery

log = logging.getLogger(__name__)


def create_producer(settings: Settings) -> Celery:
    """A Celery app that only sends; build one per process and keep it (it pools connections)."""
    return create_celery(settings)


def enqueue(producer: Celery, job_id: str, lane: Lane = "interactive") -> None:
    """Put one summary job on its lane's queue (raises on broker failure)."""
    # The message carries the id only: the article waits in the job record in Redis.
    producer.send_task(SUMMARIZE_TASK, args=[job_id], queue=QUEUES[lane])


def bulk_target(store: JobStore, settings: Settings) -> int:
    """How many bulk jobs may wait in the broker: a next micro-batch for every process that
    serves the bulk lane, and the one after it (its prefetch), so none ever waits for work."""
    return 2 * settings.batch_size * max(1, store.lanes.processes("bulk"))


def dispatch_bulk(producer: Celery, store: JobStore, settings: Settings) -> int:
    """Send the bulk jobs whose turn has come, up to `bulk_target`; how many were sent.
    A send that fails leaves its job queued, and the reconciler sends it again."""
    sent = 0
    for job_id in store.lanes.dispatch_bulk(bulk_target(store, settings)):
        try:
            enqueue(producer, job_id, "bulk")
            sent += 1
        except Exception as exc:
            log.warning("bulk job %s: send failed (%s); the reconciler sends it again", job_id, exc)
    return sent


def ready_messages(producer: Celery) -> int:
    """Messages waiting in the lanes' queues for a worker (not those a worker prefetched)."""
    with producer.connection_for_read() as connection:
        # Bounded: a broker that is down must not hold the caller (/readyz, or the heartbeat
        # thread's sweep) in kombu's default retry-forever.
        connection.ensure_connection(max_retries=1)
        ready = 0
        for name in QUEUES.values():
            # A channel each: RabbitMQ closes the channel of a failed passive declare.
            with connection.channel() as channel:
                try:
                    declared = channel.queue_declare(name, passive=True)
                except ChannelError:  # no worker has declared it yet: nothing waits in it
                    continue
                ready += int(declared.message_count)
        return ready
