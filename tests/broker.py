"""A real RabbitMQ for the tests: a vhost of this run's own on the local broker (which the
machines and CI run on 127.0.0.1:5672, guest/guest), else on a private rabbitmq-server.

The vhost is made and inspected with rabbitmqctl (as this user, or through `sudo -n`) or
the management HTTP API on 15672, whichever answers first. Nothing here skips: without a
broker the tests fail and say what to install.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import pytest
import requests

from nutgraf.store.server import free_port

HOST = "127.0.0.1"
PORT = 5672
MANAGEMENT_PORT = 15672
USER = PASSWORD = "guest"
NODE_START_TIMEOUT_S = 120


def answers(port: int) -> bool:
    """True when something accepts TCP connections on HOST:port."""
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=2):
        return True
    return False


@dataclass
class QueueRow:
    """One queue of a vhost as the broker reports it."""

    name: str
    consumers: int
    durable: bool
    type: str  # classic, quorum or stream


class Admin(Protocol):
    """What the tests ask the broker's administration."""

    def add_vhost(self, vhost: str) -> None:
        """Create the vhost and let guest do anything in it."""

    def delete_vhost(self, vhost: str) -> None:
        """Delete the vhost and all in it."""

    def version(self) -> str:
        """The broker's RabbitMQ version."""

    def connections(self, vhost: str) -> int:
        """How many client connections the vhost has now."""

    def queues(self, vhost: str) -> list[QueueRow]:
        """The vhost's queues."""

    def consumer_arguments(self, vhost: str, queue: str) -> list[dict[str, Any]]:
        """The arguments of each consumer of `queue`."""

    def close_connections(self, vhost: str) -> None:
        """Close every client connection of the vhost, as a broker restart would."""


