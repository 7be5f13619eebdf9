"""Throughput benchmark: the raw model against the full service, side by side, in one run.

    .venv/bin/python bench/throughput.py            # bundled model, CPU; a few minutes

Same articles, same model, same generation budget for every row. It prints articles/s
and generated tokens/s for the raw model one at a time, the raw model at its best batch
size, and the service (HTTP, Redis, a Celery worker) with N articles POSTed at once; then
latency of cache-hit POSTs and GETs under concurrent clients against /healthz on the
same server and a bare Flask app under the same gunicorn settings; then the worker's
peak memory against the size of the model's weights.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nutgraf import models  # noqa: E402
from nutgraf.contract import SummaryOptions  # noqa: E402
from nutgraf.settings import Settings, env_for_children  # noqa: E402
from nutgraf.store.server import RedisServer, free_port  # noqa: E402
from nutgraf.summarize import TOKEN_BUDGETS, Article, Summarizer, set_torch_threads  # noqa: E402

LENGTH = "short"


def make_articles(count: int, words: int) -> list[str]:
    """Distinct news articles of about `words` words, cut from the repo's real texts."""
    data = ROOT / "tests" / "data"
    pool = (data / "long-article.txt").read_text().split() + (
        data / "montenegro-nato.txt"
    ).read_text().split()
    step = max(1, (len(pool) - words) // max(1, count - 1))
    return [" ".join(pool[i * step : i * step + words]) + "." for i in range(count)]


def raw_run(summarizer: Summarizer, prompts: list[str], batch: int) -> tuple[float, int]:
    """generate() in a plain loop, `batch` prompts per call: (seconds, generated tokens)."""
    import torch

    loaded = summarizer.loaded
    tokenizer = loaded.tokenizer
    tokenizer.padding_side = "left"
    tokens = 0
    started = time.perf_counter()
    for i in range(0, len(prompts), batch):
        encoded = tokenizer(
            prompts[i : i + batch], return_tensors="pt", padding=True, add_special_tokens=False
        )
        with torch.inference_mode():
            out = loaded.model.generate(
                **encoded,
                max_new_tokens=TOKEN_BUDGETS[LENGTH][1],
                do_sample=False,
                repetition_penalty=1.1,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = out[:, encoded["input_ids"].shape[1] :]
        tokens += int((new != tokenizer.pad_token_id).sum())
    return time.perf_counter() - started, tokens


class Service:
    """Private Redis, one `nutgraf worker`, one `nutgraf api` (gunicorn) on loopback."""

    def __init__(self, settings: Settings, tmp: Path) -> None:
        self.redis = RedisServer(tmp / "redis")
        self.settings = settings
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> Service:
        self.redis.start()
        self.settings = self.settings.model_copy(update={"redis_url": self.redis.url})
        env = env_for_children(self.settings)
        for name in ("worker", "api"):
            with (self.tmp / f"{name}.log").open("wb") as log:
                self.procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "nutgraf.cli", name],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise TimeoutError("service not ready in 300 s")

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"http://127.0.0.1:{self.settings.port}"

    def worker_rss(self) -> dict[str, int]:
        """Resident memory of each worker process (the Celery parent, its pool), in bytes."""
        root = psutil.Process(self.procs["worker"].pid)
        sizes = {"parent": root.memory_info().rss}
        for index, child in enumerate(root.children(recursive=True)):
            sizes[f"pool {index + 1}"] = child.memory_info().rss
        return sizes

    def __exit__(self, *_: object) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.redis.stop()


def service_run(service: Service, texts: list[str]) -> tuple[float, int, dict[str, int]]:
    """POST every article at once, poll until all succeed: (seconds, tokens, peak RSS of
    each worker process)."""
    peak: dict[str, int] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for name, rss in service.worker_rss().items():
                peak[name] = max(peak.get(name, 0), rss)
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(len(texts)) as pool:
        posted = list(
            pool.map(
                lambda t: requests.post(
                    service.url + "/v1/summaries", json={"text": t, "length": LENGTH}, timeout=30
                ).json()["id"],
                texts,
            )
        )
    # One job polled at a time, in the order they were posted: jobs of one batch end
    # together, so the rest are then read back to back. Polling all 16 every 0.2 s took
    # ~5% of the machine's CPU from the worker being measured.
    pending, tokens = list(posted), 0
    deadline = time.monotonic() + 1800
    with requests.Session() as http:
        while pending and time.monotonic() < deadline:
            body = http.get(f"{service.url}/v1/summaries/{pending[0]}", timeout=10).json()
            if body["status"] == "failed":
                raise RuntimeError(f"job failed: {body['error']}")
            if body["status"] == "succeeded":
                pending.pop(0)
                tokens += body["output"]["tokens"]
            else:
                time.sleep(0.2)
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    if pending:
        raise TimeoutError(f"{len(pending)} jobs unfinished")
    return elapsed, tokens, peak


@contextlib.contextmanager
def bare_server() -> Iterator[str]:
    """bench/bare_app.py (one route, no middleware) under the API's gunicorn settings,
    while the block runs: the ceiling of the framework and server on this machine."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "bare_app.py"), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(url + "/healthz", timeout=2).raise_for_status()
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("bench/bare_app.py did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


WARM_UP_S = 2.0
WRK_POST = """
wrk.method = "POST"
wrk.body = [==[%s]==]
wrk.headers["Content-Type"] = "application/json"
"""


def load(url: str, method: str, body: Any, clients: int, seconds: float) -> dict[str, float]:
    """`clients` connections sending requests back to back for `seconds`: latency, rate.
    wrk (C, its own process) when installed; else Python threads, which share the
    server's cores and the GIL and so measure the load generator as much as the server."""
    run = wrk_load if shutil.which("wrk") else python_load
    # Warm-up, not counted: every server process booted and every connection pool filled.
    run(url, method, body, clients, WARM_UP_S)
    return run(url, method, body, clients, seconds)


def wrk_load(url: str, method: str, body: Any, clients: int, seconds: float) -> dict[str, float]:
    """Run wrk with 2 threads and `clients` connections; parse its latency percentiles."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if method == "POST":
            script.write(WRK_POST % json.dumps(body))
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{clients}", f"-d{seconds:.0f}s", "--latency", "-s", script.name,
             "--timeout", "10s", url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    if "Non-2xx" in out:
        raise RuntimeError(f"{method} {url}: non-2xx answers under load:\n{out}")
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def percentile(label: str) -> float:
        found = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not found:
            raise RuntimeError(f"no {label}% line in wrk's output:\n{out}")
        return float(found.group(1)) * units[found.group(2)]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rate, out
    return {"p50_ms": percentile("50"), "p99_ms": percentile("99"), "rps": float(rate.group(1))}


def python_load(url: str, method: str, body: Any, clients: int, seconds: float) -> dict[str, float]:
    """`clients` threads send requests back to back for `seconds`: latency and rate."""
    latencies: list[float] = []
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def client() -> None:
        mine = []
        with requests.Session() as http:
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                response = http.request(method, url, json=body, timeout=10)
                mine.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    raise RuntimeError(f"{method} {url}: {response.status_code}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "rps": len(latencies) / elapsed,
    }


def main() -> None:
    """Run every measurement and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--articles", type=int, default=16)
    parser.add_argument("--words", type=int, default=550, help="words per article")
    parser.add_argument("--batch-sizes", default="2,4,8")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="per latency row")
    args = parser.parse_args()

    settings = Settings(model=args.model, api_workers=2, log_level="INFO")
    set_torch_threads(os.cpu_count() or 1)
    spec = models.resolve(args.model)
    loaded = models.load(spec, "cpu", settings.cache_dir, settings.dtype)
    summarizer = Summarizer(models.backend_for(loaded))
    texts = make_articles(args.articles, args.words)
    options = SummaryOptions(length=LENGTH)
    prompts = [summarizer.prompt_for(Article(t, options=options)) for t in texts]
    prompt_tokens = statistics.mean(len(loaded.tokenizer(p)["input_ids"]) for p in prompts)
    print(f"model {spec.name}, {len(texts)} articles, {prompt_tokens:.0f} prompt tokens on "
          f"average, at most {TOKEN_BUDGETS[LENGTH][1]} new tokens, greedy, "
          f"{os.cpu_count()} cores, weights {loaded.model.dtype}")  # fmt: skip

    rows: list[tuple[str, float, float]] = []
    seconds, tokens = raw_run(summarizer, prompts, 1)
    rows.append(("raw, one at a time", len(texts) / seconds, tokens / seconds))
    best = (0.0, 0.0, 1)
    for size in (int(s) for s in args.batch_sizes.split(",")):
        seconds, tokens = raw_run(summarizer, prompts, size)
        rows.append((f"raw, batch {size}", len(texts) / seconds, tokens / seconds))
        best = max(best, (len(texts) / seconds, tokens / seconds, size))
    weights = sum(p.numel() * p.element_size() for p in loaded.model.parameters())
    del summarizer, loaded  # free the benchmark's copy before the worker loads its own

    service_settings = settings.model_copy(
        update={"batch_size": best[2], "port": free_port(), "worker_concurrency": 1}
    )
    with tempfile.TemporaryDirectory() as tmp, Service(service_settings, Path(tmp)) as svc:
        idle_rss = svc.worker_rss()
        seconds, tokens, peak = service_run(svc, texts)
        rows.append((f"service (batch {best[2]})", len(texts) / seconds, tokens / seconds))
        log = (Path(tmp) / "worker.log").read_text()
        sizes = re.findall(r"batch of (\d+) job", log)
        one = rows[0][1]
        print(f"\n{'':28}{'articles/s':>12}{'tokens/s':>12}{'vs one-at-a-time':>18}")
        for name, rate, tok in rows:
            print(f"{name:28}{rate:12.3f}{tok:12.1f}{rate / one:17.2f}x")
        print(f"service / raw one-at-a-time: {rows[-1][1] / one:.2f}x")
        print(f"service / raw best batch ({best[2]}): {rows[-1][1] / best[0]:.2f}x")
        print(f"service batches, in order: {' '.join(sizes)}")

        first = requests.post(svc.url + "/v1/summaries", json={"text": texts[0], "length": LENGTH})
        job_url = svc.url + first.headers.get("Location", f"/v1/summaries/{first.json()['id']}")
        cases = [
            ("GET /healthz (reference)", "GET", svc.url + "/healthz", None),
            ("POST cache hit", "POST", svc.url + "/v1/summaries",
             {"text": texts[0], "length": LENGTH}),
            ("GET /v1/summaries/<id>", "GET", job_url, None),
        ]  # fmt: skip
        tool = "wrk, 2 threads" if shutil.which("wrk") else "Python threads (install wrk)"
        print(f"\n{args.clients} concurrent clients, {args.seconds:.0f} s each after "
              f"{WARM_UP_S:.0f} s of warm-up ({tool})")  # fmt: skip
        print(f"{'':28}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}{'vs healthz':>12}")
        reference = 0.0
        for name, method, url, body in cases:
            result = load(url, method, body, args.clients, args.seconds)
            reference = reference or result["rps"]
            print(f"{name:28}{result['p50_ms']:10.1f}{result['p99_ms']:10.1f}"
                  f"{result['rps']:10.0f}{result['rps'] / reference:11.2f}x")  # fmt: skip
        with bare_server() as bare_url:
            result = load(bare_url + "/healthz", "GET", None, args.clients, args.seconds)
        print(f"{'bare Flask app, same server':28}{result['p50_ms']:10.1f}"
              f"{result['p99_ms']:10.1f}{result['rps']:10.0f}"
              f"{result['rps'] / reference:11.2f}x")  # fmt: skip

    mb = 1024 * 1024
    budget = 1.5 * weights + 300 * mb
    print(f"\nworker memory, per process: weights {weights / mb:.0f} MB; "
          f"target 1.5 x weights + 300 MB = {budget / mb:.0f} MB")  # fmt: skip
    for name, rss in peak.items():
        print(f"  {name:10} idle {idle_rss.get(name, 0) / mb:6.0f} MB   peak {rss / mb:6.0f} MB"
              f"   {'met' if rss <= budget else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
