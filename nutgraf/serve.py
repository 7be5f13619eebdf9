"""`nutgraf serve`: Redis (unless NUTGRAF_REDIS_URL), a worker per lane and the API on one
machine, started as child processes, watched, and stopped in order on Ctrl-C or SIGTERM (a second
one kills everything at once)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections import deque
from types import FrameType
from typing import TYPE_CHECKING

from nutgraf import programs
from nutgraf.settings import Settings, env_for_children

if TYPE_CHECKING:
    from nutgraf.store.server import RedisServer

log = logging.getLogger("nutgraf")

# A redis-server that dies more often than this is broken (disk full, bad AOF): stop.
REDIS_RESTARTS = 5
REDIS_RESTART_WINDOW_S = 60.0
FORCED_EXIT_CODE = 130  # as a shell reports a program stopped by Ctrl-C


class _Forced(Exception):
    """A second stop request came during the orderly stop."""


class _Signals:
    """How many times Ctrl-C or SIGTERM has come: one stops in order, two force."""

    def __init__(self) -> None:
        self.count = 0

    def handle(self, _signum: int, _frame: FrameType | None) -> None:
        """The signal handler: count, and nothing else (it may run inside any call)."""
        self.count += 1

    def check_forced(self) -> None:
        """Raise _Forced once a second request has come."""
        if self.count >= 2:
            raise _Forced


def serve(settings: Settings) -> int:
    """Run everything on this machine and stop it all cleanly on Ctrl-C or SIGTERM."""
    from nutgraf.store.server import PortInUse, RedisServer

    redis_server = None
    if not settings.redis_url:
        # Its own session: Ctrl-C reaches us, and Redis is stopped after the worker.
        # AOF in the data dir, fsynced every second: a restarted server keeps the jobs.
        redis_server = RedisServer(
            settings.data_dir / "redis", settings.redis_port, own_session=True
        )
        try:
            redis_server.start()
        except PortInUse as exc:
            log.error("cannot start redis-server: %s; set NUTGRAF_REDIS_PORT to a free port", exc)
            return 1
        except (RuntimeError, TimeoutError, OSError) as exc:
            log.error("cannot start redis-server: %s", exc)
            return 1
        log.info("started redis-server on %s (AOF in %s)", redis_server.url, redis_server.data_dir)
        settings = settings.model_copy(update={"redis_url": redis_server.url})
    env = env_for_children(settings)
    signals = _Signals()
    signal.signal(signal.SIGINT, signals.handle)
    signal.signal(signal.SIGTERM, signals.handle)
    children: dict[str, subprocess.Popen[bytes]] = {}
    restarts: deque[float] = deque(maxlen=REDIS_RESTARTS)
    exit_code = 0
    try:
        try:
            for name, program, extra in _parts():
                # Own session: Ctrl-C reaches only us, and we stop the parts in order.
                children[name] = subprocess.Popen(
                    programs.command(program), env={**env, **extra}, start_new_session=True
                )
            log.info(
                "nutgraf is starting on http://%s:%d, model %s%s (Ctrl-C stops it)",
                settings.host,
                settings.port,
                settings.model,
                f", chosen by NUTGRAF_MODEL=auto: {settings.model_auto}"
                if settings.model_auto
                else "",
            )
            while not signals.count and not exit_code:
                for name, child in children.items():
                    if child.poll() is not None:
                        log.error("%s exited with code %s; stopping", name, child.returncode)
                        exit_code = 1
                if redis_server is not None and not exit_code:
                    exit_code = _watch_redis(redis_server, restarts)
                time.sleep(0.2)
        finally:
            # Also after an error above: the parts still stop in order.
            log.info("stopping nutgraf (Ctrl-C again to force)")
            for name in reversed(children):
                _terminate(name, children[name], signals)
            if redis_server is not None:
                _stop_redis(redis_server, signals)
    except _Forced:
        log.warning("second stop request: forcing, killing everything at once")
        _kill_all(children, redis_server)
        return FORCED_EXIT_CODE
    return exit_code


# Bulk work yields the cores to interactive work: the interactive lane's worker runs at
# normal priority, the bulk lane's at the lowest, so an editor's summary runs at nearly its
# idle speed while a backfill goes on, and the backfill has the cores when nobody waits.
BULK_NICE = 19


def _parts() -> list[tuple[str, str, dict[str, str]]]:
    """What `nutgraf serve` runs, in start order: (name, program, extra environment). One
    worker per lane, so that an editor's job never waits behind a bulk micro-batch."""
    return [
        ("worker-interactive", "worker", {"NUTGRAF_WORKER_LANES": "interactive"}),
        (
            "worker-bulk",
            "worker",
            {"NUTGRAF_WORKER_LANES": "bulk", "NUTGRAF_WORKER_NICE": str(BULK_NICE)},
        ),
        # No load balancer in front to wait for: Ctrl-C stops the API without a drain.
        ("api", "api", {"NUTGRAF_DRAIN_S": "0"}),
    ]


def _watch_redis(redis_server: RedisServer, restarts: deque[float]) -> int:
    """Start redis-server again (same port, same data dir) if it died; 1 if it cannot be."""
    process = redis_server.process
    if process is None or process.poll() is None:
        return 0
    now = time.monotonic()
    if len(restarts) == restarts.maxlen and now - restarts[0] < REDIS_RESTART_WINDOW_S:
        log.error(
            "redis-server exited with code %s, %d times in %.0fs; stopping (see %s)",
            process.returncode,
            len(restarts) + 1,
            now - restarts[0],
            redis_server.data_dir / "redis.log",
        )
        return 1
    restarts.append(now)
    log.error("redis-server exited with code %s; starting it again", process.returncode)
    try:
        redis_server.start()
    except (RuntimeError, TimeoutError, OSError) as exc:
        log.error("redis-server could not start again: %s; stopping", exc)
        return 1
    log.warning("restarted redis-server on %s (AOF in %s)", redis_server.url, redis_server.data_dir)
    return 0


def _wait(process: subprocess.Popen[bytes], timeout_s: float, signals: _Signals) -> bool:
    """Wait for `process` to end, at most timeout_s; False if it has not. Raises _Forced
    as soon as a second stop request comes."""
    deadline = time.monotonic() + timeout_s
    while process.poll() is None:
        signals.check_forced()
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _terminate(
    name: str, child: subprocess.Popen[bytes], signals: _Signals, grace_s: float = 15.0
) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left after the grace time.
    A job cut short stays unacknowledged in Redis and runs again later."""
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGTERM)
        if not _wait(child, grace_s, signals):
            log.warning("%s did not stop in %.0fs; killing it", name, grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)  # leftovers, e.g. pool children
    child.wait()
    log.info("stopped %s", name)


def _stop_redis(redis_server: RedisServer, signals: _Signals, grace_s: float = 10.0) -> None:
    """SIGTERM redis-server (it flushes the AOF first), SIGKILL it after the grace time."""
    process = redis_server.process
    if process is not None and process.poll() is None:
        process.terminate()
        if not _wait(process, grace_s, signals):
            process.kill()
        process.wait()
    log.info("stopped redis-server")


def _kill_all(
    children: dict[str, subprocess.Popen[bytes]], redis_server: RedisServer | None
) -> None:
    """SIGKILL every part at once, then reap them: a forced stop waits for nobody."""
    processes = list(children.values())
    for child in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
    if redis_server is not None and redis_server.process is not None:
        # Redis writes the AOF before it answers: a forced stop keeps what clients saw done.
        redis_server.process.kill()
        processes.append(redis_server.process)
    for process in processes:
        process.wait()
