"""Throughput benchmark: the raw model against the full service, side by side, in one run.

    make bench        # bundled model, CPU; about 20 minutes (--data news.jsonl: real news)

Same articles and token budget in every model row: the raw model (generate() with the
service's beam width, ungrounded, no checks or second drafts) per batch size and precision;
the service with default settings, every article POSTed at once, against the raw model's
best batch in the fastest precision; cache-hit POSTs and job GETs at 50 clients against
/healthz (twice) and a bare Flask app on the same server; the worker's peak memory."""

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
# As the worker runs (nutgraf.programs), before torch loads: the raw rows are then timed the
# way the service's worker computes, and torch's threads never spin against its processes.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from nutgraf import models  # noqa: E402
from nutgraf.contract import SummaryOptions  # noqa: E402
from nutgraf.contract.options import Length  # noqa: E402
from nutgraf.models import Backend  # noqa: E402
from nutgraf.models.backend import BEAM_SEARCH  # noqa: E402
from nutgraf.settings import Settings, env_for_children  # noqa: E402
from nutgraf.store.server import RedisServer, free_port  # noqa: E402
from nutgraf.summarize import TOKEN_BUDGETS, Article, Summarizer, set_torch_threads  # noqa: E402

LENGTH: Length = "medium"
PRECISIONS = ("float32", "bfloat16")
# The Done-when of issue 16: what the service must reach against the raw model and /healthz.
SERVICE_VS_RAW = 0.85
HIT_RATE_VS_HEALTHZ = 0.5
HIT_P99_VS_HEALTHZ = 2.0
MET = {True: "met", False: "NOT met"}


def read_articles(path: Path, count: int) -> list[str]:
    """The `text` of the first `count` records of a JSON Lines file."""
    with path.open() as lines:
        texts = [json.loads(line)["text"] for line in lines if line.strip()]
    return texts[:count]


def make_articles(count: int, words: int) -> list[str]:
    """Distinct news articles of about `words` words, cut from the repo's real texts."""
    data = ROOT / "tests" / "data"
    pool = (data / "long-article.txt").read_text().split() + (
        data / "montenegro-nato.txt"
    ).read_text().split()
    step = max(1, (len(pool) - words) // max(1, count - 1))
    return [" ".join(pool[i * step : i * step + words]) + "." for i in range(count)]


def raw_run(
    backend: Backend, prompts: list[str], batch: int, length: Length = LENGTH
) -> tuple[float, int]:
    """The model alone, `batch` prompts per generate() call, with the service's beam width
    and the length's token budget, but ungrounded (no logits processor, no repetition
    rule, no checks, no second drafts) and as transformers does it (each prompt read once
    per beam; the service reads it once): (seconds, generated tokens)."""
    import torch

    min_new, max_new = TOKEN_BUDGETS[length]
    model, tokenizer = backend.loaded.model, backend.tokenizer
    tokens = 0
    started = time.perf_counter()
    for i in range(0, len(prompts), batch):
        encoded = backend._encode_batch(prompts[i : i + batch])
        with torch.inference_mode():
            output = model.generate(
                **encoded,
                num_beams=BEAM_SEARCH["num_beams"],
                min_new_tokens=min_new,
                max_new_tokens=max_new,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        answers, _ = backend._answers(output, encoded)
        tokens += int((answers != tokenizer.pad_token_id).sum())
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


def service_run(
    service: Service, texts: list[str], length: Length = LENGTH
) -> tuple[float, int, dict[str, int], int]:
    """POST every article at once, poll until all succeed: (seconds, tokens, peak RSS of
    each worker process, summaries drafted twice)."""
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
                    service.url + "/v1/summaries", json={"text": t, "length": length}, timeout=30
                ).json()["id"],
                texts,
            )
        )
    # One job polled at a time, in the order they were posted: jobs of one batch end
    # together, so the rest are then read back to back. Polling every job at a short
    # interval took CPU from the worker being measured (docs/benchmarks.md).
    pending, tokens, redrafts = list(posted), 0, 0
    deadline = time.monotonic() + 1800
    with requests.Session() as http:
        while pending and time.monotonic() < deadline:
            body = http.get(f"{service.url}/v1/summaries/{pending[0]}", timeout=10).json()
            if body["status"] == "failed":
                raise RuntimeError(f"job failed: {body['error']}")
            if body["status"] == "succeeded":
                pending.pop(0)
                tokens += (body["output"] or {}).get("tokens", 0)
                redrafts += bool((body["checks"] or {}).get("regenerated"))
            else:
                time.sleep(0.2)
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    if pending:
        raise TimeoutError(f"{len(pending)} jobs unfinished")
    return elapsed, tokens, peak, redrafts


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


