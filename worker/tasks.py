"""Thin tasks: load the jobs, call the engine, store the results."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded

from nutgraf import models
from nutgraf.engine import Article, Summarizer
from nutgraf.jobs import WorkItem
from nutgraf.schemas import SummaryResult
from nutgraf.settings import Settings
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
    by_model: dict[str, list[WorkItem]] = defaultdict(list)
    for job_id in dict.fromkeys(job_ids):  # a redelivered duplicate runs once
        item = rt.store.start(job_id, rt.worker_id)
        if item is None:
            log.info("job %s: already finished or expired, nothing to do", job_id)
        elif item.attempts > rt.settings.max_job_attempts:
            message = f"the job was interrupted {item.attempts - 1} times; giving up"
            rt.store.fail(job_id, "worker_lost", message)
        else:
            by_model[item.model].append(item)
    for model_name, items in by_model.items():
        log.info("batch of %d job(s) for %s: %s", len(items), model_name,
                 " ".join(i.job_id for i in items))  # fmt: skip
        try:
            spec = models.resolve(model_name, rt.settings.model_revision)
            summarizer = rt.summarizers.get(spec)
        except models.ModelError as exc:
            for item in items:
                rt.store.fail(item.job_id, "model_unavailable", str(exc))
            log.error("model unavailable, %d job(s) failed: %s", len(items), exc)
            continue
        _summarize_items(summarizer, spec, items)


def _summarize_items(summarizer: Summarizer, spec: models.ModelSpec, items: list[WorkItem]) -> None:
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
        log.error("batch timed out after %d s", limit)
        return
    except Exception as exc:
        results = [exc]
        log.exception("job %s failed", items[0].job_id)
    for item, result in zip(items, results, strict=True):
        if isinstance(result, Exception):
            message = f"{type(result).__name__}: {result}"
            rt.store.fail(item.job_id, "summarization_failed", message)
            continue
        rt.store.succeed(item.job_id, item.cache_key, spec, result)
        log.info(
            "job %s: succeeded (%s input tokens, %d chunks, %d generated)",
            item.job_id,
            result.input.tokens,
            result.input.chunks,
            result.generated_tokens,
        )


def _one(summarizer: Summarizer, article: Article) -> SummaryResult | Exception:
    try:
        return summarizer.summarize(article)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:  # recorded on its own job by the caller
        log.exception("one article of a batch failed")
        return exc
