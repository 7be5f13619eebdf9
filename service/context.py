"""What create_app() puts on the app, read back by the views of the request being served."""

from __future__ import annotations

from celery import Celery
from flask import current_app

from nutgraf.settings import Settings
from nutgraf.store import JobStore

SETTINGS = "nutgraf.settings"
STORE = "nutgraf.store"
PRODUCER = "nutgraf.producer"


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