class Rabbitmqctl:
    """Admin through rabbitmqctl (`command` is how to run it, e.g. with sudo -n)."""

    def __init__(
        self, command: list[str], node: str | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.command = [*command, *(["-n", node] if node else [])]
        self.env = env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """One rabbitmqctl command, not checked."""
        return subprocess.run(
            [*self.command, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
            check=False,
        )

    def __call__(self, *args: str) -> str:
        """One rabbitmqctl command's output; fails the test when the command fails."""
        done = self.run(*args)
        if done.returncode != 0:
            pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
        return done.stdout

    def rows(self, *args: str) -> list[list[str]]:
        """The rows of a list_* command, without headers."""
        out = self("-q", "--no-table-headers", *args)
        return [line.split("\t") for line in out.splitlines() if line.strip()]

    def add_vhost(self, vhost: str) -> None:
        self("add_vhost", vhost)
        self("set_permissions", "-p", vhost, USER, ".*", ".*", ".*")

    def delete_vhost(self, vhost: str) -> None:
        self("delete_vhost", vhost)

    def version(self) -> str:
        return self("-q", "version").strip()

    def connections(self, vhost: str) -> int:
        return sum(1 for row in self.rows("list_connections", "vhost") if row == [vhost])

    def queues(self, vhost: str) -> list[QueueRow]:
        rows = self.rows("list_queues", "-p", vhost, "name", "consumers", "durable", "type")
        return [
            QueueRow(name, int(count), durable == "true", kind)
            for name, count, durable, kind in rows
        ]

    def consumer_arguments(self, vhost: str, queue: str) -> list[dict[str, Any]]:
        found = []
        for name, arguments in self.rows("list_consumers", "-p", vhost, "queue_name", "arguments"):
            if name == queue:  # Erlang's [{"key",value},…] printed as text
                pairs = re.findall(r'\{"([^"]+)",([^{}]+?)\}', arguments)
                found.append({key: _scalar(value) for key, value in pairs})
        return found

    def close_connections(self, vhost: str) -> None:
        self("close_all_connections", "-p", vhost, "nutgraf test: broker blip")


def _scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


class ManagementApi:
    """Admin through the management plugin's HTTP API."""

    def __init__(self, port: int = MANAGEMENT_PORT) -> None:
        self.base = f"http://{HOST}:{port}/api"
        self.auth = (USER, PASSWORD)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One API call's JSON answer (None when it has no body)."""
        response = requests.request(
            method, f"{self.base}{path}", auth=self.auth, json=body, timeout=10
        )
        if response.status_code >= 300:
            pytest.fail(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def add_vhost(self, vhost: str) -> None:
        self.call("PUT", f"/vhosts/{quote(vhost, safe='')}")
        grant = {"configure": ".*", "write": ".*", "read": ".*"}
        self.call("PUT", f"/permissions/{quote(vhost, safe='')}/{USER}", grant)

    def delete_vhost(self, vhost: str) -> None:
        self.call("DELETE", f"/vhosts/{quote(vhost, safe='')}")

    def version(self) -> str:
        return str(self.call("GET", "/overview")["rabbitmq_version"])

    def connections(self, vhost: str) -> int:
        return len(self.call("GET", f"/vhosts/{quote(vhost, safe='')}/connections"))

    def queues(self, vhost: str) -> list[QueueRow]:
        rows = self.call("GET", f"/queues/{quote(vhost, safe='')}")
        return [
            QueueRow(q["name"], int(q.get("consumers", 0)), bool(q["durable"]), q["type"])
            for q in rows
        ]

    def consumer_arguments(self, vhost: str, queue: str) -> list[dict[str, Any]]:
        rows = self.call("GET", f"/consumers/{quote(vhost, safe='')}")
        return [dict(c.get("arguments") or {}) for c in rows if c["queue"]["name"] == queue]

    def close_connections(self, vhost: str) -> None:
        for connection in self.call("GET", f"/vhosts/{quote(vhost, safe='')}/connections"):
            self.call("DELETE", f"/connections/{quote(connection['name'], safe='')}")


def local_admin() -> Admin:
    """rabbitmqctl, `sudo -n rabbitmqctl` or the management API of the local broker."""
    tried = []
    for command in (["rabbitmqctl"], ["sudo", "-n", "rabbitmqctl"]):
        if shutil.which(command[0]) is None:
            tried.append(f"{command[0]}: not installed")
            continue
        ctl = Rabbitmqctl(command)
        done = ctl.run("-q", "list_vhosts")
        if done.returncode == 0:
            return ctl
        tried.append(f"{' '.join(command)}: {(done.stderr or done.stdout).strip()[-200:]}")
    api = ManagementApi()
    with contextlib.suppress(requests.RequestException):
        if requests.get(f"{api.base}/overview", auth=api.auth, timeout=5).status_code == 200:
            return api
    tried.append(f"management API on {HOST}:{MANAGEMENT_PORT}: no answer as guest")
    pytest.fail(
        f"RabbitMQ answers on {HOST}:{PORT} but a test vhost cannot be made: " + "; ".join(tried)
    )


def _scripts() -> Path:
    """The folder of RabbitMQ's own scripts (not Debian's wrapper, which su's to rabbitmq)."""
    server = shutil.which("rabbitmq-server")
    if server is None:
        pytest.fail(
            f"no RabbitMQ answers on {HOST}:{PORT} and there is no rabbitmq-server to start "
            "a private one: install rabbitmq-server, or run the broker the machines and CI "
            f"run ({HOST}:{PORT}, guest/guest)"
        )
    real = Path(server).resolve()
    if real.name == "rabbitmq-script-wrapper":
        return real.parent
    return Path(server).parent


class PrivateRabbit:
    """A rabbitmq-server of the test's own, on free ports, its data in a temporary folder."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.scripts = _scripts()
        self.port = free_port()
        self.node = f"nutgraf-test-{secrets.token_hex(3)}@localhost"
        config = base / "rabbitmq.conf"
        config.write_text(f"listeners.tcp.default = {HOST}:{self.port}\n")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_BASE": str(base),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_CONFIG_FILE": str(config),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
        }
        self.admin = Rabbitmqctl([str(self.scripts / "rabbitmqctl")], self.node, self.env)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the node and wait until it accepts AMQP connections (bounded)."""
        with (self.base / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.scripts / "rabbitmq-server")],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + NODE_START_TIMEOUT_S
        while not answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.base / "server.log").read_text(errors="replace")[-2000:]
                self.stop()
                pytest.fail(f"the private rabbitmq-server did not start: {tail}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop the node (rabbitmqctl stop), killing its process group if that fails."""
        if self.process is None or self.process.poll() is not None:
            return
        self.admin.run("stop")
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)
            self.process.wait()


@contextlib.contextmanager
def rabbitmq_vhost(tmp: Path) -> Iterator[tuple[str, Admin, str]]:
    """A vhost of this run's own (guest may use it), deleted after: the AMQP URL, the
    broker's administration and the vhost's name."""
    private = None
    admin: Admin
    if answers(PORT):
        port, admin = PORT, local_admin()
    else:
        private = PrivateRabbit(tmp)
        private.start()
        port, admin = private.port, private.admin
    vhost = f"nutgraf-test-{secrets.token_hex(4)}"
    try:
        admin.add_vhost(vhost)
        yield f"amqp://{USER}:{PASSWORD}@{HOST}:{port}/{vhost}", admin, vhost
    finally:
        with contextlib.suppress(BaseException):
            admin.delete_vhost(vhost)
        if private is not None:
            private.stop()
