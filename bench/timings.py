"""Speed figures that unit tests used to assert, measured here and printed instead.

    .venv/bin/python bench/timings.py     # a few seconds; one JSON object per line

The tests keep asserting what the code does; how fast it does it depends on the machine
and on who else shares its cores, so it is a figure to read, not a test to fail. Each line
names the bound the test once held it to (`was`), so a regression is easy to spot.
"""

from __future__ import annotations

import http.client
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nutgraf.client import Client, NutgrafError  # noqa: E402
from nutgraf.settings import Settings  # noqa: E402
from nutgraf.store.server import RedisServer  # noqa: E402
from nutgraf.summarize.provenance import support_for  # noqa: E402

MONTENEGRO = (ROOT / "tests" / "data" / "montenegro-nato.txt").read_text("utf-8")
JOB = {
    "id": "job1",
    "status": "succeeded",
    "summary": "Done.",
    "bullets": None,
    "sentences": None,
    "checks": None,
    "model": {"name": "smollm2-135m", "revision": "r1"},
    "options": {"length": "medium"},
    "cached": False,
    "created_at": "2026-01-01T00:00:00.000Z",
    "completed_at": "2026-01-01T00:00:01.000Z",
    "input": {"characters": 10},
    "output": None,
    "error": None,
    "callback": None,
}


def report(name: str, was: str, **figures: Any) -> None:
    """One figure as a JSON line on stdout."""
    print(json.dumps({"name": name, "was": was, **figures}), flush=True)


def median_ms(step: Callable[[], Any], runs: int) -> float:
    """The median wall time of `step` over `runs` runs, in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 2)


def provenance() -> None:
    """support_for on a 1,000-word article (tests/summarize/test_provenance.py)."""
    paragraphs = MONTENEGRO.split("\n\n")
    article = "\n\n".join(paragraphs * 3)
    units = [p.split(". ")[0] + "." for p in paragraphs[:7]]
    support_for(units, article)  # warm the regular expressions
    per_call = median_ms(lambda: support_for(units, article), 20)
    report("provenance.support_for", "< 20 ms a call", words=len(article.split()), ms=per_call)


def cache_hit(redis_url: str, data_dir: Path) -> None:
    """A repeated POST answered from the cache (tests/integration/test_summaries.py timed
    one after a model job; an extractive summary is cached by the API alone)."""
    from service import create_app

    settings = Settings(redis_url=redis_url, model="smollm2-135m", data_dir=data_dir)
    client = create_app(settings).test_client()
    body = {"text": MONTENEGRO, "mode": "extractive", "length": "short"}
    first = client.post("/v1/summaries", json=body)
    assert first.status_code == 200, first.get_json()
    again = {**body, "text": "  " + MONTENEGRO.replace("\n", " ")}

    def hit() -> None:
        response = client.post("/v1/summaries", json=again)
        assert response.get_json()["cached"] is True

    report("service.cache_hit_post", "< 1 s", ms=median_ms(hit, 20))


@contextmanager
def serving(app: Any) -> Iterator[int]:
    """The app behind a real HTTP server on a free port."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def oversized_body(redis_url: str, data_dir: Path) -> None:
    """A body claiming more than the limit is refused unread (tests/service/test_security.py)."""
    from service import create_app

    settings = Settings(
        redis_url=redis_url, model="smollm2-135m", data_dir=data_dir, max_chars=50, max_body_mb=1
    )

    def refused(port: int, path: str, length: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.putrequest("POST", path)
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(length))
            conn.endheaders(b'{"text": "')
            assert conn.getresponse().status == 413
        finally:
            conn.close()

    with serving(create_app(settings)) as port:
        for path, length in (("/v1/summaries", 10**9), ("/v1/batches", 1024 * 1024 + 1)):
            ms = median_ms(lambda path=path, length=length: refused(port, path, length), 5)
            report("service.oversized_body_refused", "< 5 s", path=path, ms=ms)


@contextmanager
def scripted(replies: list[tuple[int, dict[str, Any], dict[str, str]]]) -> Iterator[str]:
    """A loopback HTTP server answering with `replies` in turn (the last one repeated)."""
    queue = list(replies)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status, body, headers = queue.pop(0) if len(queue) > 1 else queue[0]
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def client_retries() -> None:
    """The Python client's waits (tests/client/test_client.py)."""
    busy = {"error": {"code": "overloaded", "message": "no"}}
    with scripted([(503, busy, {"Retry-After": "1"}), (200, JOB, {})]) as url:
        with Client(url) as client:
            started = time.monotonic()
            client.get("job1")
        elapsed = time.monotonic() - started
    report("client.retry_after_1s", "1 s <= elapsed < 5 s", s=round(elapsed, 3))

    limited = {"error": {"code": "rate_limited", "message": "no"}}
    with scripted([(429, limited, {"Retry-After": "3600"})]) as url:
        with Client(url, retry_for_s=10) as client:
            started = time.monotonic()
            with suppress(NutgrafError):
                client.get("job1")
        elapsed = time.monotonic() - started
    report("client.retry_after_beyond_budget", "< 2 s", s=round(elapsed, 3))


def main() -> None:
    logging.basicConfig(level=logging.WARNING)  # the client's retry lines, on stderr
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    provenance()
    client_retries()
    with tempfile.TemporaryDirectory(prefix="nutgraf-timings-") as tmp:
        server = RedisServer(Path(tmp) / "redis")
        server.start()
        try:
            cache_hit(server.url, Path(tmp) / "data")
            oversized_body(server.url, Path(tmp) / "data")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
