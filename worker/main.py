"""The command that starts a worker (`python -m worker`, which `nutgraf worker` runs): pick
the pool, register the tasks, wire process start-up, run Celery."""

from __future__ import annotations

import logging
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

from celery import Celery, signals
from celery.exceptions import SecurityWarning

from nutgraf.settings import Settings
from worker import runtime, tasks
from worker.app import QUEUES, create_celery
from worker.holding import hold_received_jobs

log = logging.getLogger(__name__)


def choose_pool(settings: Settings) -> str:
    """prefork on CPU (a crashed job kills only a child); solo/threads on CUDA, where a
    forked child cannot use the parent's CUDA context."""
    if settings.worker_pool != "auto":
        return settings.worker_pool
    if settings.device.startswith("cuda"):
        return "threads" if settings.worker_concurrency > 1 else "solo"
    if settings.device == "auto" and _nvidia_driver_present():
        return "threads" if settings.worker_concurrency > 1 else "solo"
    return "prefork"


def _nvidia_driver_present() -> bool:
    # Not torch.cuda.is_available(): importing torch in the Celery parent costs memory
    # that every forked pool process would then also carry.
    return Path("/dev/nvidiactl").exists() or shutil.which("nvidia-smi") is not None


def _leave_logging_to_nutgraf(**_: Any) -> None:
    """Connected to setup_logging: Celery then configures no logger of its own (its task
    and pool loggers would write their own format to stderr); nutgraf.logs did it all."""
    from billiard.util import get_logger as pool_logger

    # The pool's logger does not propagate: through the root's handler it is in our format.
    pool = pool_logger()
    pool.propagate = True
    pool.setLevel(logging.ERROR)  # as Celery sets it: pool start-up chatter is SUBDEBUG


def _say_shutdown(how: str = "", sig: str = "", **_: Any) -> None:
    """Celery's own "worker: Warm shutdown" notice is skipped (it writes to stdout's file
    descriptor, and our stdout has none): say it in the log instead."""
    # print, not log: this runs in a signal handler, and the print is lock-free (logs.py).
    print(f"worker: {how.lower()} shutdown on {sig}")


def _say_root_once() -> None:
    """Under root, one line in our log instead of Celery's multi-line banner."""
    # Celery warns (celery.platforms.check_privileges) on every start as root, in its own
    # format, around our JSON lines; C_FORCE_ROOT would not silence it. The worker only
    # takes JSON messages (worker.app), so root is discouraged, not refused.
    warnings.filterwarnings(
        "ignore", message="You're running the worker with superuser", category=SecurityWarning
    )
    if os.geteuid() == 0:
        log.warning("the worker runs as root; run it as an unprivileged user where you can")


def warn_if_consumer_timeout_ignored(app: Celery, settings: Settings) -> None:
    """Log one loud warning when RabbitMQ is older than 3.12 (it ignores x-consumer-timeout)."""
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1)
            version = str(connection.connection.server_properties.get("version", ""))
    except Exception as exc:  # the worker reconnects by itself; this is only advice
        log.warning("could not read the RabbitMQ version: %s", exc)
        return
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    if numbers and numbers < (3, 12):
        log.warning(
            "RABBITMQ %s IGNORES x-consumer-timeout: a job held longer than its "
            "consumer_timeout (30 min by default) loses its channel and runs again; set "
            "consumer_timeout = %d in rabbitmq.conf, or use RabbitMQ 3.12 or later",
            version,
            settings.consumer_timeout * 1000,
        )


def run(settings: Settings) -> None:
    """Run a Celery worker in this process until it is told to stop."""
    signals.setup_logging.connect(_leave_logging_to_nutgraf, weak=False)
    signals.worker_shutting_down.connect(_say_shutdown, weak=False)
    _say_root_once()
    if settings.worker_nice:
        # Before the pool forks: its processes inherit it.
        os.nice(settings.worker_nice - os.nice(0))
    pool = choose_pool(settings)
    app = create_celery(settings)
    tasks.register(app, settings)
    hold_received_jobs(app, settings)
    processes = settings.worker_concurrency if pool == "prefork" else 1
    if settings.broker_is_amqp:

        @signals.worker_ready.connect(weak=False)
        def _check_broker(**_: Any) -> None:
            warn_if_consumer_timeout_ignored(app, settings)

    if pool == "prefork":

        @signals.worker_process_init.connect(weak=False)
        def _child_start(**_: Any) -> None:
            runtime.init(settings, processes)

    else:

        @signals.worker_ready.connect(weak=False)
        def _ready(**_: Any) -> None:
            runtime.init(settings, processes)

    log.info(
        "worker: lanes=%s pool=%s concurrency=%d nice=%d model=%s%s device=%s",
        ",".join(settings.worker_lanes),
        pool,
        settings.worker_concurrency,
        os.nice(0),
        settings.model,
        f" (NUTGRAF_MODEL=auto: {settings.model_auto})" if settings.model_auto else "",
        settings.device,
    )
    app.worker_main(
        [
            # No banner: Celery prints it to stdout; the line above says what matters.
            "--quiet",
            "worker",
            f"--pool={pool}",
            f"--concurrency={settings.worker_concurrency}",
            f"--queues={','.join(QUEUES[lane] for lane in settings.worker_lanes)}",
            f"--loglevel={settings.log_level}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
