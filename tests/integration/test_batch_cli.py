"""`nutgraf batch` and the Python client against the real service: the API over HTTP on
loopback, a real Redis and (for the one model-backed test) a real worker."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from helpers import REPO, STORY, WorkerProcess, run_on_a_terminal, serve, wait_for
from nutgraf.client import BatchItemResult, Client, NutgrafError
from nutgraf.settings import Settings
from service import create_app


def story(tag: str) -> str:
    """An article no other test sends (so no cache hit hides the work)."""
    return f"{STORY} The meeting ({tag}) lasted three hours."


@pytest.fixture(scope="module")
def url(app: Flask) -> Iterator[str]:
    """The test deployment's API (the session's Redis and worker queue) over HTTP."""
    yield from serve(app)


@pytest.fixture()
def keyed_url(settings: Settings, own_redis_url: str) -> Iterator[str]:
    """An API that wants the key `batch-key` (own Redis database: fresh rate budgets)."""
    update = {"redis_url": own_redis_url, "api_keys": ["batch-key"]}
    yield from serve(create_app(settings.model_copy(update=update)))


def run_batch(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m nutgraf batch ...` as a user runs it, to the end."""
    return subprocess.run(
        [sys.executable, "-m", "nutgraf", "batch", *map(str, args)],
        capture_output=True,
        text=True,
        env=cli_env(**(env or {})),
        cwd=REPO,
        timeout=300,
    )


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no NUTGRAF_* from the test run, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUTGRAF_")}
    return env | {"NUTGRAF_LOG_FORMAT": "text"} | extra


