"""Micro-batches (worker/batching.py) without a broker: a batch of at most flush_every per
free pool process, the next one kept in the buffer while every process is busy, and all
that the buffer holds handed back when the worker stops."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from celery import Celery

from worker.batching import AckLateBatches


@dataclass
class Message:
    """What a buffered request's broker message needs here: its payload, and a reject."""

    job_id: str
    rejected: list[bool] = field(default_factory=list)

    @property
    def payload(self) -> Any:
        return [[self.job_id], {}, {}]  # protocol 2: args, kwargs, embed

    def reject(self, requeue: bool = False) -> None:
        self.rejected.append(requeue)


@dataclass
class Request:
    """A buffered Celery request, as far as batching reads it."""

    message: Message
    acknowledged: bool = False


@dataclass
class Pool:
    """The worker's pool, as far as batching reads it."""

    num_processes: int


@pytest.fixture()
def task(monkeypatch: pytest.MonkeyPatch) -> AckLateBatches:
    """The batch task with a pool of two processes; `flushed` records each batch started."""
    app = Celery("test", set_as_current=False)

    @app.task(name="t", base=AckLateBatches, flush_every=3, flush_interval=1, shared=False)
    def summarize(requests: list[Any]) -> None: ...

    instance = app.tasks["t"]
    assert isinstance(instance, AckLateBatches)
    instance._pool = Pool(num_processes=2)
    instance.flushed = []  # type: ignore[attr-defined]

    def flush(requests: list[Request]) -> None:
        instance._in_flight += 1
        instance.flushed.append([r.message.job_id for r in requests])  # type: ignore[attr-defined]

    monkeypatch.setattr(instance, "flush", flush)
    return instance


def receive(task: AckLateBatches, *job_ids: str) -> list[Request]:
    requests = [Request(Message(job_id)) for job_id in job_ids]
    for request in requests:
        task._buffer.put(request)  # type: ignore[arg-type]
    return requests


def test_a_batch_per_free_process_and_the_next_kept_until_one_frees(task: Any) -> None:
    receive(task, *"abcdefgh")
    task._do_flush()
    # Two processes: two batches of at most 3; the rest waits here, not in the pool.
    assert task.flushed == [["a", "b", "c"], ["d", "e", "f"]]
    assert task._buffer.qsize() == 2
    task._do_flush()  # the timer, while both are busy
    assert len(task.flushed) == 2
    task._in_flight -= 1  # a batch ended
    task._flush_next()
    assert task.flushed[-1] == ["g", "h"]


def test_a_stopping_worker_hands_back_what_it_has_not_started(task: Any) -> None:
    task._in_flight = 1  # one process runs a batch already
    receive(task, *"abcd")
    task._do_flush()
    held = receive(task, "e", "f")
    noted: list[list[str]] = []
    task.on_handed_back = noted.append
    assert task.hand_back() == 3  # d, left over from the first flush, and e, f
    assert noted == [["d", "e", "f"]]
    assert all(r.message.rejected == [True] and r.acknowledged for r in held)
    assert task._buffer.empty()
    task._in_flight = 0
    receive(task, "g")
    task._do_flush()
    assert task.flushed == [["a", "b", "c"]], "nothing starts once the worker stops"
