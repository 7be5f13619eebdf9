"""Lanes: where a queued job stands, how fast each lane moves, and the bulk lane's turns.

Two lanes, each its own broker queue (worker.app): `interactive` jobs are sent to the
broker as they are submitted; `bulk` jobs wait in their owner's list in Redis and are sent
a few at a time, owners taking turns (dispatch_bulk.lua), so that one key's backfill does
not starve another's. Celery cannot say where a message stands in a queue, so the order
of the jobs still waiting is kept here (keys.py: lane:*), and positions are read from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nutgraf.contract import LANES, Lane
from nutgraf.store.keys import Keys
from nutgraf.store.liveness import Liveness
from nutgraf.store.lua import LuaScript, execute_reads

# Micro-batches a lane's rate is measured over: recent enough to follow a change of model
# or load, enough to smooth one slow batch.
RATE_WINDOW = 20


@dataclass(frozen=True)
class LaneRate:
    """How fast a lane ends jobs: per worker process, and with its live processes."""

    per_process: float  # jobs per second of one process while it runs jobs
    processes: int  # live worker processes that serve the lane

    @property
    def jobs_per_s(self) -> float:
        """Jobs per second the lane ends while it has work."""
        return self.per_process * self.processes


class Lanes:
    """Positions, rates and ETAs of the lanes; the bulk lane's dispatch."""

    def __init__(self, client: Any, keys: Keys, liveness: Liveness) -> None:
        self.redis = client
        self.keys = keys
        self.liveness = liveness
        self._place = LuaScript(client, "queue_place")
        self._dispatch = LuaScript(client, "dispatch_bulk")

    def place(self, job_id: str) -> dict[str, Any] | None:
        """A queued job's `queue` body: {lane, position, eta_s}; None if it is not queued."""
        found = self._place(job=self.keys.job(job_id), prefix=self.keys.lua_prefix, job_id=job_id)
        if not found:
            return None
        lane, position = str(found[0]), int(found[1])
        return {"lane": lane, "position": position, "eta_s": self.eta_s(lane, position)}

    def places(self, job_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The `queue` bodies of those of `job_ids` that are queued, in one round trip."""

        def queue(pipe: Any) -> None:
            for job_id in job_ids:
                self._place(
                    job=self.keys.job(job_id),
                    prefix=self.keys.lua_prefix,
                    job_id=job_id,
                    client=pipe,
                )

        found = execute_reads(self.redis, queue, transaction=False)
        rates: dict[str, LaneRate | None] = {}
        places = {}
        for job_id, place in zip(job_ids, found, strict=True):
            if place:
                lane, position = str(place[0]), int(place[1])
                if lane not in rates:
                    rates[lane] = self.rate(lane)
                eta = _eta(rates[lane], position)
                places[job_id] = {"lane": lane, "position": position, "eta_s": eta}
        return places

    def eta_s(self, lane: str, position: int) -> float | None:
        """Seconds until the job at `position` is expected to have ended: the jobs up to it
        at the lane's measured rate. None while nothing has been measured, or no worker
        serves the lane."""
        return _eta(self.rate(lane), position)

    def rate(self, lane: str) -> LaneRate | None:
        """The lane's recent rate. A lane that has not run anything yet borrows the other
        lane's per-process rate (same workers, same models) until it has its own."""
        processes = self.processes(lane)
        for measured in (lane, *(other for other in LANES if other != lane)):
            per_process = self._per_process(measured)
            if per_process is not None:
                return LaneRate(per_process, processes)
        return None

    def _per_process(self, lane: str) -> float | None:
        jobs = seconds = 0.0
        for entry in self.redis.lrange(self.keys.lane_rate(lane), 0, RATE_WINDOW - 1):
            n, s = entry.split()
            jobs, seconds = jobs + float(n), seconds + float(s)
        return jobs / seconds if jobs and seconds > 0 else None

    def processes(self, lane: str) -> int:
        """Live worker processes that take jobs from `lane` (a worker from before lanes
        took everything)."""
        return sum(1 for w in self.liveness.workers() if lane in w.get("lanes", LANES))

    def record_batch(self, lane: str, jobs: int, seconds: float) -> None:
        """A worker process ended `jobs` jobs of `lane` in one micro-batch of `seconds`."""
        key = self.keys.lane_rate(lane)
        with self.redis.pipeline() as pipe:
            pipe.lpush(key, f"{jobs} {seconds:.3f}")
            pipe.ltrim(key, 0, RATE_WINDOW - 1)
            pipe.execute()

    def dispatch_bulk(self, target: int) -> list[str]:
        """Move pending bulk jobs, owners taking turns, to the broker's side until `target`
        wait there; returns the ids the caller must send now, in order."""
        return list(
            self._dispatch(
                turns=self.keys.bulk_turns,
                pending=self.keys.bulk_pending,
                sent=self.keys.lane_sent("bulk"),
                queued=self.keys.queued,
                prefix=self.keys.lua_prefix,
                target=target,
            )
        )

    def depth(self) -> dict[Lane, int]:
        """Jobs waiting in each lane: sent and not started, or (bulk) not yet sent."""
        with self.redis.pipeline() as pipe:
            pipe.zcard(self.keys.lane_sent("interactive"))
            pipe.zcard(self.keys.lane_sent("bulk"))
            pipe.zcard(self.keys.bulk_pending)
            interactive, bulk_sent, bulk_pending = pipe.execute()
        return {"interactive": int(interactive), "bulk": int(bulk_sent) + int(bulk_pending)}

    def rates(self) -> dict[Lane, float]:
        """Each lane's measured jobs per second (0 while unmeasured), for /metrics."""
        rates: dict[Lane, float] = {}
        for lane in LANES:
            rate = self.rate(lane)
            rates[lane] = rate.jobs_per_s if rate is not None else 0.0
        return rates


def _eta(rate: LaneRate | None, position: int) -> float | None:
    if rate is None or rate.jobs_per_s <= 0:
        return None
    return round(position / rate.jobs_per_s, 1)


def lane_of(record: dict[str, str]) -> Lane:
    """A job record's lane (records from before lanes were all interactive)."""
    return "bulk" if record.get("lane") == "bulk" else "interactive"
