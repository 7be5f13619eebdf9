"""The one enqueue: the job id, by task name, from an app that holds no tasks."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from kombu.exceptions import OperationalError

from nutgraf.settings import Settings
from nutgraf.store.server import free_port
from worker.app import SUMMARIZE_TASK
from worker.queue import create_producer, enqueue, ready_messages


class Recorder:
    """Stands in for a Celery app: remembers what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, str]] = []

    def send_task(self, name: str, args: Any = None, queue: str = "") -> None:
        self.sent.append((name, args, queue))


def test_enqueue_sends_the_id_only_by_task_name_to_its_lane_queue() -> None:
    producer = Recorder()
    enqueue(producer, "job-1")  # enqueue needs only send_task
    enqueue(producer, "job-2", "bulk")
    assert producer.sent == [
        (SUMMARIZE_TASK, ["job-1"], "nutgraf.interactive"),
        (SUMMARIZE_TASK, ["job-2"], "nutgraf.bulk"),
    ]


def test_a_producer_holds_no_task_of_ours() -> None:
    producer = create_producer(Settings(redis_url="redis://127.0.0.1:1/0"))
    assert SUMMARIZE_TASK not in producer.tasks
    assert producer.conf.task_serializer == "json" and producer.conf.task_default_queue


def test_the_enqueue_side_loads_no_tasks_and_no_model_stack() -> None:
    code = (
        "import sys, worker.queue; "
        "print(sorted(m for m in sys.modules if m in {'worker.tasks', 'worker.runtime'} "
        "or m.split('.')[0] in {'torch', 'transformers'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_rabbitmq_producer_asks_for_confirms_and_declares_quorum_queues_alike() -> None:
    broker = "amqp://u:p@rabbit:5672/v"
    settings = Settings(redis_url="redis://127.0.0.1:1/0", broker_url=broker, task_time_limit_s=600)
    producer = create_producer(settings)
    assert producer.conf.broker_url == broker
    assert producer.conf.broker_transport_options["confirm_publish"] is True
    assert "visibility_timeout" not in producer.conf.broker_transport_options
    # One queue per lane, never message priorities (prefetch defeats them).
    interactive, bulk = producer.conf.task_queues
    assert (interactive.name, bulk.name) == ("nutgraf.interactive", "nutgraf.bulk")
    assert interactive.name == producer.conf.task_default_queue
    for queue in (interactive, bulk):
        assert queue.durable
        # The visibility timeout (time limit + 300 s) plus a batch waited for: 900 + 600 s.
        assert queue.consumer_arguments == {"x-consumer-timeout": 1_500_000}
        # Quorum, with a delivery limit: the same for every declarer whatever its settings
        # (RabbitMQ refuses a redeclaration that differs).
        assert queue.queue_arguments == {"x-queue-type": "quorum", "x-delivery-limit": 20}
    # Celery turns global QoS off for quorum queues; no native delayed delivery set up.
    assert producer.conf.worker_detect_quorum_queues is True
    assert producer.conf.worker_consumer == "worker.consumer:Consumer"


def test_the_worker_consumer_is_celerys_without_delayed_delivery() -> None:
    from celery.worker.consumer import Consumer as CeleryConsumer

    from worker.consumer import DELAYED_DELIVERY, Consumer

    assert DELAYED_DELIVERY in CeleryConsumer.Blueprint.default_steps
    assert Consumer.Blueprint.default_steps == [
        step for step in CeleryConsumer.Blueprint.default_steps if step != DELAYED_DELIVERY
    ]


def test_a_redis_broker_keeps_its_visibility_timeout() -> None:
    producer = create_producer(Settings(redis_url="redis://127.0.0.1:1/0", task_time_limit_s=600))
    assert producer.conf.broker_url == "redis://127.0.0.1:1/0"
    assert producer.conf.broker_transport_options["visibility_timeout"] == 900


@pytest.mark.timeout(60)
def test_asking_an_unreachable_broker_fails_instead_of_retrying_forever() -> None:
    # The heartbeat thread's sweep and /readyz ask this: neither may hang on a dead broker.
    away = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    producer = create_producer(Settings(redis_url="redis://127.0.0.1:1/0", broker_url=away))
    with pytest.raises(OperationalError):
        ready_messages(producer)


def test_a_redis_broker_behind_sentinels_is_kombus_sentinel_transport() -> None:
    settings = Settings(
        redis_url="redis://:secret@nutgraf/2",
        redis_sentinels="s1:26379,s2:26380",
        redis_sentinel_master="nutgraf",
        redis_sentinel_password="watch",
    )
    producer = create_producer(settings)
    # The primary's password and database from NUTGRAF_REDIS_URL, one URL per Sentinel.
    assert producer.conf.broker_url == (
        "sentinel://:secret@s1:26379/2;sentinel://:secret@s2:26380/2"
    )
    options = producer.conf.broker_transport_options
    assert options["master_name"] == "nutgraf"
    assert options["sentinel_kwargs"]["password"] == "watch"
    assert options["visibility_timeout"] == settings.visibility_timeout
