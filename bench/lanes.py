"""Lanes as a newsroom meets them, through `nutgraf serve` with default settings.

One run, in order:
1. idle: short summaries of single articles, one after another, nothing else running;
2. a batch of bulk articles (medium) starts; while it runs, short single summaries are sent
   one after another, each timed to its end, and a queued item of the batch is read;
3. DELETE of a running single job, timed to `cancelled`; a second POST with the same `ref`;
4. the batch runs on alone to its end.

It prints each single's time against the idle median, and the batch's throughput while the
singles flowed against its throughput alone (articles ended per second in each window).

    .venv/bin/python bench/lanes.py --data ../shared/data/news-dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from nutgraf.store.server import free_port


def _wait(check: Any, timeout_s: float, what: str, interval_s: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval_s)
    raise TimeoutError(what)


def _ended(client: httpx.Client, job_id: str) -> dict[str, Any] | None:
    body: dict[str, Any] = client.get(f"/v1/summaries/{job_id}").json()
    return body if body["status"] in ("succeeded", "failed", "cancelled") else None


def single(client: httpx.Client, text: str, **fields: Any) -> tuple[float, dict[str, Any]]:
    """POST one article and wait for its end: seconds from the POST, and the final body."""
    started = time.monotonic()
    body = client.post("/v1/summaries", json={"text": text, **fields}).json()
    final = _wait(lambda: _ended(client, body["id"]), 1800, f"job {body['id']}", 0.2)
    return time.monotonic() - started, final


def ended_items(client: httpx.Client, batch_id: str) -> int:
    counts = client.get(f"/v1/batches/{batch_id}").json()["counts"]
    return int(counts["total"] - counts["queued"] - counts["running"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="JSONL of {id, text}")
    parser.add_argument("--idle", type=int, default=3, help="single jobs timed idle")
    parser.add_argument("--batch", type=int, default=40, help="bulk articles in the batch")
    parser.add_argument("--singles", type=int, default=5, help="single jobs during the batch")
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for line in args.data.read_text().splitlines()]
    need = args.idle + args.batch + args.singles + 3
    assert len(texts) >= need, f"{need} articles are needed"
    port, redis_port = free_port(), free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="nutgraf-lanes-"))
    env = {
        **os.environ,
        "NUTGRAF_PORT": str(port),
        "NUTGRAF_REDIS_PORT": str(redis_port),
        "NUTGRAF_DATA_DIR": str(data_dir),
        "NUTGRAF_LOG_FORMAT": "text",
    }
    env.pop("NUTGRAF_REDIS_URL", None)
    log_path = data_dir / "serve.log"
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "nutgraf.cli", "serve"], env=env, stdout=log, stderr=log
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    report: dict[str, Any] = {"cpu": _cpu()}
    try:
        _wait(lambda: _ready(client), 600, "the service to be ready (both workers)", 1)
        shorts = iter(texts[args.batch :])
        idle = [single(client, next(shorts), length="short")[0] for _ in range(args.idle)]
        idle_s = statistics.median(idle)
        report["idle_s"] = [round(s, 1) for s in idle]
        print(f"idle single (short): {[round(s, 1) for s in idle]} s, median {idle_s:.1f} s")

        items = [{"id": str(i), "text": texts[i]} for i in range(args.batch)]
        batch = client.post("/v1/batches", json={"items": items, "length": "medium"}).json()
        batch_id = batch["id"]
        batch_started = time.monotonic()
        _wait(lambda: client.get(f"/v1/batches/{batch_id}").json()["counts"]["running"], 600, "")
        page = client.get(f"/v1/batches/{batch_id}/results", params={"limit": 100}).json()
        queued = [item for item in page["items"] if item["status"] == "queued"]
        report["queued_item"] = queued[-1]["queue"] if queued else None
        print(f"a queued item of the batch: {report['queued_item']}")
        print(f"the batch: eta_s {client.get(f'/v1/batches/{batch_id}').json()['eta_s']}")

        window_start, ended_at_start = time.monotonic(), ended_items(client, batch_id)
        during = []
        for _ in range(args.singles):
            seconds, final = single(client, next(shorts), length="short")
            during.append(seconds)
            print(
                f"single during the batch: {seconds:.1f} s ({seconds / idle_s:.2f}x idle), "
                f"{final['status']}"
            )
        window_end, ended_at_end = time.monotonic(), ended_items(client, batch_id)
        report["during_s"] = [round(s, 1) for s in during]
        report["during_x_idle"] = [round(s / idle_s, 2) for s in during]

        # Cancel that stops: a long single, DELETEd once it runs.
        long_job = client.post(
            "/v1/summaries", json={"text": next(shorts), "length": "long"}
        ).json()
        _wait(
            lambda: client.get(f"/v1/summaries/{long_job['id']}").json()["status"] == "running",
            600,
            "the long job to run",
            0.2,
        )
        deleted_at = time.monotonic()
        answer = client.delete(f"/v1/summaries/{long_job['id']}")
        _wait(
            lambda: client.get(f"/v1/summaries/{long_job['id']}").json()["status"] == "cancelled",
            60,
            "cancelled",
            0.1,
        )
        report["delete"] = {
            "status": answer.status_code,
            "cancelled_after_s": round(time.monotonic() - deleted_at, 2),
        }
        print(f"DELETE of a running job: {report['delete']}")

        # Revisions supersede.
        first = client.post("/v1/summaries", json={"text": next(shorts), "ref": "story-1"}).json()
        second = client.post("/v1/summaries", json={"text": next(shorts), "ref": "story-1"}).json()
        old = client.get(f"/v1/summaries/{first['id']}").json()
        report["supersede"] = {"first": old["status"], "error": old["error"]}
        print(f"a second POST with the same ref: the first is {old['status']}, {old['error']}")
        _wait(lambda: _ended(client, second["id"]), 1800, "the newer revision")

        alone_start, ended_at_alone = time.monotonic(), ended_items(client, batch_id)
        final = _wait(
            lambda: (b := client.get(f"/v1/batches/{batch_id}").json())["completed_at"] and b,
            7200,
            "the batch",
            2,
        )
        alone_end = time.monotonic()
        report["batch"] = {
            "status": final["status"],
            "counts": final["counts"],
            "seconds": round(alone_end - batch_started, 1),
        }
        with_rate = (ended_at_end - ended_at_start) / (window_end - window_start)
        alone_rate = (args.batch - ended_at_alone) / (alone_end - alone_start)
        report["bulk_rate_with_singles"] = round(with_rate, 4)
        report["bulk_rate_alone"] = round(alone_rate, 4)
        print(f"batch: {final['status']} {final['counts']} in {alone_end - batch_started:.0f} s")
        print(
            f"bulk articles/s while singles flowed: {with_rate:.4f} "
            f"({ended_at_end - ended_at_start} in {window_end - window_start:.0f} s); "
            f"alone: {alone_rate:.4f} ({args.batch - ended_at_alone} in "
            f"{alone_end - alone_start:.0f} s); ratio {with_rate / alone_rate:.2f}"
        )
        print(json.dumps(report))
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(120)
    return 0


def _ready(client: httpx.Client) -> bool:
    try:
        ready = client.get("/readyz")
    except httpx.HTTPError:
        return False
    if ready.status_code != 200:
        return False
    return int(ready.json().get("workers", 0)) >= 2  # a worker per lane, model loaded


def _cpu() -> str:
    flags = Path("/proc/cpuinfo").read_text()
    wanted = [f for f in ("avx512_bf16", "amx_bf16", "avx2") if f" {f}" in flags]
    return f"{os.cpu_count()} cores, {' '.join(wanted)}"


if __name__ == "__main__":
    raise SystemExit(main())