def write_jsonl(path: Path, records: list[Any]) -> Path:
    """One JSON value per line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The output's records."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- the client against the service -----------------------------------------------------


def test_client_summarizes_one_article(url: str) -> None:
    text = story("client-one")
    with Client(url) as client:
        job = client.summarize(text, mode="extractive", length="short", idempotency_key="k-1")
        again = client.summarize(text, mode="extractive", length="short", idempotency_key="k-1")
        assert client.get(job.id).summary == job.summary
        with pytest.raises(NutgrafError) as missing:
            client.get("no-such-job")
    assert job.ok and job.summary and job.sentences
    assert all(text[s.start : s.end] == s.text for s in job.sentences)
    assert again.id == job.id
    assert (missing.value.status, missing.value.code) == (404, "not_found")


def test_client_batch_yields_every_item_once_as_it_ends(url: str) -> None:
    records: list[dict[str, Any]] = [
        {"id": f"item-{n}", "text": story(f"client-batch-{n}"), "section": "not sent"}
        for n in range(23)
    ]
    records.append({"id": "blank", "text": "   "})
    records.append({"id": "bad-option", "text": story("bad-option"), "length": "epic"})
    with Client(url) as client:
        results = list(client.batch(iter(records), chunk_size=7, mode="extractive"))
    assert all(isinstance(r, BatchItemResult) for r in results)
    assert Counter(r.id for r in results) == Counter(r["id"] for r in records)
    by_id = {r.id: r for r in results}
    assert all(by_id[f"item-{n}"].ok and by_id[f"item-{n}"].summary for n in range(23))
    assert len({r.job_id for r in results}) == len(results)
    for bad in ("blank", "bad-option"):
        error = by_id[bad].error
        assert by_id[bad].status == "failed" and error is not None
        assert error.code == "invalid_request"


# -- the command line ---------------------------------------------------------------------


def test_batch_writes_results_with_the_input_fields_and_shows_progress(
    url: str, tmp_path: Path
) -> None:
    records = [
        {"id": n, "text": story(f"cli-{n}"), "section": "city", "meta": {"rank": n}}
        for n in range(12)
    ]
    source = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "results" / "out.jsonl"
    args = [sys.executable, "-m", "nutgraf", "batch", str(source), "-o", str(out)]
    args += ["--url", url, "--mode", "extractive", "--chunk-size", "5"]
    done = run_on_a_terminal(args, env=cli_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "12 succeeded, 0 failed, 0 skipped"
    # tqdm's bar, on the terminal: count, elapsed<remaining (the ETA) and the rate.
    assert re.search(r"12/12 \[[\d:]+<[\d:?]+, +[\d.]+article/s", done.stderr), done.stderr
    lines = read_lines(out)
    assert sorted(line["id"] for line in lines) == list(range(12))
    for line in lines:
        assert list(line)[:3] == ["id", "status", "summary"]
        assert line["status"] == "succeeded" and line["summary"]
        assert line["section"] == "city" and line["meta"] == {"rank": line["id"]}
        assert line["options"]["mode"] == "extractive" and line["job_id"]
        assert "text" not in line and "callback" not in line

    again = run_batch(source, "-o", out, "--url", url, "--mode", "extractive")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == "0 succeeded, 0 failed, 12 skipped"
    assert "article/s" not in again.stderr  # no bar where stderr is not a terminal
    assert read_lines(out) == lines


def test_batch_reads_a_folder_of_text_files(url: str, tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    (folder / "2026" / "jan").mkdir(parents=True)
    (folder / "2026" / "jan" / "harbor.txt").write_text(story("folder-1"), encoding="utf-8")
    (folder / "library.txt").write_text(story("folder-2"), encoding="utf-8")
    (folder / "notes.md").write_text("not an article", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    done = run_batch(folder, "-o", out, "--url", url, "--mode", "extractive", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "article/s" not in done.stderr
    assert sorted(line["id"] for line in read_lines(out)) == ["2026/jan/harbor", "library"]


def test_bad_input_is_reported_by_line_and_nothing_is_sent(
    url: str, tmp_path: Path, redis_client: redis.Redis
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(
            [
                json.dumps({"id": "ok", "text": story("bad-input")}),
                "{not json",
                json.dumps({"text": "no id"}),
                json.dumps({"id": "no-text"}),
                "",
                json.dumps({"id": "ok", "text": "again"}),
                json.dumps(["a list"]),
                json.dumps({"id": "blank", "text": " "}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    batches_before = len(redis_client.keys("nutgraf:batch:*"))
    done = run_batch(source, "-o", out, "--url", url)
    assert done.returncode == 2
    problems = [line for line in done.stderr.splitlines() if line.startswith(str(source))]
    assert [p.removeprefix(f"{source}: ").split(":")[0] for p in problems] == [
        "line 2",
        "line 3",
        "line 4",
        "line 6",
        "line 7",
        "line 8",
    ]
    assert "duplicate id 'ok' (first on line 1)" in done.stderr
    assert "6 bad record(s)" in done.stderr and "nothing was sent" in done.stderr
    assert not out.exists()
    assert len(redis_client.keys("nutgraf:batch:*")) == batches_before


def test_failed_items_exit_1_and_are_sent_again_only_when_asked(url: str, tmp_path: Path) -> None:
    records = [
        {"id": "good", "text": story("retry-good"), "mode": "extractive"},
        {"id": "bad", "text": story("retry-bad"), "mode": "extractive", "max_words": 2},
    ]
    source = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    first = run_batch(source, "-o", out, "--url", url)
    assert first.returncode == 1, first.stderr
    assert first.stdout.strip().endswith("1 succeeded, 1 failed, 0 skipped")
    failed = next(line for line in read_lines(out) if line["id"] == "bad")
    assert failed["status"] == "failed" and failed["error"]["code"] == "invalid_request"
    assert failed["max_words"] == 2  # the input's fields come back, even option ones

    skipped = run_batch(source, "-o", out, "--url", url)
    assert skipped.returncode == 1
    assert "0 succeeded, 0 failed, 2 skipped (1 of them failed before" in skipped.stdout

    records[1]["max_words"] = 40  # fixed: now it can succeed
    write_jsonl(source, records)
    retried = run_batch(source, "-o", out, "--url", url, "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.strip().endswith("1 succeeded, 0 failed, 1 skipped")
    lines = read_lines(out)
    assert sorted(line["id"] for line in lines) == ["bad", "good"]
    assert all(line["status"] == "succeeded" for line in lines)


def test_a_wrong_url_exits_2_at_once_names_it_and_leaves_no_output(tmp_path: Path) -> None:
    # Issue 15: retried silently for 18 s, exit 1, an empty output file, no URL said.
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": story("wrong-url")}])
    out = tmp_path / "out" / "results.jsonl"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))  # ours, and nobody listens: connection refused
        url = f"http://127.0.0.1:{holder.getsockname()[1]}"
        done = run_batch(source, "-o", out, "--url", url, "--no-progress")
    assert done.returncode == 2, done.stderr
    assert f"POST {url}/v1/batches: ConnectError" in done.stderr
    assert "nothing was sent" in done.stderr
    assert "retry" not in done.stderr
    assert not out.exists() and not out.parent.exists()


def test_the_key_comes_from_the_flag_or_nutgraf_api_key(keyed_url: str, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": story("keyed")}])
    args = ("--url", keyed_url, "--mode", "extractive", "--no-progress")
    refused = run_batch(source, "-o", tmp_path / "none.jsonl", *args)
    assert refused.returncode == 2  # nothing was sent
    assert "401 unauthorized" in refused.stderr
    assert not (tmp_path / "none.jsonl").exists()
    flag = run_batch(source, "-o", tmp_path / "flag.jsonl", *args, "--api-key", "batch-key")
    assert flag.returncode == 0, flag.stderr
    env = run_batch(
        source, "-o", tmp_path / "env.jsonl", *args, env={"NUTGRAF_API_KEY": "batch-key"}
    )
    assert env.returncode == 0, env.stderr


def test_ctrl_c_then_a_second_run_resumes_without_duplicates(
    url: str, tmp_path: Path, worker_process: WorkerProcess
) -> None:
    # No worker while the first run goes: its model items stay queued, so Ctrl-C surely
    # comes with work left (the extractive items are answered by the API itself).
    worker_process.stop()
    tag = uuid.uuid4().hex[:8]
    records = [
        {"id": f"x{n}", "text": story(f"resume-{tag}-{n}"), "mode": "extractive", "n": n}
        for n in range(6)
    ]
    headlines = [
        "Lakeport will build a new library on Harbor Street, the council decided on Tuesday.",
        "Floods closed the coastal road near Lakeport for two days, the police said on Monday.",
    ]
    records += [
        {"id": f"m{n}", "text": f"{text} ({tag})", "length": "headline", "max_words": 12}
        for n, text in enumerate(headlines)
    ]
    source = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "nutgraf", "batch", str(source), "-o", str(out)]
    command += ["--url", url, "--chunk-size", "2"]
    first = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        # As from a terminal: a test run started in the background (`&` in a script)
        # ignores SIGINT, and a child would inherit that and never see the Ctrl-C.
        preexec_fn=_ctrl_c_as_on_a_terminal,
    )
    try:
        wait_for(lambda: out.exists() and len(read_lines(out)) == 6, 60, "the extractive lines")
        assert first.poll() is None, "the first run ended with items still queued"
        first.send_signal(signal.SIGINT)  # what Ctrl-C does
        _stdout, stderr = first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 130, stderr
    assert "interrupted; 6 result(s) written" in stderr
    assert sorted(line["id"] for line in read_lines(out)) == [f"x{n}" for n in range(6)]

    worker_process.start()
    second = run_batch(source, "-o", out, "--url", url, "--chunk-size", "2")
    assert second.returncode == 0, second.stderr + worker_process.log_tail()
    assert second.stdout.strip().splitlines()[-1] == "2 succeeded, 0 failed, 6 skipped"
    lines = read_lines(out)
    assert Counter(line["id"] for line in lines) == Counter(r["id"] for r in records)
    model_lines = [line for line in lines if line["id"].startswith("m")]
    assert all(line["status"] == "succeeded" and line["summary"] for line in model_lines)
    assert all(line["options"]["mode"] == "abstractive" for line in model_lines)
    assert all(line["n"] == int(line["id"][1:]) for line in lines if "n" in line)


def _ctrl_c_as_on_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
