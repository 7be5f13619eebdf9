"""A service's stdout stays empty: what it prints becomes log lines on stderr (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import REPO

PROGRAM = """
import os, sys
from nutgraf.logs import configure_logging, prints_to_log
from nutgraf.settings import Settings
configure_logging(Settings(log_format="json"))
prints_to_log("worker.stdout")
print("worker: Warm shutdown (MainProcess)", file=sys.__stdout__, flush=True)
print("a plain print")
os.write(1, b"below Python\\n")
"""


def test_what_a_service_prints_becomes_json_log_lines_on_stderr() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUTGRAF_")}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        capture_output=True,
        text=True,
        env=env | {"PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    *lines, raw = done.stderr.splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["logger"], r["level"], r["message"]) for r in records] == [
        ("worker.stdout", "INFO", "worker: Warm shutdown (MainProcess)"),
        ("worker.stdout", "INFO", "a plain print"),
    ]
    assert raw == "below Python"  # written to fd 1 below Python: on stderr all the same
