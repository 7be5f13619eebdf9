"""Thin tasks: load the jobs, call the engine, store the results."""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from typing import Any

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded

from nutgraf import models
from nutgraf.contract import Lane, SummaryResult
from nutgraf.settings import Settings
from nutgraf.store import WorkItem
from nutgraf.summarize import Article, Summarizer
from nutgraf.summarize.abstractive import token_batches
from worker import runtime
from worker.app import SUMMARIZE_TASK
from worker.batching import AckLateBatches
from worker.queue import dispatch_bulk
from worker.stopping import CancelWatch

log = logging.getLogger(__name__)


def register(app: Celery, settings: Settings) -> None:
    """Define the tasks on `app`, each with its delivery policy spelled out."""

    @app.task(
        name=SUMMARIZE_TASK,
        base=AckLateBatches,
        # Jobs that wait together run together: up to batch_size per generate() call,
        # a lone job held at most batch_wait_ms.
        flush_every=settings.batch_size,
        flush_interval=settings.batch_wait_ms / 1000,
        acks_late=True,
        reject_on_worker_lost=True,
        batch_time_limit=settings.task_time_limit_s,
        batch_soft_time_limit=max(1, settings.task_time_limit_s - 30),
        # No automatic retries: model errors are not transient, and Redis blips are
        # absorbed by the store's own reconnecting client.
        max_retries=0,
    )
    def summarize(requests: list[Any]) -> None:
        run_summary_jobs([request.args[0] for request in requests])


def run_summary_jobs(job_ids: list[str]) -> None:
    """Run jobs to a terminal state, one batch per model; safe to run twice.

    Every job this call starts also ends here: celery-batches acknowledges the messages
    whatever the batch function does, so an error that escaped would strand its jobs."""
    rt = runtime.current()
    run = _Run(time.monotonic())
    try:
        run.claim(job_ids)
        if "bulk" in rt.settings.worker_lanes:
            # This batch's jobs left the broker's side of the bulk lane: send the next turns,
            # so that the next batch is there when this one ends.
            _dispatch_bulk()
        for model_name, items in run.by_model().items():
            run.summarize_model(model_name, items)
    except SoftTimeLimitExceeded:
        limit = rt.settings.task_time_limit_s
        log.error("batch timed out after %d s", limit)
        run.fail_unended("timeout", f"summarizing took longer than {limit} s")
    except Exception as exc:
        log.exception("batch failed outside the model")
        run.fail_unended("internal_error", f"{type(exc).__name__}: {exc}")
    run.record_rates()
    # The messages are acknowledged after this: first the ends should be on a replica
    # (NUTGRAF_REDIS_MIN_REPLICAS). If they are not, a failover may lose them, and the
    # reconciler runs those jobs again.
    try:
        kept = rt.store.replicated()
    except Exception as exc:  # Redis away: the same holds
        log.warning("could not wait for a Redis replica: %s", exc)
    else:
        if not kept:
            log.warning("the ends of %d job(s) have not reached a replica", len(job_ids))


def _dispatch_bulk() -> None:
    rt = runtime.current()
    try:
        dispatch_bulk(rt.producer_app(), rt.store, rt.settings)
    except Exception as exc:  # the reconciler's sweep dispatches too
        log.warning("could not dispatch the bulk lane's next jobs: %s", exc)


