"""The command that starts a worker (`python -m worker`, which `nutgraf worker` runs): pick
the pool, register the tasks, wire process start-up, run Celery."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from celery import signals

from nutgraf.settings import Settings
from worker import runtime, tasks
from worker.app import QUEUE, create_celery
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
    # Not torch.cuda.is_available(): importing torch in the Celery parent costs about
    # 300 MB that every forked pool process would then also carry.
    return Path("/dev/nvidiactl").exists() or shutil.which("nvidia-smi") is not None


def run(settings: Settings) -> None:
    """Run a Celery worker in this process until it is told to stop."""
    pool = choose_pool(settings)
    app = create_celery(settings)
    tasks.register(app, settings)
    hold_received_jobs(app, settings)
    processes = settings.worker_concurrency if pool == "prefork" else 1

    if pool == "prefork":

        @signals.worker_process_init.connect(weak=False)
        def _child_start(**_: Any) -> None:
            runtime.init(settings, processes)

    else:

        @signals.worker_ready.connect(weak=False)
        def _ready(**_: Any) -> None:
            runtime.init(settings, processes)

    log.info(
        "worker: pool=%s concurrency=%d model=%s%s device=%s",
        pool,
        settings.worker_concurrency,
        settings.model,
        f" (NUTGRAF_MODEL=auto: {settings.model_auto})" if settings.model_auto else "",
        settings.device,
    )
    app.worker_main(
        [
            "worker",
            f"--pool={pool}",
            f"--concurrency={settings.worker_concurrency}",
            f"--queues={QUEUE}",
            f"--loglevel={settings.log_level}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
