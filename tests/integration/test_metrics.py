"""GET /metrics and the structured logs: real Redis, a real worker, real gunicorn."""

from __future__ import annotations

import json
import logging
import math
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import redis
import requests
from flask.testing import FlaskClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from helpers import TEST_MODEL, WorkerProcess, answers_200, poll_job, wait_for
from nutgraf.logs import json_formatter
from nutgraf.settings import Settings, env_for_children
from nutgraf.store.server import free_port
from nutgraf.telemetry import JOB_DURATION, MODEL_LOAD, Telemetry
from service import create_app
from service.metrics import local_collector

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, keyed by (sample name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: FlaskClient) -> Samples:
    """GET /metrics and parse it."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    return parse(response.get_data(as_text=True))


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when absent (a series appears on its first event)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def unique_text() -> str:
    """An article no other test submits, so it is never a cache hit by accident."""
    return f"The council met on Monday. It approved the budget. Test {uuid.uuid4()}."


def test_requests_are_counted_by_route_and_status(client: FlaskClient) -> None:
    before = scrape(client)
    assert client.get("/v1/summaries/no-such-job").status_code == 404
    assert client.get("/healthz").status_code == 200
    assert client.get(f"/nothing-here/{uuid.uuid4()}").status_code == 404
    after = scrape(client)

    def delta(**labels: str) -> float:
        name = "nutgraf_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    # The route is the URL rule, not the path: one series for every job id.
    assert delta(method="GET", route="/v1/summaries/<job_id>", status="404") == 1
    assert delta(method="GET", route="/healthz", status="200") == 1
    assert delta(method="GET", route="<unmatched>", status="404") == 1
    assert delta(method="GET", route="/metrics", status="200") == 1  # the first scrape
    name = "nutgraf_http_request_duration_seconds_count"
    assert value(after, name, method="GET", route="/healthz") > value(
        before, name, method="GET", route="/healthz"
    )
    assert value(after, "nutgraf_redis_up") == 1


def test_cache_hits_and_misses_are_counted(client: FlaskClient) -> None:
    body = {"text": unique_text(), "mode": "extractive"}
    before = scrape(client)
    first = client.post("/v1/summaries", json=body)
    assert first.status_code == 200 and first.get_json()["cached"] is False
    middle = scrape(client)
    second = client.post("/v1/summaries", json=body)
    assert second.status_code == 200 and second.get_json()["cached"] is True
    after = scrape(client)

    assert (
        value(middle, "nutgraf_cache_misses_total")
        == value(before, "nutgraf_cache_misses_total") + 1
    )
    assert value(middle, "nutgraf_cache_hits_total") == value(before, "nutgraf_cache_hits_total")
    assert value(after, "nutgraf_cache_hits_total") == value(middle, "nutgraf_cache_hits_total") + 1
    assert value(after, "nutgraf_cache_misses_total") == value(middle, "nutgraf_cache_misses_total")
    # Extractive jobs end in the API, and are counted as succeeded like any other.
    succeeded = value(after, "nutgraf_jobs_finished_total", state="succeeded")
    assert succeeded >= value(before, "nutgraf_jobs_finished_total", state="succeeded") + 1


def test_queue_depth_rises_with_no_worker_and_falls_after(
    settings: Settings, own_redis_url: str
) -> None:
    # A database of its own: the session's worker listens on db 0 and would take the job.
    isolated = settings.model_copy(update={"redis_url": own_redis_url})
    client = create_app(isolated).test_client()
    before = scrape(client)
    response = client.post("/v1/summaries", json={"text": unique_text()})
    assert response.status_code == 202
    queued = scrape(client)
    assert value(queued, "nutgraf_queue_depth") == value(before, "nutgraf_queue_depth") + 1
    assert value(queued, "nutgraf_jobs", state="queued") == value(queued, "nutgraf_queue_depth")
    assert value(queued, "nutgraf_jobs", state="running") == 0

    assert client.delete(f"/v1/summaries/{response.get_json()['id']}").status_code == 200
    after = scrape(client)
    assert value(after, "nutgraf_queue_depth") == value(before, "nutgraf_queue_depth")
    cancelled = value(after, "nutgraf_jobs_finished_total", state="cancelled")
    assert cancelled == value(before, "nutgraf_jobs_finished_total", state="cancelled") + 1


def test_redis_down_is_reported_not_a_failed_scrape(settings: Settings) -> None:
    unreachable = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    samples = scrape(create_app(unreachable).test_client())
    assert value(samples, "nutgraf_redis_up") == 0
    assert any(name == "nutgraf_http_requests_total" for name, _ in samples)


def test_worker_metrics_after_a_job(
    client: FlaskClient, worker: WorkerProcess, sample_article: str
) -> None:
    model = {"model": TEST_MODEL}
    before = scrape(client)
    # The first paragraph (one per line in the sample): a job that only has to end.
    text = sample_article.splitlines()[0] + f" (metrics test {uuid.uuid4()})"
    response = client.post("/v1/summaries", json={"text": text, "length": "headline"})
    assert response.status_code == 202
    job_id = response.get_json()["id"]
    job = poll_job(client, job_id)
    assert job["status"] == "succeeded", (job, worker.log_tail())
    after = scrape(client)

    done = {**model, "outcome": "succeeded"}
    name = "nutgraf_job_duration_seconds"
    assert value(after, f"{name}_count", **done) >= value(before, f"{name}_count", **done) + 1
    assert value(after, f"{name}_sum", **done) > value(before, f"{name}_sum", **done)
    count = value(after, f"{name}_count", **done)
    assert value(after, f"{name}_bucket", **done, le="+Inf") == count
    name = "nutgraf_batch_size"
    assert value(after, f"{name}_count", **model) >= value(before, f"{name}_count", **model) + 1
    assert value(after, f"{name}_sum", **model) >= value(before, f"{name}_sum", **model) + 1
    assert value(after, "nutgraf_model_load_seconds", **model) > 0
    ended = value(after, "nutgraf_jobs_finished_total", state="succeeded")
    assert ended >= value(before, "nutgraf_jobs_finished_total", state="succeeded") + 1
    # Per lane: how long it waited, that it ended, and the lane's measured rate.
    lane = {"lane": "interactive"}
    name = "nutgraf_lane_wait_seconds"
    assert value(after, f"{name}_count", **lane) >= value(before, f"{name}_count", **lane) + 1
    name, done_in_lane = "nutgraf_lane_jobs_finished_total", {**lane, "state": "succeeded"}
    assert value(after, name, **done_in_lane) >= value(before, name, **done_in_lane) + 1
    assert value(after, "nutgraf_lane_jobs_per_second", **lane) > 0
    assert ("nutgraf_lane_queue_depth", frozenset({("lane", "bulk")})) in after

    # The worker logged the job's end once, as JSON with the job's figures as fields.
    lines = [json.loads(line) for line in worker.log_tail(500_000).splitlines() if job_id in line]
    ends = [line for line in lines if line.get("job_id") == job_id and "status" in line]
    assert len(ends) == 1, lines
    end = ends[0]
    assert end["status"] == "succeeded" and end["model"] == TEST_MODEL
    assert end["duration_ms"] > 0 and end["attempts"] == 1 and end["batch_size"] >= 1
    assert end["input_tokens"] > 0 and end["generated_tokens"] == job["output"]["tokens"]


def test_request_log_line_carries_request_and_job_ids(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="nutgraf.http"):
        response = client.post("/v1/summaries", json={"text": unique_text(), "mode": "extractive"})
        given = client.get("/healthz", headers={"X-Request-Id": "edge-7f3a.42"})
        refused = client.get("/healthz", headers={"X-Request-Id": "no spaces\tor tabs"})
    request_id = response.headers["X-Request-Id"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0  # uuid4 hex
    assert given.headers["X-Request-Id"] == "edge-7f3a.42"
    assert refused.headers["X-Request-Id"] != "no spaces\tor tabs"

    # The request's one line (other loggers' lines during it carry its id too, when the
    # test process's logging lets them through).
    records = [
        r
        for r in caplog.records
        if r.name == "nutgraf.http" and getattr(r, "request_id", None) == request_id
    ]
    assert len(records) == 1, [r.getMessage() for r in caplog.records]
    line = json.loads(json_formatter().format(records[0]))
    assert line["request_id"] == request_id
    assert line["job_id"] == response.get_json()["id"]
    assert line["method"] == "POST" and line["route"] == "/v1/summaries"
    assert line["path"] == "/v1/summaries" and line["status"] == 200
    assert line["duration_ms"] >= 0 and line["level"] == "INFO" and line["time"]


def test_worker_histograms_add_up_across_processes(redis_client: redis.Redis) -> None:
    """Two recorders (as two worker processes would be) into one Redis hash; read back
    as cumulative Prometheus buckets."""
    prefix = f"test-{uuid.uuid4().hex}"
    first, second = Telemetry(redis_client, prefix), Telemetry(redis_client, prefix)
    first.observe_job("m", "succeeded", 0.3)
    second.observe_job("m", "succeeded", 3)
    first.observe_job("m", "succeeded", 3)
    second.observe_job("m", "succeeded", 2000)  # past the last bound: only in +Inf
    second.observe_job("m", "failed", 1)
    first.model_loaded("m", 2.5)
    (failed, succeeded) = first.histogram(JOB_DURATION)
    assert failed.labels == {"model": "m", "outcome": "failed"} and failed.count == 1
    assert succeeded.count == 4 and succeeded.sum == pytest.approx(2006.3)
    cumulative = dict(succeeded.buckets)
    assert cumulative[0.5] == 1 and cumulative[2.5] == 1 and cumulative[5] == 3
    assert cumulative[900] == 3 and cumulative[math.inf] == 4
    assert list(cumulative) == sorted(cumulative)
    assert second.gauge(MODEL_LOAD) == [({"model": "m"}, 2.5)]
    redis_client.delete(first.key(JOB_DURATION), first.key(MODEL_LOAD))


def test_multiprocess_files_are_summed(settings: Settings, tmp_path: Path) -> None:
    """Two processes (as gunicorn runs them) count into one directory; a scrape sums them."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {**env_for_children(settings), "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    script = textwrap.dedent(
        """
        import sys
        from service import create_app
        client = create_app().test_client()
        for _ in range(int(sys.argv[1])):
            assert client.get("/healthz").status_code == 200
        """
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, str(n)], env=env) for n in (3, 4)]
    assert [w.wait(120) for w in writers] == [0, 0]
    samples = parse(generate_latest(local_collector(str(directory))).decode())
    assert value(samples, "nutgraf_http_requests_total", method="GET", route="/healthz",
                 status="200") == 7  # fmt: skip
    name = "nutgraf_http_request_duration_seconds_count"
    assert value(samples, name, method="GET", route="/healthz") == 7


