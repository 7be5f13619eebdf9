"""The one enqueue: the job id, by task name, from an app that holds no tasks."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from nutgraf.settings import Settings
from worker.app import SUMMARIZE_TASK
from worker.queue import create_producer, enqueue


class Recorder:
    """Stands in for a Celery app: remembers what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def send_task(self, name: str, args: Any = None) -> None:
        self.sent.append((name, args))


def test_enqueue_sends_the_id_only_by_task_name() -> None:
    producer = Recorder()
    enqueue(producer, "job-1")  # enqueue needs only send_task
    assert producer.sent == [(SUMMARIZE_TASK, ["job-1"])]


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
