"""Per-process worker state: settings, the job store, loaded models and the heartbeat."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from celery import Celery

from nutgraf import models
from nutgraf.models.specs import BUNDLED_FIX
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from nutgraf.store.lanes import lane_of
from nutgraf.summarize import SummarizerCache, set_torch_threads
from nutgraf.summarize.cache import MODEL_RETRY_S
from nutgraf.telemetry import Telemetry
from nutgraf.webhooks import WebhookOutbox
from worker.holding import CONSUMER_TTL_S
from worker.queue import create_producer, dispatch_bulk, enqueue, ready_messages

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 5
HEARTBEAT_TTL_S = 15
# The reconciler's lease: one worker process sweeps; another takes over within this.
RECONCILER_LEASE_S = 15
# Past the hard time limit a running job has been lost by its worker; this is the margin.
OVERDUE_GRACE_S = 60
# How often an idle worker process looks for due webhook callbacks.
WEBHOOK_POLL_S = 0.5


@dataclass
class RedisWatch:
    """Since when Redis has answered this process without a break. A heartbeat key that
    lapsed while Redis was away, or was lost with a restart, says nothing of its owner:
    every live process beats again within an interval of Redis coming back, so only a
    heartbeat still missing a whole TTL later means its owner died."""

    ttl_s: float
    reachable_since: float | None = None

    def saw(self, reachable: bool, now: float) -> None:
        """Record whether Redis answered just now."""
        if not reachable:
            self.reachable_since = None
        elif self.reachable_since is None:
            self.reachable_since = now

    def may_judge(self, now: float) -> bool:
        """True when a missing heartbeat means a dead owner."""
        return self.reachable_since is not None and now - self.reachable_since >= self.ttl_s


@dataclass
class Runtime:
    """What one process that runs jobs holds; built once, after fork."""

    settings: Settings
    store: JobStore
    summarizers: SummarizerCache
    telemetry: Telemetry  # metrics for the API's /metrics, kept in Redis
    # The random part keeps ids unique when a restarted container reuses hostname and pid.
    worker_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    )
    warming: bool = True
    _producer: Celery | None = None  # built on the first requeue
    # Both kinds of beat: workers' (running jobs) and consumers' (prefetched messages).
    _redis_watch: RedisWatch = field(
        default_factory=lambda: RedisWatch(max(HEARTBEAT_TTL_S, CONSUMER_TTL_S))
    )

    def start_background(self) -> None:
        """Load the default model and announce this process, both off the task path."""
        threading.Thread(target=self._warm_up, name="nutgraf-warmup", daemon=True).start()
        threading.Thread(target=self._beat, name="nutgraf-heartbeat", daemon=True).start()
        # Its own thread: a slow callback receiver must never delay a heartbeat.
        threading.Thread(
            target=self._deliver_webhooks, name="nutgraf-webhooks", daemon=True
        ).start()

    def _warm_up(self) -> None:
        try:
            spec = models.resolve(self.settings.model, self.settings.model_revision)
            self.summarizers.get(spec)
        except models.UnknownModel as exc:
            self.summarizers.record_failure(self.settings.model, f"{exc}; {BUNDLED_FIX}")
            log.error("model unavailable: %s; %s", exc, BUNDLED_FIX)
        except models.ModelError as exc:
            # One clear line; /readyz and new POSTs show the same reason through the heartbeat.
            log.error("model unavailable: %s", exc)
        finally:
            self.warming = False
            self._send_heartbeat()
        while True:  # a daemon thread: it ends with its process
            # A model that failed is tried again now and then: the Hub may come back.
            time.sleep(MODEL_RETRY_S / 10)
            for name in self.summarizers.retry_failed():
                log.info("model %s loaded on a later try", name)
                self._send_heartbeat()

    def _beat(self) -> None:
        while True:  # a daemon thread: it ends with its process
            self._redis_watch.saw(self._send_heartbeat(), time.monotonic())
            self._reconcile()
            time.sleep(HEARTBEAT_INTERVAL_S)

    def _deliver_webhooks(self) -> None:
        outbox = WebhookOutbox(self.store.redis, self.store.prefix, self.settings)
        while True:  # a daemon thread: it ends with its process
            try:
                claimed = outbox.run_once(self.webhook_body)
            except Exception as exc:  # Redis away: the next round tries again.
                log.warning("webhook delivery failed: %s", exc)
                claimed = 0
            if not claimed:  # more may be due at once after a busy round
                time.sleep(WEBHOOK_POLL_S)

    def webhook_body(self, kind: str, ident: str) -> dict[str, Any] | None:
        """The public body a callback carries: the job's or the batch's, None when gone."""
        return self.store.get(ident) if kind == "job" else self.store.get_batch(ident)

    def _reconcile(self) -> None:
        """If this process leads the sweep: send again every job whose record says it should
        run and that nothing is running (nutgraf.store.reconcile)."""
        try:
            if not self.store.reconciler.lead(self.worker_id, RECONCILER_LEASE_S):
                return
            # Right after Redis was away, a live worker's heartbeat may still be missing:
            # its jobs are judged one TTL later, or they would run twice.
            judge = self._redis_watch.may_judge(time.monotonic())
            # Running on a dead worker, or past the hard time limit: back to the queue.
            overdue_after = self.settings.task_time_limit_s + OVERDUE_GRACE_S
            released = self.store.release_orphans() if judge else []
            released += self.store.reconciler.release_overdue(overdue_after)
            # A consumer holds a prefetched message at most about as long as the broker
            # waits for an unacknowledged one; past that its job's message is gone.
            scan = self.store.reconciler.scan_queued(
                self.settings.requeue_after_s, held_for_s=self.settings.visibility_timeout
            )
            abandoned = scan.abandoned if judge else []
            waiting = scan.waiting
            if waiting and ready_messages(self._producer_app()):
                # Messages still wait in the queue, and these jobs' may be among them: send
                # again only what has waited as long as Redis itself would (RabbitMQ never
                # hands a waiting message out again; the same wait bounds a duplicate there).
                limit = self.settings.visibility_timeout
                waiting = {job_id: age for job_id, age in waiting.items() if age >= limit}
            for job_id in released:
                log.warning("job %s: its worker died or lost it; queued again", job_id)
            for job_id in abandoned:
                log.warning(
                    "job %s: the worker holding it died before starting it; sent again", job_id
                )
            for job_id, age in waiting.items():
                log.warning(
                    "job %s: queued %.0f s with nothing running it; sent again", job_id, age
                )
            for job_id, age in scan.lost.items():
                log.warning(
                    "job %s: held %.0f s by a live worker that never started it; sent again",
                    job_id,
                    age,
                )
            resent = [*abandoned, *waiting, *scan.lost]
            for job_id in [*released, *resent]:
                lane = self.store.redis.hget(self.store.keys.job(job_id), "lane") or ""
                enqueue(self._producer_app(), job_id, lane_of({"lane": lane}))
            self.store.reconciler.sent(resent)
            # The bulk lane's next turns, should no worker have asked for them lately.
            dispatch_bulk(self._producer_app(), self.store, self.settings)
        except Exception as exc:  # Redis away: the next beat tries again.
            self._redis_watch.saw(False, time.monotonic())
            log.warning("reconciler sweep failed: %s", exc)

    def producer_app(self) -> Celery:
        """The Celery app this process sends with (requeues, the bulk lane's turns)."""
        return self._producer_app()

    def _producer_app(self) -> Celery:
        if self._producer is None:
            self._producer = create_producer(self.settings)
        return self._producer

    def _send_heartbeat(self) -> bool:
        """Announce this process and its models; False when Redis did not take it."""
        state = {
            "id": self.worker_id,
            "default_model": self.settings.model,
            "lanes": list(self.settings.worker_lanes),
            "model_auto": self.settings.model_auto,
            "loading": self.warming,
            "models": self.summarizers.states(),
        }
        try:
            self.store.heartbeat(self.worker_id, state, HEARTBEAT_TTL_S)
        except Exception as exc:  # Redis away: the next beat tries again.
            log.warning("heartbeat failed: %s", exc)
            return False
        return True


_runtime: Runtime | None = None


def init(settings: Settings, processes: int) -> Runtime:
    """Build this process's runtime: torch threads first, then the store and model cache."""
    global _runtime
    cores = os.cpu_count() or 1
    # Each pool process gets its share of the cores; more threads only fight each other.
    set_torch_threads(settings.torch_threads or max(1, cores // max(1, processes)))
    # No "Loading weights" bars between the JSON log lines. HF_HUB_DISABLE_PROGRESS_BARS
    # (nutgraf.programs) is read when transformers is imported; this holds even if it was
    # imported first.
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    store = JobStore.from_settings(settings, patient=True)
    telemetry = Telemetry(store.redis, store.prefix)
    summarizers = SummarizerCache.from_settings(
        settings, on_load=lambda spec, seconds: telemetry.model_loaded(spec.name, seconds)
    )
    _runtime = Runtime(settings, store, summarizers, telemetry)
    _runtime.start_background()
    return _runtime


def current() -> Runtime:
    """The runtime of this process (built by init on process start)."""
    if _runtime is None:
        raise RuntimeError("worker runtime not initialised in this process")
    return _runtime
