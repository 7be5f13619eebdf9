"""huggingface_hub's own InferenceClient against /hf/models/<name>: the real API over HTTP
on loopback with API keys on, a real Redis and a real worker with the bundled model."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
import requests
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError

from helpers import STORY, WorkerProcess, serve, wait_for
from nutgraf.settings import Settings
from nutgraf.text import word_count
from service import context, create_app

KEY = "hf-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
# How long a test retries a 503, as an HF client does after `estimated_time`.
RETRY_FOR_S = 240
# A medium summary of the bundled model takes minutes on a busy CPU.
PLAIN_RETRY_FOR_S = 480
# A cap of 30 tokens is a headline of at most 22 words: quick to generate on a busy CPU.
HEADLINE = {"generate_parameters": {"max_new_tokens": 30}}
AS_V1 = {"length": "headline", "max_words": 22}


def story(tag: str) -> str:
    """An article no other test sends (so no cache hit hides the work)."""
    return f"{STORY} The meeting ({tag} {uuid.uuid4().hex[:8]}) lasted three hours."


@contextmanager
def keyed_api(settings: Settings, **changes: Any) -> Iterator[str]:
    """The API with the key KEY over HTTP, with these settings changed: its base URL."""
    app = create_app(settings.model_copy(update={"api_keys": [KEY], **changes}))
    yield from serve(app)


@pytest.fixture(scope="module")
def url(settings: Settings) -> Iterator[str]:
    """The API on the session's Redis (where the worker listens), keys on."""
    with keyed_api(settings) as base:
        yield base


@pytest.fixture(scope="module")
def impatient_url(settings: Settings) -> Iterator[str]:
    """The same API, waiting only a fraction of a second for summaries."""
    with keyed_api(settings, hf_wait_s=0.3) as base:
        yield base


def hf_client(url: str, name: str = "default", key: str = KEY) -> InferenceClient:
    """huggingface_hub's client, pointed at one model of the service."""
    return InferenceClient(base_url=f"{url}/hf/models/{name}", api_key=key)


def summarize(
    client: InferenceClient, text: str, retry_for_s: float = RETRY_FOR_S, **parameters: Any
) -> str:
    """The summary, retrying 503s (what HF clients do while a model loads) within bounds."""

    def attempt() -> str | None:
        try:
            return client.summarization(text, **parameters).summary_text
        except HfHubHTTPError as exc:
            if exc.response.status_code != 503:
                raise
            return None

    summary: str = wait_for(attempt, retry_for_s, "a summary from /hf", interval_s=1)
    return summary


