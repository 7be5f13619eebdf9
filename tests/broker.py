"""A real RabbitMQ for the tests: a vhost of this run's own on the local broker (which the
machines and CI run on 127.0.0.1:5672, guest/guest), else a private rabbitmq-server."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nutgraf.store.server import free_port

HOST = "127.0.0.1"
PORT = 5672
USER = PASSWORD = "guest"
NODE_START_TIMEOUT_S = 120


def answers(port: int) -> bool:
    """True when something accepts TCP connections on HOST:port."""
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=2):
        return True
    return False


class Rabbitmqctl:
    """rabbitmqctl, as this user or through `sudo -n`, for one node."""

    def __init__(self, node: str | None = None, env: dict[str, str] | None = None) -> None:
        self.node = node
        self.env = env
        self.prefix = self._find()

    def _find(self) -> list[str]:
        if shutil.which("rabbitmqctl") is None:
            pytest.fail(
                "RabbitMQ tests need rabbitmqctl (apt-get install rabbitmq-server): the "
                "machines and CI run RabbitMQ on 127.0.0.1:5672"
            )
        error = ""
        for prefix in (["rabbitmqctl"], ["sudo", "-n", "rabbitmqctl"]):
            if shutil.which(prefix[0]) is None:
                continue
            node = ["-n", self.node] if self.node else []
            done = subprocess.run(
                [*prefix, *node, "list_vhosts"],
                capture_output=True,
                text=True,
                timeout=60,
                env=self.env,
                check=False,
            )
            if done.returncode == 0:
                return prefix
            error = done.stderr.strip()[-300:]
        pytest.fail(
            "rabbitmqctl cannot reach the local RabbitMQ as this user, nor through `sudo -n` "
            f"(last error: {error}); the tests need it to make a vhost"
        )

    def __call__(self, *args: str) -> str:
        """Run one rabbitmqctl command; its output (fails the test when it fails)."""
        node = ["-n", self.node] if self.node else []
        done = subprocess.run(
            [*self.prefix, *node, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
        return done.stdout


class PrivateRabbit:
    """A rabbitmq-server of the test's own, on free ports, its data in a temporary folder."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.node = f"nutgraf-test-{secrets.token_hex(3)}@localhost"
        config = base / "rabbitmq.conf"
        config.write_text(f"listeners.tcp.default = {self.port}\nloopback_users = none\n")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_BASE": str(base),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_CONFIG_FILE": str(config.with_suffix("")),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the node and wait until it accepts AMQP connections (bounded)."""
        server = shutil.which("rabbitmq-server")
        if server is None:
            pytest.fail(
                f"no RabbitMQ answers on {HOST}:{PORT} and there is no rabbitmq-server to "
                "start a private one: install rabbitmq-server, or run the broker the machines "
                "and CI run (127.0.0.1:5672, guest/guest)"
            )
        log = (self.base / "server.log").open("ab")
        self.process = subprocess.Popen(
            [server], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + NODE_START_TIMEOUT_S
        while not answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.base / "server.log").read_text(errors="replace")[-2000:]
                self.stop()
                pytest.fail(f"the private rabbitmq-server did not start: {tail}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop the node and everything it started (epmd stays: other nodes may use it)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 15)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


@contextlib.contextmanager
def rabbitmq_vhost(tmp: Path) -> Iterator[tuple[str, Rabbitmqctl, str]]:
    """A vhost of this run's own (guest may use it), deleted after: the AMQP URL, a
    rabbitmqctl for its node and the vhost's name."""
    private = None
    if answers(PORT):
        port, ctl = PORT, Rabbitmqctl()
    else:
        private = PrivateRabbit(tmp)
        private.start()
        port, ctl = private.port, Rabbitmqctl(private.node, private.env)
    vhost = f"nutgraf-test-{secrets.token_hex(4)}"
    try:
        ctl("add_vhost", vhost)
        ctl("set_permissions", "-p", vhost, USER, ".*", ".*", ".*")
        yield f"amqp://{USER}:{PASSWORD}@{HOST}:{port}/{vhost}", ctl, vhost
    finally:
        with contextlib.suppress(BaseException):
            ctl("delete_vhost", vhost)
        if private is not None:
            private.stop()
