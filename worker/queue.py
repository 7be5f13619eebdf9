"""The one way a job reaches the workers, for the API and for the worker's own requeue.

Imports no task and no model stack: the API process sends with it and stays light.
"""

from __future__ import annotations

from celery import Celery
from kombu.exceptions import ChannelError

from nutgraf.settings import Settings
from worker.app import QUEUE, SUMMARIZE_TASK, create_celery


def create_producer(settings: Settings) -> Celery:
    """A Celery app that only sends; build one per process and keep it (it pools connections)."""
    return create_celery(settings)


def enqueue(producer: Celery, job_id: str) -> None:
    """Put one summary job on the queue (raises on broker failure)."""
    # The message carries the id only: the article waits in the job record in Redis.
    producer.send_task(SUMMARIZE_TASK, args=[job_id])


def ready_messages(producer: Celery) -> int:
    """Messages waiting in the queue for a worker (not those a worker has prefetched)."""
    with producer.connection_for_read() as connection:
        # Bounded: a broker that is down must not hold the caller (/readyz, or the heartbeat
        # thread's sweep) in kombu's default retry-forever.
        connection.ensure_connection(max_retries=1)
        try:
            declared = connection.default_channel.queue_declare(QUEUE, passive=True)
        except ChannelError:  # no worker has declared the queue yet: nothing waits in it
            return 0
        return int(declared.message_count)
