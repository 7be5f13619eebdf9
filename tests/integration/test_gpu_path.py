"""The GPU deployment's code path: a solo-pool worker (what CUDA gets), run here on the CPU,
and on CUDA itself where there is one (those tests skip without it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from flask.testing import FlaskClient

from helpers import (
    STORY,
    TEST_MODEL,
    Databases,
    WorkerProcess,
    batches_in,
    poll_job,
    started_worker,
)
from nutgraf import models
from nutgraf.contract import SummaryOptions
from nutgraf.settings import Settings
from nutgraf.summarize import Article, SummarizerCache
from service import create_app

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _submit_together(client: FlaskClient, count: int) -> list[str]:
    ids = []
    for index in range(count):
        text = f"{STORY} Reporter {index} filed this from desk {uuid.uuid4().hex[:8]}."
        response = client.post("/v1/summaries", json={"text": text, "length": "headline"})
        assert response.status_code == 202, response.get_json()
        ids.append(response.get_json()["id"])
    return ids


def _batch_sizes_of(ids: list[str], log: str) -> list[int]:
    return [n for n, members in batches_in(log) if set(ids) & members]


@pytest.fixture(scope="module")
def solo_settings(settings: Settings, databases: Databases) -> Iterator[Settings]:
    """The test deployment with the pool a GPU worker runs, on its own database (so that
    its worker takes no other test's jobs)."""
    with databases.take() as url:
        yield settings.model_copy(update={"redis_url": url, "worker_pool": "solo"})


@pytest.fixture(scope="module")
def solo_worker(
    solo_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """A real solo-pool worker: the model loads in the worker's own process."""
    with started_worker(solo_settings, tmp_path_factory.mktemp("solo") / "worker.log") as process:
        yield process


def test_solo_pool_worker_batches_jobs(solo_settings: Settings, solo_worker: WorkerProcess) -> None:
    client = create_app(solo_settings).test_client()
    ids = _submit_together(client, 3)
    for job_id in ids:
        job = poll_job(client, job_id)
        assert job["status"] == "succeeded", (job, solo_worker.log_tail())
        assert job["summary"] and job["output"]["tokens"] > 0
    log = solo_worker.log_tail(200_000)
    assert "pool=solo" in log
    sizes = _batch_sizes_of(ids, log)
    assert sum(sizes) >= len(ids) and max(sizes) >= 2, log[-3000:]


@needs_cuda
def test_cuda_loads_half_precision_and_summarizes_a_batch(tmp_path: Path) -> None:
    summarizer = SummarizerCache("cuda", tmp_path / "cache").get(models.resolve(TEST_MODEL))
    assert summarizer.loaded.device.type == "cuda"
    assert summarizer.loaded.model.dtype == torch.float16  # NUTGRAF_DTYPE=auto on CUDA
    options = SummaryOptions(length="short")
    articles = [Article(f"{STORY} Reporter {n} filed this.", options=options) for n in range(4)]
    results = summarizer.summarize_batch(articles)
    assert len(results) == 4
    assert all(r.summary.strip() and r.generated_tokens > 0 for r in results)


@needs_cuda
def test_cuda_worker_picks_solo_and_summarizes(
    settings: Settings, own_redis_url: str, tmp_path: Path
) -> None:
    cuda = settings.model_copy(update={"redis_url": own_redis_url, "device": "cuda"})
    with started_worker(cuda, tmp_path / "worker.log") as process:
        client = create_app(cuda).test_client()
        ids = _submit_together(client, 2)
        for job_id in ids:
            assert poll_job(client, job_id)["status"] == "succeeded", process.log_tail()
        log = process.log_tail(200_000)
    assert "pool=solo" in log and "on cuda" in log
