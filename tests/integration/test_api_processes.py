"""The API's gunicorn processes share the clients between them (issue 16): each listens on
a socket of its own (SO_REUSEPORT), so keep-alive connections are spread by the kernel
instead of bunching on whichever process was awake, which left a core idle; and a port
already served is still refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import requests

from helpers import ApiProcess, answers_200, wait_for
from nutgraf.settings import Settings
from nutgraf.store.server import free_port

CONNECTIONS = 40


def listening_inodes(port: int) -> set[str]:
    """Inodes of the IPv4 sockets listening on `port` (/proc/net/tcp, state 0A)."""
    inodes = set()
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
                inodes.add(fields[9])
    return inodes


def socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets process `pid` holds open."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def test_each_api_process_listens_on_its_own_socket_and_gets_clients(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    api = ApiProcess(settings.model_copy(update={"api_workers": 2}), port, tmp_path / "api.log")
    api.start()
    sessions = [requests.Session() for _ in range(CONNECTIONS)]
    try:
        wait_for(lambda: answers_200(url), 60, "the API to answer")
        assert api.process is not None
        master = psutil.Process(api.process.pid)

        def listening_sockets() -> list[set[str]] | None:
            owned = [socket_inodes(w.pid) & listening_inodes(port) for w in master.children()]
            return owned if len(owned) == 2 and all(owned) else None

        # The first process answers while the second may still be starting.
        owned = wait_for(listening_sockets, 60, "both API processes to listen")
        workers = master.children()
        # One listening socket each, not one shared: the kernel balances between them.
        assert [len(o) for o in owned] == [1, 1] and owned[0] != owned[1]
        for session in sessions:
            assert session.get(url, timeout=10).status_code == 200  # kept alive after
        clients = [
            sum(
                1
                for c in w.net_connections("tcp")
                if c.status == "ESTABLISHED" and c.laddr.port == port
            )
            for w in workers
        ]
        # Spread at random: a split as uneven as 5/35 has odds of about 1 in 10 million.
        assert sum(clients) == CONNECTIONS and min(clients) >= 5, clients
        # A second API on the same port is refused, as without SO_REUSEPORT, rather than
        # let in to take half the connections.
        second = subprocess.run(
            [sys.executable, "-m", "nutgraf.cli", "api"],
            env=api.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert f"cannot serve the API on 127.0.0.1:{port}: Address already in use" in second.stderr
    finally:
        for session in sessions:
            session.close()
        api.stop()
