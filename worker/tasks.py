"""Thin tasks: load the jobs, call the engine, store the results."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded

from nutgraf import models
from nutgraf.contract import SummaryResult
from nutgraf.settings import Settings
from nutgraf.store import WorkItem
from nutgraf.summarize import Article, Summarizer
from worker import runtime
from worker.app import SUMMARIZE_TASK
from worker.batching import AckLateBatches

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
    """Run jobs to a terminal state, one batch per model; safe to run twice."""
    rt = runtime.current()
    started = time.monotonic()
    by_model: dict[str, list[WorkItem]] = defaultdict(list)
    for job_id in dict.fromkeys(job_ids):  # a redelivered duplicate runs once
        item = rt.store.start(job_id, rt.worker_id)
        if item is None:
            log.info("job %s: already finished or expired, nothing to do", job_id)
        elif item.attempts > rt.settings.max_job_attempts:
            message = f"the job was interrupted {item.attempts - 1} times; giving up"
            rt.store.fail(job_id, "worker_lost", message)
            _job_ended(item, "failed", started, 0, error="worker_lost")
        else:
            by_model[item.model].append(item)
    for model_name, items in by_model.items():
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
            for item in items:
                rt.store.fail(item.job_id, "model_unavailable", str(exc))
                _job_ended(item, "failed", started, len(items), error="model_unavailable")
            log.error("model unavailable, %d job(s) failed: %s", len(items), exc)
            continue
        rt.telemetry.observe_batch(model_name, len(items))
        _summarize_items(summarizer, spec, items, started)


def _summarize_items(
    summarizer: Summarizer, spec: models.ModelSpec, items: list[WorkItem], started: float
) -> None:
    rt = runtime.current()
    articles = [Article(item.text, item.title, item.options) for item in items]
    try:
        try:
            results: list[SummaryResult | Exception] = list(summarizer.summarize_batch(articles))
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            if len(items) == 1:
                raise
            # One bad article must fail only its own job: retry them one by one.
            log.exception("batch of %d failed; summarizing one by one", len(items))
            results = [_one(summarizer, article) for article in articles]
    except SoftTimeLimitExceeded:
        limit = rt.settings.task_time_limit_s
        for item in items:
            rt.store.fail(item.job_id, "timeout", f"summarizing took longer than {limit} s")
            _job_ended(item, "failed", started, len(items), error="timeout")
        log.error("batch timed out after %d s", limit)
        return
    except Exception as exc:
        results = [exc]
        log.exception("job %s failed", items[0].job_id)
    for item, result in zip(items, results, strict=True):
        if isinstance(result, Exception):
            message = f"{type(result).__name__}: {result}"
            rt.store.fail(item.job_id, "summarization_failed", message)
            _job_ended(item, "failed", started, len(items), error="summarization_failed")
            continue
        rt.store.succeed(item.job_id, item.cache_key, spec, result)
        _job_ended(item, "succeeded", started, len(items), result=result)


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
    runtime.current().telemetry.observe_job(item.model, status, seconds)
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
