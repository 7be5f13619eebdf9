"""`nutgraf-client` as a batch machine runs it, with only this distribution installed: the
command exists, needs no model stack, and refuses what it cannot send. (Its runs against a
real service: tests/integration/test_batch_cli.py, through `nutgraf batch`, which is it.)"""

from __future__ import annotations

import ast
import json
import socket
import subprocess
import sys
from pathlib import Path

import nutgraf.client.cli

SERVER_STACK = {"torch", "transformers", "celery", "flask", "redis", "service", "worker"}


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The console script pip installed beside this interpreter."""
    script = Path(sys.executable).with_name("nutgraf-client")
    return subprocess.run(
        [str(script), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def free_port() -> int:
    """A port nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_command_offers_batch_with_the_contracts_options() -> None:
    done = run("batch", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: nutgraf-client batch")
    assert "{headline,short,medium,long}" in done.stdout


def test_the_command_loads_no_server_or_model_stack() -> None:
    code = (
        "import sys, nutgraf.client, nutgraf.client.cli, nutgraf.client.batch; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_STACK!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert ast.literal_eval(done.stdout.strip()) == []


def test_a_service_that_is_not_there_exits_2_and_leaves_no_output(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    records = [{"id": "a", "text": "One story."}, {"id": "b", "text": "Another story."}]
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    url = f"http://127.0.0.1:{free_port()}"
    done = run("batch", source, "-o", out, "--url", url, "--no-progress")
    assert done.returncode == 2, done.stderr
    assert url in done.stderr and "nothing was sent" in done.stderr
    assert done.stdout == "0 succeeded, 0 failed, 0 skipped\n"
    assert not out.exists()


def test_bad_input_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a"}\nnot json\n', encoding="utf-8")
    done = run("batch", source, "-o", tmp_path / "out.jsonl", "--url", "http://127.0.0.1:9")
    assert done.returncode == 2
    assert "line 1: missing text" in done.stderr and "line 2: not JSON" in done.stderr


def test_the_server_cli_hands_batch_over_under_its_own_name() -> None:
    # `nutgraf batch` calls main(argv, prog="nutgraf"): usage lines say what was typed.
    parser = nutgraf.client.cli.build_parser("nutgraf")
    assert parser.format_usage().startswith("usage: nutgraf ")
