"""`nutgraf serve`: Redis (unless NUTGRAF_REDIS_URL), a worker and the API on one machine,
started as child processes and stopped in order on Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from types import FrameType

from nutgraf import programs
from nutgraf.settings import Settings, env_for_children

log = logging.getLogger("nutgraf")


def serve(settings: Settings) -> int:
    """Run everything on this machine and stop it all cleanly on Ctrl-C or SIGTERM."""
    from nutgraf.store.server import RedisServer

    redis_server = None
    if not settings.redis_url:
        # Its own session: Ctrl-C reaches us, and Redis is stopped after the worker.
        redis_server = RedisServer(settings.data_dir / "redis", own_session=True)
        redis_server.start()
        log.info("started redis-server on %s (AOF in %s)", redis_server.url, redis_server.data_dir)
        settings = settings.model_copy(update={"redis_url": redis_server.url})
    env = env_for_children(settings)
    stopping = False

    def _stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    children: dict[str, subprocess.Popen[bytes]] = {}
    exit_code = 0
    try:
        for name in ("worker", "api"):
            # Own session: Ctrl-C reaches only us, and we stop the parts in order.
            children[name] = subprocess.Popen(
                programs.command(name), env=env, start_new_session=True
            )
        log.info(
            "nutgraf is starting on http://%s:%d (Ctrl-C stops it)", settings.host, settings.port
        )
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    log.error("%s exited with code %s; stopping", name, child.returncode)
                    exit_code = 1
                    stopping = True
            time.sleep(0.2)
    finally:
        for name in ("api", "worker"):
            if name in children:
                _terminate(name, children[name])
        if redis_server is not None:
            redis_server.stop()
            log.info("stopped redis-server")
    return exit_code


def _terminate(name: str, child: subprocess.Popen[bytes], grace_s: float = 15.0) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left after the grace time.
    A job cut short stays unacknowledged in Redis and runs again later."""
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(grace_s)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0fs; killing it", name, grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)  # leftovers, e.g. pool children
    child.wait()
    log.info("stopped %s", name)
