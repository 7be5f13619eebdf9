"""`nutgraf api` and `nutgraf worker` become `python -m service` and `python -m worker` (the
core never imports them); those two start alike: settings, logging, a Redis URL."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from helpers import REPO
from nutgraf import cli, programs
from nutgraf.logs import configure_logging
from nutgraf.settings import Settings
from nutgraf.store.server import PortInUse, RedisServer
from nutgraf.webhooks import new_secret

NO_REDIS = "nutgraf: set NUTGRAF_REDIS_URL (or use `nutgraf serve`)"


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any NUTGRAF_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUTGRAF_")}
    return env | extra


@pytest.fixture(autouse=True)
def root_logging_restored() -> Iterator[None]:
    """The commands configure the root logger; later tests get it back as it was."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(("command", "module"), [("api", "service"), ("worker", "worker")])
def test_the_command_replaces_itself_with_the_program(
    command: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUTGRAF_REDIS_URL", "redis://127.0.0.1:1/0")
    execs: list[tuple[str, list[str]]] = []

    def execv(path: str, argv: list[str]) -> None:
        execs.append((path, argv))
        raise SystemExit(0)

    monkeypatch.setattr(os, "execv", execv)
    with pytest.raises(SystemExit):
        cli.main([command])
    assert execs == [(sys.executable, [sys.executable, "-P", "-m", module])]


def test_without_redis_the_command_stops_before_the_program(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NUTGRAF_REDIS_URL", raising=False)
    monkeypatch.setattr(os, "execv", lambda *_: pytest.fail("exec without a Redis URL"))
    with pytest.raises(SystemExit) as stopped:
        cli.main(["worker"])
    assert stopped.value.code == NO_REDIS


@pytest.mark.parametrize("module", ["service", "worker"])
def test_a_program_refuses_to_start_without_redis_or_with_bad_settings(module: str) -> None:
    run = [sys.executable, "-m", module]
    no_redis = subprocess.run(run, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert no_redis.returncode == 1
    assert no_redis.stderr.strip().splitlines()[-1] == NO_REDIS
    bad = subprocess.run(
        run, env=clean_env(NUTGRAF_DEVICE="tpu"), capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("nutgraf: invalid settings: NUTGRAF_DEVICE")


def test_a_program_that_fails_logs_it_once_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NUTGRAF_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("NUTGRAF_LOG_FORMAT", "text")

    def run(_settings: Settings) -> None:
        raise ImportError("no module named celery")

    assert programs.start("worker", run) == 1
    out = capsys.readouterr().err
    assert "nutgraf worker stopped on an error" in out
    assert out.count("ImportError: no module named celery") == 1


def test_a_worker_warns_once_at_start_when_redis_may_evict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        client.config_set("maxmemory-policy", "allkeys-lru")
        monkeypatch.setenv("NUTGRAF_REDIS_URL", server.url)
        monkeypatch.setenv("NUTGRAF_LOG_FORMAT", "text")
        ran = []
        assert programs.start("worker", ran.append) == 0
        assert len(ran) == 1  # a warning, not a refusal: the program still runs
        out = capsys.readouterr().err
        assert out.count("maxmemory-policy is 'allkeys-lru'") == 1, out
        assert "WARNING" in out and "noeviction" in out
        client.config_set("maxmemory-policy", "noeviction")
        assert programs.start("worker", ran.append) == 0
        assert "maxmemory-policy" not in capsys.readouterr().err
        client.close()
    finally:
        server.stop()


def test_logs_go_to_stderr_and_leave_stdout_to_the_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 15: `nutgraf summarize --json FILE | jq` broke on a log line in stdout.
    for log_format in ("json", "text"):
        configure_logging(Settings(), log_format)
        logging.getLogger("nutgraf.test").warning("a log line")
        captured = capsys.readouterr()
        assert captured.out == ""
        assert "a log line" in captured.err


def run_cli(*args: str, stdout: int | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m nutgraf ARGS` in a clean environment, stdout as given (default: captured)."""
    return subprocess.run(
        [sys.executable, "-m", "nutgraf", *args],
        env=clean_env(NUTGRAF_LOG_FORMAT="json"),
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [["config"], ["models"], ["webhook-secret"], ["summarize", "--mode", "extractive", "-"]],
)
def test_a_reader_that_closed_stdout_ends_the_command_quietly(args: list[str]) -> None:
    # `nutgraf config | head`: the reader is gone before the output is written. Here, before
    # the command starts: no race.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "nutgraf", *args],
            env=clean_env(),
            input=(REPO / "tests" / "data" / "montenegro-nato.txt").read_text(),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == cli.BROKEN_PIPE_EXIT


def test_summarize_takes_the_api_options_and_prints_only_json(tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text((REPO / "tests" / "data" / "montenegro-nato.txt").read_text())
    done = run_cli(
        "summarize", "--mode", "extractive", "--format", "bullets", "--max-words", "30",
        "--length", "short", "--json", str(article),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # the whole of stdout: no log line in it
    assert result["model"]["name"] == "extractive"
    assert result["bullets"] and result["summary"].startswith("- ")
    assert len(result["summary"].split()) <= 30 + len(result["bullets"])  # the "-" marks
    refused = run_cli("summarize", "--mode", "extractive", "--max-words", "2", str(article))
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "nutgraf: summarize: --max-words: Input should be greater than or equal to 5"
    )
    assert refused.stdout == ""


def test_serve_with_a_taken_redis_port_stops_with_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = clean_env(
            NUTGRAF_REDIS_PORT=str(port),
            NUTGRAF_DATA_DIR=str(tmp_path),
            NUTGRAF_LOG_FORMAT="text",
            NUTGRAF_MODEL="smollm2-135m",  # named: no line about what `auto` chose
        )
        done = subprocess.run(
            [sys.executable, "-m", "nutgraf", "serve"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.endswith(
        f"cannot start redis-server: port {port} on 127.0.0.1 is taken (Address already in "
        "use); set NUTGRAF_REDIS_PORT to a free port"
    ), line


def test_a_redis_server_asked_for_a_taken_port_says_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = RedisServer(tmp_path / "redis", port)
        with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is taken"):
            server.start()
    assert server.process is None  # nothing was started


def test_the_programs_start_without_progress_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 15: tqdm bars of model loading landed inside the JSON logs.
    monkeypatch.setenv("NUTGRAF_REDIS_URL", "redis://127.0.0.1:1/0")
    for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE"):
        monkeypatch.delenv(name, raising=False)
    seen: list[tuple[str | None, str | None]] = []

    def run(_settings: Settings) -> None:
        seen.append(
            (os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS"), os.environ.get("TQDM_DISABLE"))
        )

    assert programs.start("api", run) == 0
    assert seen == [("1", "1")]


def test_a_worker_s_threads_wait_passively_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Spinning OpenMP threads slowed a summary 1.5 times while one other process was busy.
    monkeypatch.setenv("NUTGRAF_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("NUTGRAF_MODEL", "smollm2-135m")
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    seen: list[str | None] = []

    def run(_settings: Settings) -> None:
        seen.append(os.environ.get("OMP_WAIT_POLICY"))

    assert programs.start("worker", run) == 0
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # an operator's choice is kept
    assert programs.start("worker", run) == 0
    assert seen == ["PASSIVE", "ACTIVE"]


def test_config_masks_keys_secrets_and_passwords_in_urls(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `nutgraf config` output is pasted into tickets and chats: no secret may be in it.
    for name in [n for n in os.environ if n.startswith("NUTGRAF_")]:
        monkeypatch.delenv(name)
    webhook_secret = new_secret()
    monkeypatch.setenv("NUTGRAF_API_KEYS", "key-one-s3cret,key-two-s3cret")
    monkeypatch.setenv("NUTGRAF_API_KEY", "client-key-s3cret")
    monkeypatch.setenv("NUTGRAF_WEBHOOK_SECRET", webhook_secret)
    monkeypatch.setenv("NUTGRAF_REDIS_URL", "redis://:redis-s3cret@db.example:6379/0")
    monkeypatch.setenv("NUTGRAF_BROKER_URL", "amqp://nutgraf:amqp-s3cret@rabbitmq:5672/")
    assert cli.main(["config"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out
    assert webhook_secret.removeprefix("whsec_") not in out
    shown = dict(line.split("=", 1) for line in out.splitlines())
    assert shown["NUTGRAF_API_KEYS"] == "['****', '****']"  # how many, not what
    assert shown["NUTGRAF_API_KEY"] == "****"
    assert shown["NUTGRAF_WEBHOOK_SECRET"] == "['whsec_****']"
    assert shown["NUTGRAF_REDIS_URL"] == "redis://:****@db.example:6379/0"
    assert shown["NUTGRAF_BROKER_URL"] == "amqp://nutgraf:****@rabbitmq:5672/"  # user kept
    assert shown["NUTGRAF_MODEL"] == "auto"  # what is not a secret is shown as it is
    assert shown["NUTGRAF_API_KEYS_FILE"] == "None"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("rediss://default:p%40ss@cache:6380/1", "rediss://default:****@cache:6380/1"),
        ("redis://cache:6379/0?password=pw&db=2", "redis://cache:6379/0?password=****&db=2"),
        ("unix:///run/redis.sock?password=pw", "unix:///run/redis.sock?password=****"),
        (
            "amqps://u:p1@h1:5671//;amqps://u:p2@h2:5671//",
            "amqps://u:****@h1:5671//;amqps://u:****@h2:5671//",
        ),
    ],
)
def test_config_shows_urls_without_their_passwords(url: str, shown: str) -> None:
    assert cli.shown_value("broker_url", url) == shown
