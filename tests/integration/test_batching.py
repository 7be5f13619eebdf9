"""Micro-batching: jobs waiting together are summarized in one generate() call."""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient

from helpers import WorkerProcess, poll_job
from nutgraf.text import sentences


def test_jobs_submitted_together_share_a_batch(
    client: FlaskClient, worker: WorkerProcess, sample_article: str
) -> None:
    lines = sentences(sample_article)
    paragraphs = [" ".join(lines[i : i + 4]) for i in range(0, 16, 4)]
    assert len(paragraphs) == 4
    ids = []
    for paragraph in paragraphs:
        text = f"{paragraph} (batch test {uuid.uuid4()})"
        response = client.post("/v1/summaries", json={"text": text, "length": "headline"})
        assert response.status_code == 202
        ids.append(response.get_json()["id"])
    for job_id in ids:
        job = poll_job(client, job_id)
        assert job["status"] == "succeeded", (job, worker.log_tail())
        assert job["summary"] and job["output"]["tokens"] > 0
    batches = worker.batches()
    ours = [(n, members) for n, members in batches if set(ids) & members]
    assert ours, worker.log_tail()
    assert max(n for n, _ in ours) >= 2, batches  # two of the four in one generate()
    assert set().union(*(members for _, members in ours)) >= set(ids)
