"""`nutgraf serve` and `nutgraf summarize` as a user runs them: real processes, real HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import redis
import requests

from helpers import TEST_MODEL, answers_200, wait_for
from nutgraf.settings import Settings
from nutgraf.store.server import free_port


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUTGRAF_")}
    env.update(NUTGRAF_MODEL=TEST_MODEL, NUTGRAF_DATA_DIR=str(tmp_path / "data"), **extra)
    return env


def test_serve_runs_everything_and_stops_cleanly(tmp_path: Path, sample_article: str) -> None:
    port, redis_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    log_path, out_path = tmp_path / "serve.log", tmp_path / "serve.out"
    env = _env(
        tmp_path,
        NUTGRAF_PORT=str(port),
        NUTGRAF_API_WORKERS="1",
        NUTGRAF_REDIS_PORT=str(redis_port),
    )
    # A home of its own, to see that nothing (gunicorn's control socket) is put there; the
    # converted models stay where the other tests keep them.
    env |= {"HOME": str(tmp_path / "home"), "NUTGRAF_CACHE_DIR": str(Settings().cache_dir)}
    env.pop("XDG_RUNTIME_DIR", None)
    with log_path.open("wb") as log, out_path.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "nutgraf.cli", "serve"],
            env=env,
            stdout=out,
            stderr=log,
            # A terminal's foreground job: Ctrl-C signals its whole process group.
            start_new_session=True,
        )
    try:
        wait_for(lambda: answers_200(f"{base}/readyz"), 300, "readyz 200", interval_s=0.5)
        parts = psutil.Process(serve.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in parts)
        # `nutgraf serve` runs the API and the worker by module name.
        assert "redis-server" in names and "-m worker" in names and "-m service" in names
        # Ctrl-C must not reach redis-server: it is stopped last, after the worker has
        # handed back its jobs (issue 13: it died first, and a job was stranded).
        (redis_part,) = [p for p in parts if "redis-server" in " ".join(p.cmdline())]
        assert os.getpgid(redis_part.pid) != os.getpgid(serve.pid)
        # On the port NUTGRAF_REDIS_PORT asked for (a firewalled host needs to know it).
        assert redis.Redis(port=redis_port).ping()

        text = _lead_paragraph(sample_article) + " (serve test)"
        response = requests.post(f"{base}/v1/summaries", json={"text": text, "length": "short"})
        assert response.status_code == 202
        location = response.headers["Location"]

        def finished() -> dict[str, object] | None:
            body: dict[str, object] = requests.get(base + location, timeout=5).json()
            return body if body["status"] in ("succeeded", "failed") else None

        job = wait_for(finished, 240, "the job to finish")
        assert job["status"] == "succeeded", log_path.read_text()[-3000:]
        again = requests.post(f"{base}/v1/summaries", json={"text": text, "length": "short"})
        assert again.status_code == 200 and again.json()["cached"] is True
    finally:
        os.killpg(serve.pid, signal.SIGINT)  # what Ctrl-C does: the whole group
        code = serve.wait(90)
    output = log_path.read_text()
    assert code == 0, output[-3000:]
    assert output.index("stopped worker") < output.index("stopped redis-server"), output[-3000:]
    assert "Couldn't reject" not in output and "Error 111" not in output, output[-3000:]
    # Issue 15: every part logs on stderr, one JSON object a line; stdout stays empty. No
    # progress bar, no Celery banner or root warning, no line per /readyz poll.
    assert out_path.read_text() == ""
    records = [json.loads(line) for line in output.splitlines()]
    assert not [r for r in records if "/readyz" in r["message"] and r["level"] != "DEBUG"]
    assert "superuser privileges" not in output
    said_root = [r for r in records if "runs as root" in r["message"]]
    # Once per worker: serve runs one per lane.
    assert len(said_root) == (2 if os.geteuid() == 0 else 0), output[-3000:]
    lanes = sorted(r["message"].split()[1] for r in records if "worker: lanes=" in r["message"])
    assert lanes == ["lanes=bulk", "lanes=interactive"], lanes
    assert not (tmp_path / "home" / ".gunicorn").exists()
    assert not [p for p in parts if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert list((tmp_path / "data" / "redis").rglob("*.aof*")), "redis kept no AOF"


def _start_serve(tmp_path: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    """`nutgraf serve` as a terminal's foreground job, its output in a log file."""
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "nutgraf.cli", "serve"],
            env=_env(tmp_path, NUTGRAF_PORT=str(port), NUTGRAF_API_WORKERS="1"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C signals this whole process group
        )
    return serve, log_path