def raw_rows(
    spec: models.ModelSpec, settings: Settings, texts: list[str], sizes: list[int], length: Length
) -> tuple[dict[str, dict[int, tuple[float, float]]], dict[str, int], float]:
    """Per precision and batch size, the raw model's (articles/s, tokens/s); the weights'
    bytes per precision; the prompts' mean length in tokens."""
    rates: dict[str, dict[int, tuple[float, float]]] = {}
    weights: dict[str, int] = {}
    prompt_tokens = 0.0
    options = SummaryOptions(length=length)
    for precision in PRECISIONS:
        loaded = models.load(spec, "cpu", settings.cache_dir, precision)
        backend = models.backend_for(loaded, settings.max_input_tokens or spec.reading_window)
        summarizer = Summarizer(backend)
        prompts = [summarizer.prompt_for(Article(t, options=options)) for t in texts]
        prompt_tokens = statistics.mean(backend.count(p) for p in prompts)
        weights[precision] = sum(p.numel() * p.element_size() for p in loaded.model.parameters())
        backend.generate(prompts[:1], 8)  # warm-up, not counted
        rates[precision] = {}
        for size in sizes:
            seconds, tokens = raw_run(backend, prompts, size, length)
            rates[precision][size] = (len(texts) / seconds, tokens / seconds)
        del summarizer, backend, loaded  # freed before the next precision and the worker
    return rates, weights, prompt_tokens


