"""The one place the Celery app is built and configured."""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from nutgraf.contract import Lane
from nutgraf.settings import Settings

# One broker queue per lane (nutgraf.store.lanes), never message priorities: a prefetched
# message is out of the broker's hands, and micro-batching needs prefetch.
QUEUES: dict[Lane, str] = {"interactive": "nutgraf.interactive", "bulk": "nutgraf.bulk"}
SUMMARIZE_TASK = "nutgraf.summarize"

# RabbitMQ lane queues are quorum queues: replicated on a cluster's nodes (Raft), so a node
# lost takes no queue and no accepted message with it; a classic queue lives on one node.
# Fixed, not settings: every declarer must agree, or RabbitMQ refuses the redeclaration
# (PRECONDITION_FAILED), and a queue keeps its arguments for life (docs/deploying.md).
QUORUM_ARGUMENTS: dict[str, Any] = {
    "x-queue-type": "quorum",
    # The poison-message guard: a message delivered this often without an ack (the worker
    # that took it died each time, before the job record counted a start) is dropped rather
    # than kill workers forever. Above what the job record reaches first: it fails a job
    # after NUTGRAF_MAX_JOB_ATTEMPTS starts, and a prefetched message also comes back each
    # time its worker dies. A job still queued when its message is dropped is sent again by
    # the sweep (NUTGRAF_REQUEUE_AFTER_S). 20 is RabbitMQ 4's own default.
    "x-delivery-limit": 20,
}


def create_celery(settings: Settings) -> Celery:
    """A Celery app for these settings, without tasks (worker.main registers them)."""
    # Producers (the API, the orphan requeue) send by task name and never import the tasks.
    if not settings.broker:
        raise ValueError("NUTGRAF_REDIS_URL (or NUTGRAF_BROKER_URL) is required for the queue")
    app = Celery("nutgraf", broker=settings.broker, set_as_current=False)
    if settings.broker_is_amqp:
        transport, queues = _rabbitmq(settings)
    else:
        transport, queues = _redis(settings), [Queue(name) for name in QUEUES.values()]
    app.conf.update(
        # JSON only: a pickle from the broker is code execution.
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        # Clients poll nutgraf's own job records; Celery results would be dead weight.
        task_ignore_result=True,
        result_backend=None,
        # At-least-once: ack after the job, re-queue when the process dies mid-job.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Room for two batches per pool process: one running, the next one filling. On
        # RabbitMQ's quorum queues the prefetch is per consumer (they refuse global QoS, and
        # Celery turns it off when it sees them: worker_detect_quorum_queues), so a worker
        # on both lanes may hold this much of each lane; lanes are meant to have workers of
        # their own (docs/lanes.md). Per consumer, the count is fixed once consuming: Celery
        # cannot lower it at run time (autoscale), which nutgraf never asks of it.
        worker_prefetch_multiplier=2 * settings.batch_size,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        task_default_queue=QUEUES["interactive"],
        # Every process declares the queues alike (RabbitMQ refuses a redeclaration that
        # differs); a worker consumes those of its lanes (worker.main).
        task_queues=queues,
        task_time_limit=settings.task_time_limit_s,
        task_soft_time_limit=max(1, settings.task_time_limit_s - 30),
        worker_max_memory_per_child=settings.worker_max_memory_mb * 1024,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_connection_timeout=2,
        # A running job finishes after a broker blip; its ack goes out on the new connection.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # The API must answer 503 quickly when Redis is down, not retry for minutes.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        # Celery's default, named: with quorum queues it must turn global QoS off.
        worker_detect_quorum_queues=True,
        # Celery's consumer, without the native delayed delivery it adds for quorum queues
        # (28 more quorum queues and their exchanges): nutgraf sends no eta or countdown.
        worker_consumer="worker.consumer:Consumer",
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        enable_utc=True,
    )
    return app


def _redis(settings: Settings) -> dict[str, Any]:
    """Transport options of a Redis broker."""
    options: dict[str, Any] = {
        # Above the longest job, or Redis hands a running job to a second worker.
        "visibility_timeout": settings.visibility_timeout,
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
        "retry_on_timeout": True,
    }
    if settings.redis_sentinels:
        # kombu's sentinel transport (settings.broker: sentinel://h1:p1;sentinel://h2:p2)
        # asks them for this master's primary at each connection, so a worker or the API
        # that reconnects after a failover reaches the new primary.
        options["master_name"] = settings.redis_sentinel_master
        options["sentinel_kwargs"] = {
            "password": settings.redis_sentinel_password,
            "socket_connect_timeout": 2,
            "socket_timeout": 2,
        }
    return options


def _rabbitmq(settings: Settings) -> tuple[dict[str, Any], list[Queue]]:
    """Transport options and the queues of a RabbitMQ broker."""
    transport = {
        # The broker acknowledges each message once it holds it: a 202 means it is queued.
        "confirm_publish": True,
        # Bound each socket read and write (a publish and its confirm included) on a broker
        # that stopped answering: the API answers 503 instead of hanging.
        "read_timeout": 10,
        "write_timeout": 10,
    }
    # RabbitMQ closes a channel whose consumer holds a delivery unacknowledged longer than
    # its consumer timeout (30 min by default), and every job prefetched on it is delivered
    # again, the running batch included. With acks_late a job is acknowledged only after it
    # ran, after waiting behind the running batch, so the worker asks for a longer timeout
    # per consumer (x-consumer-timeout as a consume argument, RabbitMQ 3.12+): it follows
    # this worker's own time limit, where a queue argument stays what the queue was first
    # declared with (and a redeclaration that differs is refused).
    # Older RabbitMQ ignores it; set consumer_timeout in rabbitmq.conf there (docs/deploying.md).
    queues = [
        Queue(
            name,
            durable=True,
            queue_arguments=QUORUM_ARGUMENTS,
            consumer_arguments={"x-consumer-timeout": settings.consumer_timeout * 1000},
        )
        for name in QUEUES.values()
    ]
    return transport, queues