def _redis_parts(serve: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The redis-server processes `nutgraf serve` runs now (not those dead, unreaped)."""
    found = []
    for part in psutil.Process(serve.pid).children():
        with contextlib.suppress(psutil.ZombieProcess, psutil.NoSuchProcess):
            if "redis-server" in " ".join(part.cmdline()):
                found.append(part)
    return found


def _lead_paragraph(article: str) -> str:
    """The article's first paragraph (one per line in the sample): a job that only has to
    succeed costs the model a few seconds instead of the whole article's."""
    return article.splitlines()[0]


def _summarized(base: str, text: str) -> str:
    """Submit `text`, wait until its job succeeds, and return the job's location."""
    response = requests.post(f"{base}/v1/summaries", json={"text": text, "length": "short"})
    assert response.status_code == 202, response.text
    location: str = response.headers["Location"]

    def finished() -> dict[str, object] | None:
        body: dict[str, object] = requests.get(base + location, timeout=5).json()
        return body if body["status"] in ("succeeded", "failed") else None

    assert wait_for(finished, 240, "the job to finish")["status"] == "succeeded"
    return location


def _stop_everything(serve: subprocess.Popen[bytes], parts: list[psutil.Process]) -> None:
    """After a failed test: no process of it may outlive the test run."""
    for part in [*parts, psutil.Process(serve.pid)]:
        with contextlib.suppress(psutil.Error):
            part.kill()
    serve.wait(30)


def test_serve_restarts_a_redis_server_that_dies(tmp_path: Path, sample_article: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve, log_path = _start_serve(tmp_path, port)
    stopped = False
    try:
        wait_for(lambda: answers_200(f"{base}/readyz"), 300, "readyz 200", interval_s=0.5)
        paragraph = _lead_paragraph(sample_article)
        before = _summarized(base, paragraph + " (before the crash)")
        (first,) = _redis_parts(serve)
        command_line = first.cmdline()
        first.kill()  # SIGKILL: no chance to flush anything more

        def restarted() -> list[psutil.Process]:
            return [p for p in _redis_parts(serve) if p.pid != first.pid]

        (second,) = wait_for(restarted, 30, "a new redis-server")
        # The same port (clients keep their URL) and the same data directory (its AOF).
        assert second.cmdline() == command_line
        assert "redis-server exited" in log_path.read_text()
        wait_for(lambda: answers_200(f"{base}/readyz"), 120, "readyz 200 again", interval_s=0.5)
        # The job that ended before the crash was kept on disk and read back.
        assert requests.get(base + before, timeout=5).json()["status"] == "succeeded"
        # The worker and the API found the new server: a new job runs to its end.
        _summarized(base, paragraph + " (after the crash)")
        os.killpg(serve.pid, signal.SIGINT)
        code = serve.wait(90)
        stopped = True
    finally:
        if not stopped:
            _stop_everything(serve, psutil.Process(serve.pid).children(recursive=True))
    output = log_path.read_text()
    assert code == 0, output[-3000:]
    assert output.index("stopped worker") < output.index("stopped redis-server"), output[-3000:]


def test_a_job_sent_after_redis_died_mid_batch_still_runs(
    tmp_path: Path, sample_article: str
) -> None:
    """Redis killed while a batch runs: once it has ended, a new job must still run.

    The consumer's reconnect clears its event loop's timers; celery-batches kept its handle
    on the flush timer (alive while the batch ran) and so never started a new one: the
    next job waited in the worker's buffer for good (issue 13, found by CI)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve, log_path = _start_serve(tmp_path, port)
    # The whole article: its job is still running when Redis is killed.
    article = sample_article
    stopped = False
    try:
        wait_for(lambda: answers_200(f"{base}/readyz"), 300, "readyz 200", interval_s=0.5)
        body = {"text": article + " (running when Redis dies)", "length": "headline"}
        response = requests.post(f"{base}/v1/summaries", json=body, timeout=10)
        assert response.status_code == 202, response.text
        running_at = base + response.headers["Location"]

        def status() -> str:
            return str(requests.get(running_at, timeout=5).json()["status"])

        wait_for(lambda: status() == "running", 120, "the first job to run", interval_s=0.05)
        (first,) = _redis_parts(serve)
        first.kill()
        wait_for(lambda: [p for p in _redis_parts(serve) if p.pid != first.pid], 30, "restart")
        wait_for(lambda: answers_200(f"{base}/readyz"), 120, "readyz 200 again", interval_s=0.5)
        wait_for(lambda: status() == "succeeded", 300, "the job that was running to succeed")
        # The worker is idle now, and connected again: a new job runs to its end.
        _summarized(base, _lead_paragraph(sample_article) + " (sent after Redis came back)")
        os.killpg(serve.pid, signal.SIGINT)
        code = serve.wait(90)
        stopped = True
    finally:
        if not stopped:
            _stop_everything(serve, psutil.Process(serve.pid).children(recursive=True))
    assert code == 0, log_path.read_text()[-3000:]


END_WITHIN_S = 300


def test_ctrl_c_with_jobs_in_flight_then_serve_again_ends_every_job(
    tmp_path: Path, sample_article: str
) -> None:
    """Issue 13's Done-when: Ctrl-C while jobs are queued and running, then `nutgraf serve`
    again on the same data: every job completes within minutes, not after the broker's
    visibility timeout."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The whole article: its jobs are still queued and running at the Ctrl-C.
    article = sample_article
    serve, log_path = _start_serve(tmp_path, port)
    locations: list[str] = []
    try:
        wait_for(lambda: answers_200(f"{base}/readyz"), 300, "readyz 200", interval_s=0.5)
        for n in range(6):
            body = {"text": f"{article} (in flight {n})", "length": "headline"}
            response = requests.post(f"{base}/v1/summaries", json=body, timeout=10)
            assert response.status_code == 202, response.text
            locations.append(response.headers["Location"])

        def statuses() -> list[str]:
            return [requests.get(base + at, timeout=5).json()["status"] for at in locations]

        wait_for(lambda: "running" in statuses(), 120, "a job to start", interval_s=0.2)
        os.killpg(serve.pid, signal.SIGINT)
        assert serve.wait(120) == 0, log_path.read_text()[-3000:]
    finally:
        if serve.poll() is None:
            _stop_everything(serve, psutil.Process(serve.pid).children(recursive=True))
    first_output = log_path.read_text()

    serve, log_path = _start_serve(tmp_path, port)  # the same data directory and port
    try:
        wait_for(lambda: answers_200(f"{base}/readyz"), 300, "readyz 200 again", interval_s=0.5)

        def all_ended() -> list[str] | None:
            now = statuses()
            return now if all(s in ("succeeded", "failed", "cancelled") for s in now) else None

        # Well inside the broker's visibility timeout (20 minutes by default): the jobs
        # were handed back or re-sent by the reconciler, not redelivered by Redis.
        assert Settings().visibility_timeout > END_WITHIN_S
        ended = wait_for(all_ended, END_WITHIN_S, "every job to end", interval_s=1)
        os.killpg(serve.pid, signal.SIGINT)
        assert serve.wait(120) == 0, log_path.read_text()[-3000:]
    finally:
        if serve.poll() is None:
            _stop_everything(serve, psutil.Process(serve.pid).children(recursive=True))
    assert ended == ["succeeded"] * len(locations), first_output[-3000:]
    assert "Couldn't reject" not in first_output, first_output[-3000:]


def test_a_second_ctrl_c_stops_everything_at_once(tmp_path: Path) -> None:
    port = free_port()
    serve, log_path = _start_serve(tmp_path, port)
    parts: list[psutil.Process] = []
    stopped = False
    try:
        wait_for(lambda: answers_200(f"http://127.0.0.1:{port}/healthz"), 120, "the API")
        parts = psutil.Process(serve.pid).children(recursive=True)
        workers = [
            p for p in parts if p.ppid() == serve.pid and "-m worker" in " ".join(p.cmdline())
        ]
        assert len(workers) == 2  # one per lane
        # Workers that would never finish their orderly stop: they cannot even take SIGTERM.
        for worker in workers:
            os.killpg(worker.pid, signal.SIGSTOP)
        os.killpg(serve.pid, signal.SIGINT)
        wait_for(lambda: "again to force" in log_path.read_text(), 30, "the orderly stop")
        os.killpg(serve.pid, signal.SIGINT)  # the impatient second Ctrl-C
        code = serve.wait(60)
        stopped = True
    finally:
        if not stopped:
            _stop_everything(serve, parts)
    output = log_path.read_text()
    assert code != 0, output[-3000:]
    assert "forcing" in output, output[-3000:]
    assert "stopped worker" not in output, output[-3000:]
    assert not [p for p in parts if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_summarize_command_reads_stdin(tmp_path: Path, sample_article: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nutgraf.cli", "summarize", "--length", "headline", "-"],
        input=sample_article,
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # stdout is the summary and nothing else: the logs went to stderr (issue 15).
    (summary,) = result.stdout.strip().splitlines()
    assert len(summary.split()) >= 3
    assert summary.endswith((".", "!", "?", '"'))


def test_unknown_model_is_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nutgraf.cli", "summarize", "--model", "not/a-real-model", "-"],
        input="Some text.",
        capture_output=True,
        text=True,
        env=_env(tmp_path, HF_HUB_OFFLINE="1"),
        timeout=300,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("nutgraf: model 'not/a-real-model' cannot be loaded")
