"""Run the API under gunicorn, the production WSGI server."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from nutgraf.settings import Settings


class _GunicornApp(BaseApplication):
    """gunicorn with the Flask app built in each worker process (no Redis client forks)."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from service import create_app

        return create_app(self.settings)


def run(settings: Settings) -> None:
    """Serve the API on settings.host:settings.port until stopped."""
    options = {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.api_workers,
        # Threads: requests spend their time waiting on Redis, not on the CPU.
        "worker_class": "gthread",
        "threads": 8,
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
    }
    _GunicornApp(settings, options).run()
