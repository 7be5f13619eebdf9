"""A repeated cache-hit POST (issue 16) is answered with the last answer, without reading
the body again; everything else about the request still counts: who sends it, how, with
which headers, and whether its job still exists."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from helpers import keyed_client
from nutgraf.settings import Settings
from service import context

# The module, not the blueprint service.routes exports under the same name.
summaries = importlib.import_module("service.routes.summaries")
KEYS = ["repeat-a-" + "a" * 32, "repeat-b-" + "b" * 32]


@pytest.fixture()
def client(own_redis_url: str, settings: Settings) -> Iterator[FlaskClient]:
    """An app with two API keys and callbacks allowed, on a database of its own."""
    with keyed_client(settings, own_redis_url, KEYS) as test_client:
        yield test_client


def article() -> dict[str, Any]:
    """An extractive request: answered by the API itself, so cached at once."""
    text = (
        f"The harbour board of Eastport met on Monday ({uuid.uuid4().hex}). It approved "
        "a dredging contract worth two million pounds. Three members voted against it."
    )
    return {"text": text, "mode": "extractive", "length": "short"}


def post(client: FlaskClient, body: dict[str, Any], key: str = KEYS[0], **headers: str) -> Any:
    """POST a summary with `key`; the response."""
    return client.post(
        "/v1/summaries", json=body, headers={"Authorization": f"Bearer {key}", **headers}
    )


def unread(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every body the summary route reads from now on."""
    reads: list[int] = []
    read = summaries.read_json_object

    def counting() -> dict[str, Any]:
        reads.append(1)
        return read()

    monkeypatch.setattr(summaries, "read_json_object", counting)
    return reads


def test_a_repeated_hit_gets_the_same_answer_without_a_read(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = article()
    assert post(client, body).status_code == 200  # summarized (extractive) and cached
    hit = post(client, body)
    assert hit.status_code == 200 and hit.json["cached"] is True
    reads = unread(monkeypatch)
    again = post(client, body)
    assert (again.status_code, again.get_data(), reads) == (200, hit.get_data(), [])
    assert again.headers["Content-Type"] == "application/json"
    job = client.get(
        f"/v1/summaries/{hit.json['id']}", headers={"Authorization": f"Bearer {KEYS[0]}"}
    )
    assert job.status_code == 200 and job.json == hit.json


def test_the_key_the_headers_and_the_job_still_count(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = article()
    post(client, body)
    mine = post(client, body).json
    reads = unread(monkeypatch)
    # Another key has a job of its own; an Idempotency-Key is claimed; text/plain is a 415.
    theirs = post(client, body, KEYS[1])
    assert theirs.status_code == 200 and theirs.json["id"] != mine["id"]
    keyed = post(client, body, **{"Idempotency-Key": uuid.uuid4().hex})
    assert keyed.status_code == 200 and keyed.json["cached"] is True
    assert keyed.headers.get("Idempotent-Replayed") is None
    plain_text = client.post(
        "/v1/summaries",
        data=post(client, body).get_data(),
        headers={"Authorization": f"Bearer {KEYS[0]}", "Content-Type": "text/plain"},
    )
    assert plain_text.status_code == 415
    assert len(reads) == 3  # their first hit, the keyed one, the text/plain one
    # The job forgotten (as when Redis lost it): read and submitted again, a new job.
    context_store(client).jobs.hot_hits.clear()
    fresh = post(client, body)
    assert fresh.status_code == 200 and fresh.json["id"] != mine["id"] and len(reads) == 4


def test_a_hit_with_a_callback_is_never_repeated(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {**article(), "callback_url": "http://127.0.0.1:9/hook"}
    post(client, body)
    reads = unread(monkeypatch)
    ids = {post(client, body).json["id"] for _ in range(3)}
    assert len(ids) == 3 and len(reads) == 3  # each hit has its own callback to deliver


def context_store(client: FlaskClient) -> Any:
    """The app's job store."""
    with client.application.app_context():
        return context.store()