def hf_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """HF's error body with this status and code."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert body["error_type"] == code
    return body


@contextmanager
def paused(worker: WorkerProcess) -> Iterator[None]:
    """The worker stopped (SIGSTOP): alive to its heartbeat, finishing nothing."""
    assert worker.process is not None
    os.killpg(worker.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(worker.process.pid, signal.SIGCONT)


@pytest.mark.timeout(RETRY_FOR_S + PLAIN_RETRY_FOR_S + 120)
def test_inference_client_summarizes_through_the_v1_path(url: str, worker: WorkerProcess) -> None:
    text = story("one")
    # The model by its own name, with a length bound in tokens: a capped headline.
    capped = summarize(
        hf_client(url, worker.model_name),
        text,
        generate_parameters={"max_new_tokens": 30, "num_beams": 4},
        truncation="only_first",
        clean_up_tokenization_spaces=True,
    )
    assert 1 <= word_count(capped) <= 22, capped
    # The very job POST /v1/summaries makes for those options: a cache hit there now.
    v1 = requests.post(
        f"{url}/v1/summaries",
        json={"text": text, **AS_V1, "truncate": True},
        headers=AUTH,
        timeout=30,
    )
    assert v1.status_code == 200, v1.text
    assert v1.json()["cached"] is True and v1.json()["summary"] == capped
    # As plain as HF clients call it: the default model and length (slower to generate).
    summary = summarize(hf_client(url), text, retry_for_s=PLAIN_RETRY_FOR_S)
    assert word_count(summary) >= 3, summary
    plain = requests.post(f"{url}/v1/summaries", json={"text": text}, headers=AUTH, timeout=30)
    assert plain.json()["cached"] is True and plain.json()["summary"] == summary


def test_a_list_of_inputs_gets_one_summary_each_in_order(url: str, worker: WorkerProcess) -> None:
    texts = [story("first"), story("second"), story("third")]
    request = {"inputs": texts, "parameters": HEADLINE}

    def answered() -> list[dict[str, str]] | None:
        response = requests.post(f"{url}/hf/models/default", json=request, headers=AUTH, timeout=60)
        if response.status_code == 503:
            return None
        assert response.status_code == 200, response.text
        body: list[dict[str, str]] = response.json()
        return body

    summaries = wait_for(answered, RETRY_FOR_S, "three summaries", interval_s=1)
    assert [set(item) for item in summaries] == [{"summary_text"}] * 3
    for text, item in zip(texts, summaries, strict=True):
        single = requests.post(
            f"{url}/v1/summaries", json={"text": text, **AS_V1}, headers=AUTH, timeout=30
        ).json()
        assert single["cached"] is True and single["summary"] == item["summary_text"]


def test_past_the_wait_bound_503_with_estimated_time_then_the_same_job(
    url: str, impatient_url: str, worker: WorkerProcess
) -> None:
    text = story("slow")
    with paused(worker), pytest.raises(HfHubHTTPError) as raised:
        hf_client(impatient_url).summarization(text, **HEADLINE)
    response = raised.value.response
    assert response.status_code == 503
    body = response.json()
    assert body["error_type"] == "not_ready" and "NUTGRAF_HF_WAIT_S" in body["error"]
    assert body["estimated_time"] > 0
    assert response.headers["Retry-After"] == str(int(body["estimated_time"]))
    # The job went on: a retry picks it up (one job for the key, not a second one).
    summary = summarize(hf_client(url), text, **HEADLINE)
    v1 = requests.post(
        f"{url}/v1/summaries", json={"text": text, **AS_V1}, headers=AUTH, timeout=30
    )
    assert v1.json()["summary"] == summary


def test_no_worker_is_a_503_at_once(settings: Settings, own_redis_url: str) -> None:
    # A database of its own: no worker listens there.
    with (
        keyed_api(settings, redis_url=own_redis_url) as base,
        pytest.raises(HfHubHTTPError) as raised,
    ):
        hf_client(base).summarization(story("nobody"))
    body = hf_error(raised.value.response, 503, "not_ready")
    assert "no worker" in body["error"] and body["estimated_time"] > 0


def test_every_wait_slot_taken_is_a_503_at_once(url: str, worker: WorkerProcess) -> None:
    with ExitStack() as slots:
        # The API runs in this process: take each of its wait slots, as waiting requests do.
        while slots.enter_context(context.wait_slot()):
            pass
        response = requests.post(
            f"{url}/hf/models/default", json={"inputs": story("busy")}, headers=AUTH, timeout=30
        )
    body = hf_error(response, 503, "not_ready")
    assert "wait slot" in body["error"]


def test_keys_are_required(url: str) -> None:
    body = {"inputs": story("anonymous")}
    hf_error(requests.post(f"{url}/hf/models/default", json=body, timeout=30), 401, "unauthorized")
    with pytest.raises(HfHubHTTPError) as raised:
        hf_client(url, key="not-a-key").summarization(story("wrong key"))
    assert raised.value.response.status_code == 401
    assert "unknown API key" in str(raised.value)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "invalid_request"),
        ({"inputs": ""}, 422, "invalid_request"),
        ({"inputs": 5}, 422, "invalid_request"),
        ({"inputs": []}, 422, "invalid_request"),
        ({"inputs": ["A council met.", " "]}, 422, "invalid_request"),
        ({"inputs": "A council met.", "parameters": {"truncation": "sometimes"}}, 422, None),
        ({"inputs": "A council met.", "parameters": {"max_new_tokens": 9}}, 422, None),
        ({"inputs": "x" * 100_001}, 413, "text_too_long"),
        ([], 422, "invalid_request"),
    ],
)
def test_bad_bodies_are_4xx_in_hfs_shape(
    url: str, body: Any, status: int, code: str | None
) -> None:
    response = requests.post(f"{url}/hf/models/default", json=body, headers=AUTH, timeout=30)
    hf_error(response, status, code or "invalid_request")


def test_bad_requests_through_the_client(url: str) -> None:
    with pytest.raises(HfHubHTTPError) as raised:
        hf_client(url).summarization("   ")
    assert raised.value.response.status_code == 422
    assert "inputs" in str(raised.value)
    with pytest.raises(HfHubHTTPError) as raised:
        hf_client(url, "no/such-model").summarization(story("nowhere"))
    hf_error(raised.value.response, 404, "not_found")
    not_json = requests.post(
        f"{url}/hf/models/default", data="inputs", headers={**AUTH, "Content-Type": "text/plain"}
    )
    hf_error(not_json, 415, "unsupported_media_type")
    broken = requests.post(
        f"{url}/hf/models/default", data="{", headers={**AUTH, "Content-Type": "application/json"}
    )
    hf_error(broken, 400, "invalid_json")