def test_gunicorn_api_serves_metrics_of_all_its_processes(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        **env_for_children(settings),
        "NUTGRAF_PORT": str(port),
        "NUTGRAF_API_WORKERS": "2",
        "TMPDIR": str(temp),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = tmp_path / "api.log"
    with log_path.open("wb") as log:
        api = subprocess.Popen(
            [sys.executable, "-m", "nutgraf.cli", "api"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: answers_200(f"{base}/healthz"), 120, "the API to answer")
        assert len(list(temp.glob("nutgraf-metrics-*"))) == 1
        for _ in range(20):  # a new connection each: gunicorn spreads them over its workers
            assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        response = requests.get(f"{base}/metrics", timeout=10)
        assert response.status_code == 200
        samples = parse(response.text)
        served = value(
            samples, "nutgraf_http_requests_total", method="GET", route="/healthz", status="200"
        )
        assert served >= 21  # ours, and every readiness poll before them
        assert value(samples, "nutgraf_redis_up") == 1
        assert response.headers["X-Request-Id"]
    finally:
        api.send_signal(signal.SIGTERM)
        code = api.wait(60)
    output = log_path.read_text()
    assert code == 0, output[-3000:]
    assert not list(temp.glob("nutgraf-metrics-*")), "the metrics directory was left behind"
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len(lines) == len(output.splitlines()), output[-3000:]  # gunicorn's lines too
    # Health probes are counted in the metrics but logged at DEBUG only (a load balancer
    # polls them all day); other requests are logged at INFO with their request id.
    assert not [line for line in lines if line.get("route") == "/healthz"], output[-3000:]
    (metrics_logged,) = [line for line in lines if line.get("route") == "/metrics"]
    assert metrics_logged["request_id"] == response.headers["X-Request-Id"]
