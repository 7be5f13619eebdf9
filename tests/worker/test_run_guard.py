"""A batch function call ends every job it starts, whatever goes wrong outside the model.

celery-batches acknowledges a batch's messages even when the batch function raises, so a
job left `running` or `queued` by an escaped error would wait for good. These run
`run_summary_jobs` in this process with a real Redis, a real tiny BART and a fault injected
where the code cannot control it (Redis failing mid-write, the soft time limit firing).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery.exceptions import SoftTimeLimitExceeded

from nutgraf import models
from nutgraf.contract import SummaryOptions
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from nutgraf.store.server import RedisServer
from nutgraf.summarize import Article, SummarizerCache
from nutgraf.telemetry import Telemetry
from worker import runtime
from worker.tasks import run_summary_jobs

OPTIONS = SummaryOptions(length="headline")
SHORT = "Storms flooded two towns on Monday. Officials said the water would go down."


@pytest.fixture(scope="module")
def summarizers(tmp_path_factory: pytest.TempPathFactory) -> SummarizerCache:
    """Loads the tiny BART once for the module."""
    return SummarizerCache("cpu", tmp_path_factory.mktemp("cache"))


@pytest.fixture()
def rt(
    redis_server: RedisServer, tiny_bart_dir: Path, summarizers: SummarizerCache
) -> Iterator[runtime.Runtime]:
    """A worker runtime in this process, on a key prefix of its own."""
    settings = Settings(
        redis_url=redis_server.url, model=str(tiny_bart_dir), max_article_tokens=300
    )
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    store = JobStore(client, 60, 60, prefix=f"guard-{uuid.uuid4().hex[:8]}")
    made = runtime.Runtime(settings, store, summarizers, Telemetry(client, store.prefix))
    saved, runtime._runtime = runtime._runtime, made
    yield made
    runtime._runtime = saved
    client.close()


def submit(rt: runtime.Runtime, text: str = SHORT) -> str:
    spec = models.resolve(rt.settings.model)
    return rt.store.submit(f"{text} {uuid.uuid4().hex}", None, spec, OPTIONS).job_id


def status(rt: runtime.Runtime, job_id: str) -> tuple[str, str | None]:
    body = rt.store.get(job_id)
    assert body is not None
    return body["status"], (body.get("error") or {}).get("code")


def test_redis_failing_while_storing_a_result_fails_the_jobs_instead_of_stranding(
    rt: runtime.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = [submit(rt), submit(rt)]

    def broken(*args: Any, **kwargs: Any) -> bool:
        raise redis.ConnectionError("Connection reset by peer")

    monkeypatch.setattr(rt.store, "succeed", broken)
    run_summary_jobs(jobs)  # must not raise: celery-batches would ack and forget
    assert [status(rt, j) for j in jobs] == [("failed", "internal_error")] * 2


def test_the_soft_time_limit_during_a_model_load_fails_the_jobs(
    rt: runtime.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = [submit(rt), submit(rt)]

    def slow_load(*args: Any, **kwargs: Any) -> Any:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(rt.summarizers, "get", slow_load)
    run_summary_jobs(jobs)
    assert [status(rt, j) for j in jobs] == [("failed", "timeout")] * 2


def test_an_article_over_the_token_limit_fails_alone_with_its_own_code(
    rt: runtime.Runtime,
) -> None:
    poison = submit(rt, "🦜🌋" * 400)  # emoji: several tokens a character
    jobs = [submit(rt), poison, submit(rt)]
    run_summary_jobs(jobs)
    assert status(rt, poison) == ("failed", "article_too_long")
    assert status(rt, jobs[0]) == status(rt, jobs[2]) == ("succeeded", None)


def test_neighbours_end_before_a_long_article_that_runs_out_of_time(
    rt: runtime.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under the token limit, and distinct sentences: repeated ones would be read once.
    long_text = " ".join(
        f"Storms flooded {n} towns in the {place} valley on Monday."
        for n, place in enumerate(
            ["upper", "lower", "eastern", "western", "northern", "southern"], start=2
        )
    )
    slow = submit(rt, long_text)
    jobs = [slow, submit(rt), submit(rt)]
    summarizer = rt.summarizers.get(models.resolve(rt.settings.model))
    # The long one cannot share a call (its input is counted as the model reads it); the
    # short ones can.
    read = summarizer.input_tokens(Article(long_text, None, OPTIONS))
    assert read > 2 * summarizer.input_tokens(Article(SHORT, None, OPTIONS))
    monkeypatch.setattr(summarizer, "batch_tokens", read + 1)
    original = summarizer.summarize_batch

    def time_runs_out_on_the_long_one(articles: list[Any]) -> Any:
        if any(len(a.text) > len(long_text) // 2 for a in articles):
            raise SoftTimeLimitExceeded()
        return original(articles)

    monkeypatch.setattr(summarizer, "summarize_batch", time_runs_out_on_the_long_one)
    run_summary_jobs(jobs)
    assert status(rt, slow) == ("failed", "timeout")
    assert status(rt, jobs[1]) == status(rt, jobs[2]) == ("succeeded", None)


def test_articles_are_batched_by_what_the_model_reads_not_by_their_length(
    rt: runtime.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 16: sized by their whole length, long articles that the model reads as their
    # salient sentences ran in more, smaller generate() calls than the budget allows.
    long_text = " ".join(
        f"Crews repaired {n} bridges over the river near town {n}." for n in range(12)
    )
    monkeypatch.setattr(rt, "settings", rt.settings.model_copy(update={"max_article_tokens": 4000}))
    jobs = [submit(rt, f"{long_text} Edition {i}.") for i in range(3)]
    summarizer = rt.summarizers.get(models.resolve(rt.settings.model))
    article = Article(long_text, None, OPTIONS)
    read, whole = summarizer.input_tokens(article), summarizer.count_tokens(article)
    assert whole > 2 * read  # the model reads well under half of each
    monkeypatch.setattr(summarizer, "batch_tokens", 3 * (read + 8))
    calls: list[int] = []
    original = summarizer.summarize_batch

    def counting(articles: list[Any]) -> Any:
        calls.append(len(articles))
        return original(articles)

    monkeypatch.setattr(summarizer, "summarize_batch", counting)
    run_summary_jobs(jobs)
    assert [status(rt, j) for j in jobs] == [("succeeded", None)] * 3
    assert calls == [3]
