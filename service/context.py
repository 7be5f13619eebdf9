"""What create_app() puts on the app, read back by the views; the process's wait slots."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery
from flask import current_app

from nutgraf.settings import Settings
from nutgraf.store import JobStore
from service.repeats import RepeatedHits

SETTINGS = "nutgraf.settings"
STORE = "nutgraf.store"
PRODUCER = "nutgraf.producer"
REPEATS = "nutgraf.repeats"
# Set by the server (service/server.py) when the process is told to stop: /readyz says 503.
DRAINING = "nutgraf.draining"
# `Prefer: wait` and POST /hf/models/<name> hold an API thread for up to MAX_WAIT_S.
# gunicorn serves each process with 8 threads (service/server.py); waits may take half, so
# that /healthz, reads and new submissions always find a thread. Counted per process, like
# the threads.
WAIT_SLOTS = 4
_wait_slots = threading.BoundedSemaphore(WAIT_SLOTS)


def settings() -> Settings:
    """The settings the app was built with."""
    value: Settings = current_app.extensions[SETTINGS]
    return value


def store() -> JobStore:
    """The app's job store (one Redis connection pool per process)."""
    value: JobStore = current_app.extensions[STORE]
    return value


def producer() -> Celery:
    """The Celery app that sends jobs to the workers."""
    value: Celery = current_app.extensions[PRODUCER]
    return value


def draining() -> bool:
    """Whether this API was told to stop and is draining (a flag the server may set)."""
    flag = current_app.extensions.get(DRAINING)
    return bool(flag is not None and flag.value)


def repeats() -> RepeatedHits:
    """The process's last plain cache-hit answers (service.repeats)."""
    value: RepeatedHits = current_app.extensions[REPEATS]
    return value


@contextmanager
def wait_slot() -> Iterator[bool]:
    """Hold one of the process's wait slots, if one is free: yields whether it got one."""
    # Never blocks: a request that finds every slot taken answers as if it had not asked.
    acquired = _wait_slots.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            _wait_slots.release()
