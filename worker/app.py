"""The one place the Celery app is built and configured."""

from __future__ import annotations

from celery import Celery

from nutgraf.settings import Settings

QUEUE = "nutgraf"
SUMMARIZE_TASK = "nutgraf.summarize"


def create_celery(settings: Settings) -> Celery:
    """A Celery app for these settings, without tasks (worker.main registers them)."""
    # Producers (the API, the orphan requeue) send by task name and never import the tasks.
    if not settings.redis_url:
        raise ValueError("NUTGRAF_REDIS_URL is required to talk to the queue")
    app = Celery("nutgraf", broker=settings.redis_url, set_as_current=False)
    transport = {
        # Above the longest job, or Redis hands a running job to a second worker.
        "visibility_timeout": settings.visibility_timeout,
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
        "retry_on_timeout": True,
    }
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
        # Room for two batches per pool process: one running, the next one filling.
        worker_prefetch_multiplier=2 * settings.batch_size,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        task_default_queue=QUEUE,
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
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        enable_utc=True,
    )
    return app
