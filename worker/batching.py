"""Micro-batching: celery-batches, with acks_late kept honest when a pool process dies, and
the next batch kept where a stopping worker can hand it back."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from itertools import count
from typing import Any

from billiard.exceptions import TimeLimitExceeded, WorkerLostError
from celery import Celery
from celery.worker.consumer import Consumer
from celery.worker.request import Request
from celery_batches import Batches, SimpleRequest
from celery_batches.trace import apply_batches_task

log = logging.getLogger(__name__)


class AckLateBatches(Batches):
    """Batches whose messages are acknowledged only after the batch ran, and given back
    to the queue when the pool process running it dies.

    celery-batches acks late messages on success but sets no error callback, so a batch
    whose process was killed would hold its messages unacknowledged for the worker's
    whole life, and with them the prefetch window: the worker would stop taking work.
    Nor does it give back what its buffer holds when the worker stops: those messages
    return only when the connection closes, after the running batch (`hand_back`).
    """

    abstract = True
    #: Hard and soft limits for one batch, in seconds (set where the task is defined).
    batch_time_limit: float | None = None
    batch_soft_time_limit: float | None = None
    #: Told each job id as its message arrives (prefetched), before it waits in the buffer.
    on_received: Callable[[str], None] | None = None
    #: Told the job ids whose messages a shutdown gave back to the broker unstarted.
    on_handed_back: Callable[[list[str]], None] | None = None
    _in_flight = 0
    _stopping = False

    def Strategy(self, task: Any, app: Celery, consumer: Consumer) -> Callable[..., None]:
        """celery-batches' message handler, telling `on_received` which job each holds."""
        buffer_message = super().Strategy(task, app, consumer)
        # Called again on every consumer (re)start. A reconnect clears the event loop's
        # timers, but celery-batches keeps its handle on the old flush timer and only starts
        # a new one when that handle is None: the next job would wait in the buffer for
        # good. Drop the handle, and flush what is already buffered on a fresh timer.
        stale: Any = getattr(self, "_tref", None)
        if stale is not None:
            stale.cancel()
            self._tref = None
        if self._buffer.qsize() or self._pending.qsize():
            self._tref = consumer.timer.call_repeatedly(self.flush_interval, self._do_flush)

        def handle(message: Any, *args: Any, **kwargs: Any) -> None:
            buffer_message(message, *args, **kwargs)
            if self.on_received is not None:
                try:
                    self.on_received(_job_id(message.payload))
                except Exception as exc:  # never lose a message over bookkeeping
                    log.warning("could not note a received job: %s", exc)

        return handle

    def _do_flush(self) -> None:
        # celery-batches flushes whatever the timer finds, all of it as one batch, into the
        # pool's own queue while every pool process is busy. Start a batch of at most
        # flush_every for each free process instead, and keep the rest here, filling, until
        # a process is free (a batch's end flushes at once): a batch queued in the pool
        # would run before a stopping worker could exit, where one here is handed back.
        # nutgraf sends no task with an eta, so nothing waits in celery-batches' _pending.
        if self._stopping:
            return
        processes = max(1, getattr(self._pool, "num_processes", 1) or 1)
        while self._in_flight < processes and not self._buffer.empty():
            batch: list[Request] = []
            while len(batch) < self.flush_every and not self._buffer.empty():
                batch.append(self._buffer.get_nowait())
            self.flush(batch)
        # celery-batches flushes again each time its count reaches flush_every: count what
        # waits, so that a full next batch is flushed as soon as a process frees.
        self._count = count(self._buffer.qsize() + 1)
        if self._buffer.empty() and self._tref is not None:
            self._tref.cancel()  # the next message starts it again
            self._tref = None

    def _flush_next(self) -> None:
        """Start the batch that waited for a free process, if any (after one ended)."""
        if not self._buffer.empty():
            try:
                self._do_flush()
            except Exception as exc:  # the flush timer tries again
                log.warning("could not start the next batch: %s", exc)

    def hand_back(self) -> int:
        """Give every buffered message back to the broker unstarted, and flush no more:
        the worker is stopping, and another worker should run these now rather than after
        this one's batch. Returns how many were handed back."""
        self._stopping = True
        held: list[Request] = []
        for queue in (self._buffer, self._pending):
            while not queue.empty():
                held.append(queue.get_nowait())
        for req in held:
            # On the message itself: a Request's reject is deferred to the event loop,
            # which has stopped; Celery would run it only as it closes, after the batch.
            try:
                req.message.reject(requeue=True)
            except Exception as exc:  # unacknowledged: it goes back as the connection closes
                log.warning("could not hand back a message now: %s", exc)
            req.acknowledged = True
        if held:
            log.info("stopping: %d job(s) not started handed back to the broker", len(held))
            if self.on_handed_back is not None:
                try:
                    self.on_handed_back([_job_id(req.message.payload) for req in held])
                except Exception as exc:  # the sweep sends them again at worst
                    log.warning("could not note the jobs handed back: %s", exc)
        return len(held)

    def flush(self, requests: Collection[Request]) -> Any:
        """Run the buffered requests as one call in the pool; ack or requeue afterwards."""
        requests = list(requests)
        serializable = ([SimpleRequest.from_request(r) for r in requests],)

        def on_return(_result: Any) -> None:
            self._in_flight -= 1
            for req in requests:
                req.acknowledge()
            self._flush_next()

        def on_error(exc_info: Any) -> None:
            self._in_flight -= 1
            exc = getattr(exc_info, "exception", exc_info)
            if isinstance(exc, TimeLimitExceeded):
                # The jobs were marked failed by the soft limit, or run again by the
                # orphan check; a hard limit must not loop forever.
                log.error("batch of %d hit the hard time limit", len(requests))
                for req in requests:
                    req.acknowledge()
                self._flush_next()
                return
            reason = "its pool process died" if isinstance(exc, WorkerLostError) else exc
            log.error("batch of %d lost (%s); queued again", len(requests), reason)
            for req in requests:
                req.reject(requeue=True)
            self._flush_next()

        self._in_flight += 1
        return self._pool.apply_async(
            apply_batches_task,
            (self, serializable, 0, None),
            callback=on_return,
            error_callback=on_error,
            timeout=self.batch_time_limit,
            soft_timeout=self.batch_soft_time_limit,
        )


def _job_id(payload: Any) -> str:
    """The job id a summarize message carries: its one argument (protocol 2 or 1)."""
    args = payload[0] if isinstance(payload, (list, tuple)) else payload["args"]
    return str(args[0])
