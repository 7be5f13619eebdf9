"""Run the API under gunicorn, the production WSGI server."""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
from multiprocessing.sharedctypes import RawValue
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger

from nutgraf.settings import Settings

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class _DrainingArbiter(Arbiter):
    """gunicorn's master, with a drain before a SIGTERM's graceful stop: gunicorn stops
    listening at once, so a load balancer that has not yet seen the pod go would send
    clients to a closed port. Meanwhile /readyz answers 503 (the flag, shared with the
    worker processes) and everything else is served; then the usual graceful stop."""

    def __init__(self, app: _GunicornApp) -> None:
        super().__init__(app)
        self.draining = app.draining
        self.drain_s = app.settings.drain_s
        self.stop_at: float | None = None

    def handle_term(self) -> None:
        """SIGTERM: drain first; a second SIGTERM stops at once (gracefully)."""
        if self.stop_at is not None or not self.drain_s:
            self.draining.value = True
            raise StopIteration
        self.draining.value = True
        self.stop_at = time.monotonic() + self.drain_s
        self.log.info("draining for %g s: /readyz answers 503, requests are served", self.drain_s)

    def manage_workers(self) -> None:
        """Called every pass of the master's loop (about once a second): end the drain."""
        if self.stop_at is not None and time.monotonic() >= self.stop_at:
            raise StopIteration
        super().manage_workers()


class _GunicornApp(BaseApplication):
    """gunicorn with the Flask app built in each worker process (no Redis client forks)."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        # Shared memory made before the fork: the master sets it, every worker reads it.
        self.draining = RawValue(ctypes.c_bool, False)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from service import context, create_app

        app = create_app(self.settings)
        app.extensions[context.DRAINING] = self.draining
        return app

    def run(self) -> None:
        """BaseApplication.run, with the master that drains on SIGTERM."""
        try:
            _DrainingArbiter(self).run()
        except RuntimeError as exc:
            print(f"\nError: {exc}\n", file=sys.stderr)
            sys.stderr.flush()
            sys.exit(1)


class _RootLogger(Logger):
    """gunicorn's own lines (boot, worker exits, errors) through nutgraf's log handlers,
    so they come out in the same format (JSON by default) as everything else."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in list(self.error_log.handlers):
            self.error_log.removeHandler(handler)
        self.error_log.propagate = True


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """How the API is served (bench/throughput.py serves a bare app the same way)."""
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.api_workers,
        # Threads: requests spend their time waiting on Redis, not on the CPU, and a
        # `Prefer: wait` request holds its thread while it waits.
        "worker_class": "gthread",
        "threads": 8,
        # Each process listens on a socket of its own and Linux spreads new connections
        # over them. On one shared socket the first process awake takes them: 50 keep-alive
        # clients split 2/55, and one core served them all at half the rate
        # (docs/benchmarks.md). Elsewhere SO_REUSEPORT does not balance, so it is not used.
        "reuse_port": sys.platform == "linux",
        "timeout": 60,
        "graceful_timeout": 10,
        # No access log: service/metrics.py logs one structured line per request.
        "accesslog": None,
        "logger_class": _RootLogger,
        # No control socket (gunicorn 25.1+, for `gunicornc`): nutgraf does not use it, its
        # default is ~/.gunicorn/gunicorn.ctl, outside nutgraf's folders, and two APIs on
        # one host would share the one path.
        "control_socket_disable": True,
        "loglevel": settings.log_level.lower(),
    }


def _refuse_a_taken_port(host: str, port: int) -> None:
    """Exit when something listens on host:port already. With SO_REUSEPORT a second API
    started on the same port by the same user would bind too and silently take half the
    connections; a plain socket's bind is refused, as gunicorn's own would be."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
        try:
            probe.bind(address)
        except OSError as exc:
            raise SystemExit(f"cannot serve the API on {host}:{port}: {exc.strerror}") from None


def run(settings: Settings) -> None:
    """Serve the API on settings.host:settings.port until stopped."""
    # Each gunicorn process keeps its metrics in files here and /metrics sums them all.
    # Set before any process imports prometheus_client (it reads this at import), and
    # fresh per run: files left by an earlier run would be counted again.
    if "prometheus_client" in sys.modules:
        log.error("prometheus_client was imported too early; /metrics shows one process")
    options = gunicorn_options(settings)
    if options["reuse_port"]:
        _refuse_a_taken_port(settings.host, settings.port)
    metrics_dir = tempfile.mkdtemp(prefix="nutgraf-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir
    master = os.getpid()
    try:
        _GunicornApp(settings, options).run()
    finally:
        # Workers are forked from this frame and leave through it too: only the master,
        # at the very end, may remove the files the others still write.
        if os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)