def main() -> None:
    """Run every measurement and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--data", type=Path, help="JSON Lines with `text` (default: repo texts)")
    parser.add_argument("--length", default=LENGTH, choices=list(TOKEN_BUDGETS))
    parser.add_argument("--articles", type=int, default=16)
    parser.add_argument(
        "--words",
        default="250,550,900",
        help="words per made-up article, in turn: short and long mixed, as in a newsroom",
    )
    parser.add_argument("--batch-sizes", default="1,4,8")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="per latency row")
    args = parser.parse_args()

    settings = Settings(model=args.model, log_level="INFO")
    set_torch_threads(os.cpu_count() or 1)
    spec = models.resolve(args.model)
    if args.data:
        texts = read_articles(args.data, args.articles)
    else:
        lengths = [int(w) for w in args.words.split(",")]
        texts = [
            make_articles(args.articles, lengths[i % len(lengths)])[i] for i in range(args.articles)
        ]
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    length: Length = args.length
    min_new, max_new = TOKEN_BUDGETS[length]
    rates, weights, prompt_tokens = raw_rows(spec, settings, texts, sizes, length)
    print(f"model {spec.name}, {len(texts)} articles, {prompt_tokens:.0f} prompt tokens on "
          f"average, {length}: {min_new}-{max_new} new tokens, beam search, "
          f"{os.cpu_count()} cores")  # fmt: skip

    print("\nraw model (generate(), the service's decoding, ungrounded)")
    print(f"{'':18}" + "".join(f"{p + ' art/s':>16}{'tok/s':>9}" for p in PRECISIONS))
    for size in sizes:
        cells = "".join(f"{rates[p][size][0]:16.3f}{rates[p][size][1]:9.1f}" for p in PRECISIONS)
        print(f"{'batch ' + str(size):18}{cells}")
    best = {p: max(sizes, key=lambda size: rates[p][size][0]) for p in PRECISIONS}
    fastest = max(PRECISIONS, key=lambda p: rates[p][best[p]][0])
    print(f"{'best batch':18}" + "".join(f"{best[p]:16d}{'':9}" for p in PRECISIONS))
    print(f"fastest: {fastest} at batch {best[fastest]}, "
          f"{rates[fastest][best[fastest]][0] / rates['float32'][best['float32']][0]:.2f}x "
          f"float32's best")  # fmt: skip

    service_settings = settings.model_copy(update={"port": free_port()})
    with tempfile.TemporaryDirectory() as tmp, Service(service_settings, Path(tmp)) as svc:
        ready = requests.get(svc.url + "/readyz", timeout=10).json()
        idle_rss = svc.worker_rss()
        seconds, tokens, peak, redrafts = service_run(svc, texts, length)
        log = (Path(tmp) / "worker.log").read_text()
        sizes_run = re.findall(r"batch of (\d+) job", log)
        service_rate = len(texts) / seconds
        ratio = service_rate / rates[fastest][best[fastest]][0]
        print(f"\nservice, default settings (dtype {ready.get('dtype')}, batch size "
              f"{settings.batch_size}; batches run: {' '.join(sizes_run)}; "
              f"{redrafts} of {len(texts)} drafted twice)")  # fmt: skip
        print(f"{'service':18}{service_rate:16.3f}{tokens / seconds:9.1f}")
        print(f"service / raw best batch in the fastest precision ({fastest}, batch "
              f"{best[fastest]}): {ratio:.2f}x   target >= {SERVICE_VS_RAW}x: "
              f"{MET[ratio >= SERVICE_VS_RAW]}")  # fmt: skip

        body = {"text": texts[0], "length": length}
        first = requests.post(svc.url + "/v1/summaries", json=body, timeout=30)
        job_url = svc.url + first.headers.get("Location", f"/v1/summaries/{first.json()['id']}")
        cases = [
            ("GET /healthz (reference)", "GET", svc.url + "/healthz", None),
            ("POST cache hit", "POST", svc.url + "/v1/summaries", body),
            ("GET /v1/summaries/<id>", "GET", job_url, None),
            # Again: a slow pass (connections bunched on one API process, a busy core) must
            # not flatter the ratios, so the better of the two passes is the reference.
            ("GET /healthz, again", "GET", svc.url + "/healthz", None),
        ]
        tool = "wrk, 2 threads" if shutil.which("wrk") else "Python threads (install wrk)"
        print(f"\n{args.clients} concurrent clients, {args.seconds:.0f} s each after "
              f"{WARM_UP_S:.0f} s of warm-up ({tool})")  # fmt: skip
        print(f"{'':28}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}{'vs healthz':>12}")
        results: dict[str, dict[str, float]] = {}
        for name, method, url, payload in cases:
            results[name] = load(url, method, payload, args.clients, args.seconds)
        with bare_server() as bare_url:
            results["bare Flask app, same server"] = load(
                bare_url + "/healthz", "GET", None, args.clients, args.seconds
            )
        twice = (results["GET /healthz (reference)"], results["GET /healthz, again"])
        reference = {"rps": max(r["rps"] for r in twice), "p99_ms": min(r["p99_ms"] for r in twice)}
        for name, result in results.items():
            print(f"{name:28}{result['p50_ms']:10.1f}{result['p99_ms']:10.1f}"
                  f"{result['rps']:10.0f}{result['rps'] / reference['rps']:11.2f}x")  # fmt: skip
        hit = results["POST cache hit"]
        rate_ratio, p99_ratio = hit["rps"] / reference["rps"], hit["p99_ms"] / reference["p99_ms"]
        print(f"cache hit / healthz: req/s {rate_ratio:.2f}x (target >= {HIT_RATE_VS_HEALTHZ}x: "
              f"{MET[rate_ratio >= HIT_RATE_VS_HEALTHZ]}), p99 {p99_ratio:.2f}x (target <= "
              f"{HIT_P99_VS_HEALTHZ}x: {MET[p99_ratio <= HIT_P99_VS_HEALTHZ]})")  # fmt: skip

    mb = 1024 * 1024
    served = str(ready.get("dtype") or "float32").split()[0]
    size = weights.get(served, weights["float32"])
    budget = 1.5 * size + 300 * mb
    print(f"\nworker memory, per process: weights {size / mb:.0f} MB ({served}); "
          f"target 1.5 x weights + 300 MB = {budget / mb:.0f} MB")  # fmt: skip
    for name, rss in peak.items():
        print(f"  {name:10} idle {idle_rss.get(name, 0) / mb:6.0f} MB   peak {rss / mb:6.0f} MB"
              f"   {MET[rss <= budget]}")  # fmt: skip


if __name__ == "__main__":
    main()
