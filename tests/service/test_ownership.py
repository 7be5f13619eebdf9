"""Jobs and batches belong to the API key that created them: another key shares no job in
flight, and cannot read, cancel or attach its callback to them; the cache stays shared."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from helpers import keyed_client
from nutgraf.settings import Settings

KEY_A = "owner-a-" + "a" * 32
KEY_B = "owner-b-" + "b" * 32


@pytest.fixture()
def client(own_redis_url: str, settings: Settings) -> Iterator[FlaskClient]:
    """An app with two API keys on an empty database of its own, where no worker listens:
    jobs queued there stay queued."""
    with keyed_client(settings, own_redis_url, [KEY_A, KEY_B]) as test_client:
        yield test_client


def auth(key: str) -> dict[str, str]:
    """The Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}


def article() -> str:
    """An article no other test submits."""
    return (
        f"The harbour board of Eastport met on Monday ({uuid.uuid4().hex}). It approved "
        "a dredging contract worth two million pounds. Three members voted against it."
    )


def post(client: FlaskClient, key: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a summary; return its body (202 or 200)."""
    response = client.post("/v1/summaries", json=body, headers=auth(key))
    assert response.status_code in (200, 202), response.get_data(as_text=True)
    result: dict[str, Any] = response.get_json()
    return result


def test_another_key_neither_joins_nor_reads_nor_cancels_a_job(client: FlaskClient) -> None:
    text = article()
    mine = post(client, KEY_A, {"text": text})
    assert post(client, KEY_A, {"text": text})["id"] == mine["id"]  # same key: shared
    hook = "http://127.0.0.1:9/hook"
    theirs = post(client, KEY_B, {"text": text, "callback_url": hook})
    assert theirs["id"] != mine["id"]
    assert theirs["callback"]["url"] == hook
    url = f"/v1/summaries/{mine['id']}"
    assert client.get(url, headers=auth(KEY_B)).status_code == 404
    refused = client.delete(url, headers=auth(KEY_B))
    assert refused.status_code == 404
    assert refused.get_json()["error"]["code"] == "not_found"
    own = client.get(url, headers=auth(KEY_A)).get_json()
    assert (own["status"], own["callback"]) == ("queued", None)
    assert client.delete(url, headers=auth(KEY_A)).get_json()["status"] == "cancelled"
    assert client.get(f"/v1/summaries/{theirs['id']}", headers=auth(KEY_B)).status_code == 200


def test_the_cache_is_shared_between_keys(client: FlaskClient) -> None:
    body = {"text": article(), "mode": "extractive"}
    first = post(client, KEY_A, body)
    assert (first["status"], first["cached"]) == ("succeeded", False)
    hit = post(client, KEY_B, body)
    assert (hit["status"], hit["cached"], hit["summary"]) == ("succeeded", True, first["summary"])


def test_a_batch_belongs_to_its_key(client: FlaskClient) -> None:
    texts = [article(), article()]
    mine = post(client, KEY_A, {"text": texts[0]})
    items = [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    created = client.post("/v1/batches", json={"items": items}, headers=auth(KEY_B))
    assert created.status_code == 202, created.get_data(as_text=True)
    batch = created.get_json()["id"]
    for path in (f"/v1/batches/{batch}", f"/v1/batches/{batch}/results"):
        assert client.get(path, headers=auth(KEY_A)).status_code == 404
    assert client.delete(f"/v1/batches/{batch}", headers=auth(KEY_A)).status_code == 404
    page = client.get(f"/v1/batches/{batch}/results", headers=auth(KEY_B)).get_json()
    assert mine["id"] not in [item["job_id"] for item in page["items"]]
    deleted = client.delete(f"/v1/batches/{batch}", headers=auth(KEY_B))
    assert deleted.get_json()["counts"]["cancelled"] == 2
    # Deleting B's batch left A's job running.
    assert client.get(f"/v1/summaries/{mine['id']}", headers=auth(KEY_A)).json == {
        **mine, "status": "queued"}  # fmt: skip
