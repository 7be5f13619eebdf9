"""Thin tasks: load the job, call the engine, store the result."""

from __future__ import annotations

import logging

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded

from nutgraf import models
from nutgraf.engine import Article
from nutgraf.settings import Settings
from worker import runtime
from worker.app import SUMMARIZE_TASK

log = logging.getLogger(__name__)


def register(app: Celery, settings: Settings) -> None:
    """Define the tasks on `app`, each with its delivery policy spelled out."""

    @app.task(
        name=SUMMARIZE_TASK,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        time_limit=settings.task_time_limit_s,
        soft_time_limit=max(1, settings.task_time_limit_s - 30),
        # No automatic retries: model errors are not transient, and Redis blips are
        # absorbed by the store's own reconnecting client.
        max_retries=0,
    )
    def summarize(self: Task, job_id: str) -> None:
        run_summary_job(job_id)


def run_summary_job(job_id: str) -> None:
    """Run one job to a terminal state; safe to run twice (redelivery after a crash)."""
    rt = runtime.current()
    item = rt.store.start(job_id, rt.worker_id)
    if item is None:
        log.info("job %s: already finished or expired, nothing to do", job_id)
        return
    if item.attempts > rt.settings.max_job_attempts:
        rt.store.fail(
            job_id,
            "worker_lost",
            f"the job was interrupted {item.attempts - 1} times; giving up",
        )
        return
    log.info("job %s: start (model %s, attempt %d)", job_id, item.model, item.attempts)
    try:
        spec = models.resolve(item.model, rt.settings.model_revision)
        summarizer = rt.summarizers.get(spec)
        result = summarizer.summarize(Article(item.text, item.title, item.options))
    except models.ModelError as exc:
        rt.store.fail(job_id, "model_unavailable", str(exc))
        log.error("job %s: failed: %s", job_id, exc)
        return
    except SoftTimeLimitExceeded:
        limit = rt.settings.task_time_limit_s
        rt.store.fail(job_id, "timeout", f"summarizing took longer than {limit} s")
        log.error("job %s: timed out", job_id)
        return
    except Exception as exc:
        rt.store.fail(job_id, "summarization_failed", f"{type(exc).__name__}: {exc}")
        raise  # Celery logs the traceback once and counts the failure.
    rt.store.succeed(item.job_id, item.cache_key, spec, result)
    log.info(
        "job %s: succeeded (%s input tokens, %d chunks, %d generated)",
        job_id,
        result.input.tokens,
        result.input.chunks,
        result.generated_tokens,
    )