class _Run:
    """One batch function call: the jobs it started and has not yet ended."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.unended: dict[str, WorkItem] = {}
        self.batch_size = 0
        self.lanes: Counter[Lane] = Counter()  # jobs started, per lane
        self.watch: CancelWatch | None = None

    def claim(self, job_ids: list[str]) -> None:
        """Start each job (a redelivered duplicate once); fail those past the attempt limit."""
        rt = runtime.current()
        for job_id in dict.fromkeys(job_ids):
            item = rt.store.start(job_id, rt.worker_id)
            if item is None:
                log.info("job %s: ended, expired or running elsewhere; skipped", job_id)
                continue
            self.unended[job_id] = item
            self.lanes[item.lane] += 1
            rt.telemetry.observe_wait(item.lane, time.time() - item.created_at)
            if item.attempts > rt.settings.max_job_attempts:
                message = f"the job was interrupted {item.attempts - 1} times; giving up"
                self.fail(item, "worker_lost", message)
        self.batch_size = len(self.unended)
        self.watch = CancelWatch(rt.store, list(self.unended))

    def record_rates(self) -> None:
        """The lanes' measured rates: this batch's jobs of each lane in its time."""
        seconds = time.monotonic() - self.started
        for lane, jobs in self.lanes.items():
            try:
                runtime.current().store.lanes.record_batch(lane, jobs, seconds)
            except Exception as exc:  # a measurement must never fail the work it measures
                log.warning("could not record the rate of lane %s: %s", lane, exc)

    def by_model(self) -> dict[str, list[WorkItem]]:
        """The started jobs grouped by the model that runs them."""
        groups: dict[str, list[WorkItem]] = defaultdict(list)
        for item in self.unended.values():
            groups[item.model].append(item)
        return groups

    def summarize_model(self, model_name: str, items: list[WorkItem]) -> None:
        """Load the model, refuse articles over the token limit, run the rest shortest
        first in groups within the token budget, each article counted as the model reads
        it (a long one as its salient sentences, within the window)."""
        rt = runtime.current()
        ids = [i.job_id for i in items]
        log.info(
            "batch of %d job(s) for %s: %s",
            len(items),
            model_name,
            " ".join(ids),
            extra={"model": model_name, "batch_size": len(items), "job_ids": ids},
        )
        try:
            spec = models.resolve(model_name, rt.settings.model_revision)
            summarizer = rt.summarizers.get(spec)
        except models.ModelError as exc:
            log.error("model unavailable, %d job(s) failed: %s", len(items), exc)
            for item in items:
                self.fail(item, "model_unavailable", str(exc))
            return
        rt.telemetry.observe_batch(model_name, len(items))
        limit = rt.settings.max_article_tokens
        sized: list[tuple[int, WorkItem]] = []
        for item in items:
            article = Article(item.text, item.title, item.options)
            if item.options.mode == "extractive":
                sized.append((0, item))
                continue
            tokens = summarizer.count_tokens(article)
            if tokens > limit:
                message = f"the article has {tokens} tokens; the limit is {limit}"
                self.fail(item, "article_too_long", message)
            else:
                # Sized by the whole article, a batch of 8 medium articles of 900 words
                # (~1,200 tokens, read as ~850) ran as 7 and 1: two more generate() calls,
                # first drafts and second, at batch-1 speed (a third of the service's time).
                sized.append((summarizer.input_tokens(article), item))
        for group in token_batches([tokens for tokens, _ in sized], summarizer.batch_tokens):
            self.summarize_group(summarizer, spec, [sized[i][1] for i in group])

    def summarize_group(
        self, summarizer: Summarizer, spec: models.ModelSpec, items: list[WorkItem]
    ) -> None:
        """One summarize_batch call; an article that breaks it fails alone. A job cancelled
        while it runs stops generating at the next decoding step; the others go on."""
        watch = self.watch
        assert watch is not None, "claim() comes first: it builds the batch's cancel watch"
        articles = [
            Article(item.text, item.title, item.options, stop=watch.stop_for(item.job_id))
            for item in items
        ]
        try:
            results: list[SummaryResult | Exception] = list(summarizer.summarize_batch(articles))
        except SoftTimeLimitExceeded:
            raise
        except Exception as exc:
            if len(items) == 1:
                log.exception("job %s failed", items[0].job_id)
                results = [exc]
            else:
                # One bad article must fail only its own job: retry them one by one.
                log.exception("batch of %d failed; summarizing one by one", len(items))
                results = [_one(summarizer, article) for article in articles]
        for item, result in zip(items, results, strict=True):
            if watch.is_cancelled(item.job_id):
                # Ended by its cancel (finish.lua); whatever was generated is dropped.
                self.unended.pop(item.job_id, None)
                _job_ended(item, "cancelled", self.started, self.batch_size)
            elif isinstance(result, Exception):
                message = f"{type(result).__name__}: {result}"
                self.fail(item, "summarization_failed", message)
            else:
                runtime.current().store.succeed(item.job_id, item.cache_key, spec, result)
                self.unended.pop(item.job_id, None)
                _job_ended(item, "succeeded", self.started, self.batch_size, result=result)

    def fail(self, item: WorkItem, code: str, message: str) -> None:
        """End one job as failed with `code`."""
        runtime.current().store.fail(item.job_id, code, message)
        self.unended.pop(item.job_id, None)
        _job_ended(item, "failed", self.started, self.batch_size, error=code)

    def fail_unended(self, code: str, message: str) -> None:
        """End every job this call started and has not ended; if Redis is away too, the
        reconciler hands them to another worker once the time limit has passed."""
        for item in list(self.unended.values()):
            try:
                self.fail(item, code, message)
            except Exception as exc:
                log.error("job %s: could not record its failure: %s", item.job_id, exc)


def _job_ended(
    item: WorkItem,
    status: str,
    started: float,
    batch_size: int,
    *,
    result: SummaryResult | None = None,
    error: str | None = None,
) -> None:
    """Record a job's end: its duration in the shared metrics, and one structured line."""
    seconds = time.monotonic() - started
    telemetry = runtime.current().telemetry
    telemetry.observe_job(item.model, status, seconds)
    telemetry.count_lane_job(item.lane, status)
    fields = {
        "job_id": item.job_id,
        "status": status,
        "model": item.model,
        "duration_ms": round(seconds * 1000, 1),
        "input_tokens": result.input.tokens if result else None,
        "input_chunks": result.input.chunks if result else None,
        "generated_tokens": result.generated_tokens if result else None,
        "batch_size": batch_size,
        "attempts": item.attempts,
        "error": error,
    }
    level = logging.INFO if status == "succeeded" else logging.WARNING
    log.log(level, "job %s: %s in %.1fs", item.job_id, status, seconds, extra=fields)


def _one(summarizer: Summarizer, article: Article) -> SummaryResult | Exception:
    try:
        return summarizer.summarize(article)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:  # recorded on its own job by the caller
        log.exception("one article of a batch failed")
        return exc
