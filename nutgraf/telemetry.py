"""Worker-side metrics kept in Redis, so that one API scrape sees every worker process.

Each metric is one Redis hash, nutgraf:metrics:<name> (named in nutgraf.store.keys),
with no TTL (totals since Redis started, like counters). A histogram field is
`<labels as JSON>\\t<bucket>`: the number of observations that fell in that bucket (not
cumulative: one HINCRBY per observation), plus `<labels>\\tsum`. A gauge field is
`<labels as JSON>` with the value.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

import redis

from nutgraf.store.keys import PREFIX, Keys

log = logging.getLogger(__name__)

JOB_DURATION = "job_duration_seconds"
BATCH_SIZE = "batch_size"
MODEL_LOAD = "model_load_seconds"
LANE_WAIT = "lane_wait_seconds"
LANE_JOBS = "lane_jobs"  # a counter: jobs ended, by lane and status

# Seconds a worker spends on a job: a cached model answers in under a second on a GPU,
# a long article chunked through a CPU model takes minutes (the hard limit is 900 s).
JOB_DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900, math.inf)
# Jobs per generate() call; NUTGRAF_BATCH_SIZE defaults to 8.
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, math.inf)
# Seconds a job waited in its lane before a worker started it: an editor's click waits
# seconds, a backfill's last item hours.
LANE_WAIT_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 14400, 86400, math.inf)
BUCKETS = {
    JOB_DURATION: JOB_DURATION_BUCKETS,
    BATCH_SIZE: BATCH_SIZE_BUCKETS,
    LANE_WAIT: LANE_WAIT_BUCKETS,
}


@dataclass(frozen=True)
class HistogramSeries:
    """One labelled histogram: cumulative (upper bound, count) pairs ending at +Inf."""

    labels: dict[str, str]
    buckets: list[tuple[float, int]]
    sum: float

    @property
    def count(self) -> int:
        """Observations in all."""
        return self.buckets[-1][1] if self.buckets else 0


def _labels_field(labels: dict[str, str]) -> str:
    # JSON escapes tabs, so the tab that follows can never occur inside the labels.
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


def _bound(value: float) -> str:
    return "+Inf" if math.isinf(value) else repr(float(value))


class Telemetry:
    """Records and reads the Redis-held metrics; recording never raises."""

    def __init__(self, client: Any, prefix: str = PREFIX) -> None:
        self.redis = client
        self.prefix = prefix
        self.keys = Keys(prefix)

    def key(self, name: str) -> str:
        """The hash of one metric, e.g. nutgraf:metrics:batch_size."""
        return self.keys.metric(name)

    def observe_job(self, model: str, outcome: str, seconds: float) -> None:
        """A job ended (`outcome` succeeded or failed) after `seconds` in a worker."""
        self._observe(JOB_DURATION, {"model": model, "outcome": outcome}, seconds)

    def observe_batch(self, model: str, size: int) -> None:
        """A worker ran `size` jobs of `model` in one batch."""
        self._observe(BATCH_SIZE, {"model": model}, size)

    def observe_wait(self, lane: str, seconds: float) -> None:
        """A worker started a job that had waited `seconds` in `lane` since it was submitted."""
        self._observe(LANE_WAIT, {"lane": lane}, max(0.0, seconds))

    def count_lane_job(self, lane: str, status: str) -> None:
        """A job of `lane` ended with `status` in a worker (throughput per lane)."""
        try:
            self.redis.hincrby(self.key(LANE_JOBS), _labels_field({"lane": lane, "status": status}))
        except redis.RedisError as exc:  # a metric must never fail the work it measures
            log.warning("could not count a job of lane %s: %s", lane, exc)

    def model_loaded(self, model: str, seconds: float) -> None:
        """A worker process loaded `model` in `seconds` (the latest load wins)."""
        try:
            self.redis.hset(self.key(MODEL_LOAD), _labels_field({"model": model}), seconds)
        except redis.RedisError as exc:  # a metric must never fail the work it measures
            log.warning("could not record the load time of %s: %s", model, exc)

    def _observe(self, name: str, labels: dict[str, str], value: float) -> None:
        bound = next(b for b in BUCKETS[name] if value <= b)
        prefix = _labels_field(labels)
        try:
            with self.redis.pipeline() as pipe:  # MULTI: bucket and sum move together
                pipe.hincrby(self.key(name), f"{prefix}\t{_bound(bound)}", 1)
                pipe.hincrbyfloat(self.key(name), f"{prefix}\tsum", value)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not record %s: %s", name, exc)

    def histogram(self, name: str) -> list[HistogramSeries]:
        """Every labelled series of a histogram, buckets cumulative (raises RedisError)."""
        per_labels: dict[str, tuple[dict[float, int], list[float]]] = {}
        for field, value in self.redis.hgetall(self.key(name)).items():
            prefix, _, part = field.rpartition("\t")
            counts, total = per_labels.setdefault(prefix, ({}, [0.0]))
            if part == "sum":
                total[0] = float(value)
            else:
                counts[float(part)] = int(value)
        series = []
        for prefix, (counts, total) in sorted(per_labels.items()):
            bounds = sorted({*counts, *BUCKETS.get(name, ()), math.inf})
            running, cumulative = 0, []
            for bound in bounds:
                running += counts.get(bound, 0)
                cumulative.append((bound, running))
            series.append(HistogramSeries(json.loads(prefix), cumulative, total[0]))
        return series

    def gauge(self, name: str) -> list[tuple[dict[str, str], float]]:
        """Every labelled value of a gauge (raises RedisError)."""
        raw = self.redis.hgetall(self.key(name))
        return [(json.loads(field), float(value)) for field, value in sorted(raw.items())]
