"""GET /metrics for Prometheus, and per-request metrics, request ids and one log line each.

The API's own counters live in prometheus_client: in the default registry when the app
runs in one process (tests, `flask run`), in PROMETHEUS_MULTIPROC_DIR files when gunicorn
runs several (service/server.py sets it). Worker metrics and job states come from Redis
(nutgraf.telemetry, JobStore), read at scrape time, so any API process reports them all.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from flask.sansio.blueprints import BlueprintSetupState
from prometheus_client import REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from nutgraf import logs
from nutgraf.contract import MAX_WAIT_S
from nutgraf.contract.states import TERMINAL
from nutgraf.store import JobStore
from nutgraf.telemetry import (
    BATCH_SIZE,
    JOB_DURATION,
    LANE_JOBS,
    LANE_WAIT,
    MODEL_LOAD,
    Telemetry,
)
from service.apidoc import Reply, documented

log = logging.getLogger(__name__)
# One line per request, under a name of its own so that it can be routed or silenced.
request_log = logging.getLogger("nutgraf.http")
metrics = Blueprint("metrics", __name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
REQUEST_ID_HEADER = "X-Request-Id"
# An incoming id is kept only if it is short and plain (it lands in logs and headers).
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
# Anything else is one label value, so a scanner cannot mint a series per method or path.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"
# Polled every few seconds by orchestrators and `nutgraf serve`'s users: their lines would
# bury the rest at INFO, so they are logged at DEBUG (NUTGRAF_LOG_LEVEL=DEBUG shows them).
PROBE_ROUTES = frozenset({"/healthz", "/readyz"})

REQUESTS = Counter(
    "nutgraf_http_requests",
    "HTTP requests answered, by method, route (the URL rule) and status code.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "nutgraf_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route.",
    ["method", "route"],
    # Up to MAX_WAIT_S: `Prefer: wait=N` holds a POST open that long.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, MAX_WAIT_S),
)
CACHE_HITS = Counter(
    "nutgraf_cache_hits", 'Summary submissions answered from the cache ("cached": true).'
)
CACHE_MISSES = Counter("nutgraf_cache_misses", "Summary submissions that were not in the cache.")


SCRAPE = "Prometheus metrics (text exposition format)"


@metrics.get("/metrics")
@documented(SCRAPE, "operations", {200: Reply(SCRAPE, media="text/plain")}, operation_id="metrics")
def scrape() -> Response:
    """Prometheus text exposition of the API, the workers and the job store."""
    collector: Collector = current_app.extensions["nutgraf.metrics"]
    return Response(generate_latest(collector), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def _install(state: BlueprintSetupState) -> None:
    app = state.app
    store: JobStore = app.extensions["nutgraf.store"]
    local = local_collector(os.environ.get(MULTIPROC_ENV))
    app.extensions["nutgraf.metrics"] = _Scrape([local, StoreCollector(store)])
    # First before-request hook and last after-request hook (they run in reverse), so the
    # timing and the log line cover the other hooks, and a request that auth or the rate
    # limiter refuses is still counted and logged.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request_funcs.setdefault(None, []).insert(0, _end)
    app.teardown_request_funcs.setdefault(None, []).append(_teardown)


metrics.record_once(_install)


def local_collector(multiproc_dir: str | None) -> Collector:
    """The API's own metrics: every gunicorn process's files summed, or this process's."""
    if multiproc_dir:
        return MultiProcessCollector(None, path=multiproc_dir)
    return REGISTRY


class _Scrape(Collector):
    """Several collectors as one, for generate_latest."""

    def __init__(self, sources: list[Any]) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


class StoreCollector(Collector):
    """Queue depth, jobs by state and the workers' metrics, read from Redis per scrape."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.telemetry = Telemetry(store.redis, store.prefix)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("nutgraf_redis_up", "1 if the API could read Redis at scrape.")
        try:
            families = list(self._read())
        except Exception as exc:  # Redis down: report that, never fail the whole scrape
            log.warning("metrics: cannot read redis: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("nutgraf_queue_depth", "Jobs waiting for a worker.")
        depth.add_metric([], self.store.queue_depth())
        yield depth
        counts = self.store.job_counts()
        now = GaugeMetricFamily("nutgraf_jobs", "Jobs queued or running now.", labels=["state"])
        ended = CounterMetricFamily(
            "nutgraf_jobs_finished",
            "Jobs that ended, by final state, since Redis started.",
            labels=["state"],
        )
        for state, count in counts.items():
            (ended if state in TERMINAL else now).add_metric([state], count)
        yield now
        yield ended
        yield from self._lanes()
        yield self._histogram(
            JOB_DURATION,
            "nutgraf_job_duration_seconds",
            "Seconds from a worker starting a job to its end, by model and outcome.",
            ["model", "outcome"],
        )
        yield self._histogram(
            BATCH_SIZE, "nutgraf_batch_size", "Jobs per model batch a worker ran.", ["model"]
        )
        load = GaugeMetricFamily(
            "nutgraf_model_load_seconds",
            "Seconds the latest worker process to load each model took.",
            labels=["model"],
        )
        for labels, seconds in self.telemetry.gauge(MODEL_LOAD):
            load.add_metric([labels.get("model", "")], seconds)
        yield load

    def _lanes(self) -> Iterator[Metric]:
        """Per lane: what waits, how long jobs waited, how many ended, the measured rate
        (what an autoscaler scales each lane's workers on)."""
        depth = GaugeMetricFamily(
            "nutgraf_lane_queue_depth", "Jobs waiting in each lane.", labels=["lane"]
        )
        for lane, waiting in self.store.lanes.depth().items():
            depth.add_metric([lane], waiting)
        yield depth
        yield self._histogram(
            LANE_WAIT,
            "nutgraf_lane_wait_seconds",
            "Seconds from a job's submission to a worker starting it, by lane.",
            ["lane"],
        )
        ended = CounterMetricFamily(
            "nutgraf_lane_jobs_finished",
            "Jobs that workers ended, by lane and final state, since Redis started.",
            labels=["lane", "state"],
        )
        for labels, count in self.telemetry.gauge(LANE_JOBS):
            ended.add_metric([labels.get("lane", ""), labels.get("status", "")], count)
        yield ended
        rate = GaugeMetricFamily(
            "nutgraf_lane_jobs_per_second",
            "Each lane's measured recent rate: jobs per second with its live workers (the "
            "figure behind queue.eta_s).",
            labels=["lane"],
        )
        for lane, per_s in self.store.lanes.rates().items():
            rate.add_metric([lane], per_s)
        yield rate

    def _histogram(self, name: str, metric: str, doc: str, labels: list[str]) -> Metric:
        family = HistogramMetricFamily(metric, doc, labels=labels)
        for series in self.telemetry.histogram(name):
            family.add_metric(
                [series.labels.get(label, "") for label in labels],
                [(floatToGoString(bound), count) for bound, count in series.buckets],
                series.sum,
            )
        return family


def _begin() -> None:
    g.nutgraf_started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.nutgraf_request_id = request_id
    g.nutgraf_log_token = logs.bind(request_id=request_id)


def _end(response: Response) -> Response:
    started = g.get("nutgraf_started", time.perf_counter())
    seconds = time.perf_counter() - started
    rule = request.url_rule
    route = rule.rule if rule is not None else UNMATCHED_ROUTE
    method = request.method if request.method in _METHODS else "other"
    REQUESTS.labels(method, route, str(response.status_code)).inc()
    REQUEST_SECONDS.labels(method, route).observe(seconds)
    request_id = g.get("nutgraf_request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    fields: dict[str, Any] = {
        "method": request.method,
        "route": route,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round(seconds * 1000, 1),
        "request_id": request_id,
    }
    fields.update(_ids_and_cache())
    request_log.log(
        logging.DEBUG if route in PROBE_ROUTES else logging.INFO,
        "%s %s %d %.1fms",
        request.method,
        request.path,
        response.status_code,
        fields["duration_ms"],
        extra=fields,
    )
    return response


def _ids_and_cache() -> dict[str, str]:
    """The job or batch id a request concerns (from the URL, or as the view noted it in
    `g`), and the cache outcome of a summary POST, counted once."""
    ids = {
        name: str(value)
        for name, value in (request.view_args or {}).items()
        if name in ("job_id", "batch_id")
    }
    for name in ("job_id", "batch_id"):
        if name not in ids and g.get(name):
            ids[name] = str(g.get(name))
    cached = g.get("cached")
    if isinstance(cached, bool):
        (CACHE_HITS if cached else CACHE_MISSES).inc()
    return ids


def _teardown(_exc: BaseException | None) -> None:
    token = g.pop("nutgraf_log_token", None)
    if token is not None:
        logs.unbind(token)
