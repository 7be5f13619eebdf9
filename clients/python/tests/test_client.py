"""The Python client against a tiny real HTTP server on loopback: retries, Retry-After,
Idempotency-Key reuse, errors, polling and typed results. (Against the real service:
tests/integration/test_batch_cli.py.)"""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from fake_server import LocalServer, Reply, Seen, batch_body, error_body, job_body

from nutgraf.client import (
    BatchItemResult,
    Client,
    Job,
    NutgrafError,
    NutgrafTimeout,
    parse_retry_after,
)


def test_503_with_retry_after_is_retried_after_waiting(server: LocalServer) -> None:
    server.script(
        Reply(503, error_body("overloaded"), {"Retry-After": "1"}),
        Reply(200, job_body("succeeded", summary="Done.")),
    )
    with Client(server.url) as client:
        started = time.monotonic()
        job = client.get("job1")
        elapsed = time.monotonic() - started
    assert job.status == "succeeded" and job.summary == "Done."
    assert len(server.requests) == 2
    assert elapsed >= 1.0  # waited as told (how much longer: bench/timings.py)


def test_429_retry_of_a_post_reuses_its_idempotency_key(server: LocalServer) -> None:
    server.script(
        Reply(429, error_body("rate_limited"), {"Retry-After": "1"}),
        Reply(202, job_body("queued")),
    )
    with Client(server.url) as client:
        job = client.submit("An article.", length="short")
    assert job.status == "queued"
    first, second = server.requests
    assert first.method == second.method == "POST"
    assert first.body == second.body == {"text": "An article.", "length": "short"}
    key = first.headers["idempotency-key"]
    assert key and second.headers["idempotency-key"] == key


def test_a_post_that_timed_out_is_retried_with_the_same_key(server: LocalServer) -> None:
    server.script(Reply(202, job_body(), delay_s=3), Reply(202, job_body()))
    with Client(server.url, timeout_s=0.5) as client:
        client.submit("An article.", idempotency_key="my-key-1")
    assert [r.headers["idempotency-key"] for r in server.requests] == ["my-key-1", "my-key-1"]


def test_idempotency_key_in_use_is_retried(server: LocalServer) -> None:
    server.script(Reply(409, error_body("idempotency_key_in_use")), Reply(202, job_body()))
    with Client(server.url) as client:
        assert client.submit("An article.").status == "queued"
    assert len({r.headers["idempotency-key"] for r in server.requests}) == 1
    assert len(server.requests) == 2


def test_a_dropped_connection_is_retried(server: LocalServer) -> None:
    server.script(Reply(drop=True), Reply(200, job_body("running")))
    with Client(server.url) as client:
        assert client.get("job1").status == "running"
    assert len(server.requests) == 2


def test_a_refused_connection_to_a_url_never_reached_fails_at_once_naming_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Issue 15: a wrong URL was retried silently for 18 s, then named no URL.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))  # the port is ours and nobody listens: refused
        url = f"http://127.0.0.1:{holder.getsockname()[1]}"
        with Client(url) as client, pytest.raises(NutgrafError) as raised:
            client.get("job1")
    assert raised.value.code == "connection_error"
    assert raised.value.message.startswith(f"GET {url}/v1/summaries/job1: ConnectError")
    assert not [r for r in caplog.records if "retry" in r.getMessage()]


def test_a_service_that_answered_once_is_retried_and_each_retry_logged(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Connection: close, so that the next call needs a new connection.
    server.script(Reply(200, job_body("running"), {"Connection": "close"}))
    with Client(server.url, retries=2) as client:
        client.get("job1")
        server.stop()  # it answered, then went away: a restart, say
        with pytest.raises(NutgrafError) as raised:
            client.get("job1")
    assert raised.value.code == "connection_error"
    assert f"GET {server.url}/v1/summaries/job1" in raised.value.message
    retries = [r for r in caplog.records if r.name == "nutgraf.client.http"]
    assert [r.levelno for r in retries] == [logging.WARNING] * 2
    assert "retry 1 of 2" in retries[0].getMessage()
    assert server.url in retries[0].getMessage()


def test_retries_are_bounded_by_attempts(server: LocalServer) -> None:
    server.script(Reply(503, error_body("unavailable", "redis down"), {"Retry-After": "0"}))
    with Client(server.url, retries=2) as client, pytest.raises(NutgrafError) as raised:
        client.get("job1")
    assert (raised.value.status, raised.value.code) == (503, "unavailable")
    assert raised.value.message == "redis down"
    assert len(server.requests) == 3


def test_a_retry_after_beyond_the_time_budget_is_not_waited_for(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(Reply(429, error_body("rate_limited"), {"Retry-After": "3600"}))
    with Client(server.url, retry_for_s=10) as client, pytest.raises(NutgrafError) as raised:
        client.get("job1")
    assert raised.value.retry_after == 3600
    assert len(server.requests) == 1
    # The client says every wait before it sleeps: no line, no wait.
    assert not [r for r in caplog.records if r.name == "nutgraf.client.http"]


def test_client_errors_raise_at_once_with_code_and_message(server: LocalServer) -> None:
    server.script(Reply(422, error_body("invalid_request", "text: required")))
    with Client(server.url) as client, pytest.raises(NutgrafError) as raised:
        client.submit("x")
    assert (raised.value.status, raised.value.code) == (422, "invalid_request")
    assert raised.value.message == "text: required"
    assert len(server.requests) == 1


def test_a_non_api_error_body_still_gives_a_readable_error(server: LocalServer) -> None:
    server.script(Reply(404, "<html>nope</html>"))
    with Client(server.url) as client, pytest.raises(NutgrafError) as raised:
        client.get("job1")
    assert raised.value.status == 404 and raised.value.code == "http_404"


def test_the_api_key_comes_from_the_argument_or_the_environment(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script(Reply(200, job_body()))
    monkeypatch.setenv("NUTGRAF_API_KEY", "from-env")
    with Client(server.url) as client:
        client.get("job1")
    with Client(server.url, api_key="given") as client:
        client.get("job1")
    monkeypatch.delenv("NUTGRAF_API_KEY")
    with Client(server.url) as client:
        client.get("job1")
    auth = [r.headers.get("authorization") for r in server.requests]
    assert auth == ["Bearer from-env", "Bearer given", None]


def test_summarize_asks_to_wait_then_polls_until_the_job_ends(server: LocalServer) -> None:
    done = job_body(
        "succeeded",
        summary="One. Two.",
        bullets=["One.", "Two."],
        checks={"unsupported": ["1999"], "regenerated": False},
        sentences=[{"text": "One.", "start": 0, "end": 4}],
        completed_at="2026-01-01T00:00:09.000Z",
        output={"tokens": 5},
        new_field="the server added it later",
    )
    server.script(
        Reply(202, job_body("queued"), {"Location": "/v1/summaries/job1"}),
        Reply(200, job_body("running")),
        Reply(200, done),
    )
    with Client(server.url) as client:
        job = client.summarize("An article.", title="T", format="bullets", timeout=12)
    assert isinstance(job, Job) and job.ok and job.done
    assert job.bullets == ["One.", "Two."]
    assert job.checks is not None and job.checks.unsupported == ["1999"]
    assert job.sentences is not None and job.sentences[0].end == 4
    assert job.model_extra == {"new_field": "the server added it later"}
    post, *gets = server.requests
    assert post.headers["prefer"] == "wait=12"
    assert post.body == {"text": "An article.", "title": "T", "format": "bullets"}
    assert [r.path for r in gets] == ["/v1/summaries/job1"] * 2


def test_summarize_without_wait_returns_the_submitted_job(server: LocalServer) -> None:
    server.script(Reply(202, job_body("queued")))
    with Client(server.url) as client:
        job = client.summarize("An article.", wait=False)
    assert job.status == "queued" and not job.done
    assert "prefer" not in server.requests[0].headers and len(server.requests) == 1


def test_a_failed_job_is_returned_not_raised(server: LocalServer) -> None:
    failed = job_body("failed", error={"code": "model_unavailable", "message": "gone"})
    server.script(Reply(200, failed))
    with Client(server.url) as client:
        job = client.summarize("An article.")
    assert job.status == "failed" and not job.ok
    assert job.error is not None and job.error.code == "model_unavailable"


def test_summarize_gives_up_after_its_timeout(server: LocalServer) -> None:
    server.script(Reply(202, job_body("queued")), Reply(200, job_body("running")))
    with Client(server.url) as client, pytest.raises(NutgrafTimeout) as raised:
        client.summarize("An article.", timeout=1)
    assert raised.value.job is not None and raised.value.job.status == "running"


def test_cancel_deletes_the_job(server: LocalServer) -> None:
    server.script(Reply(200, job_body("cancelled")))
    with Client(server.url) as client:
        assert client.cancel("job1").status == "cancelled"
    assert (server.requests[0].method, server.requests[0].path) == ("DELETE", "/v1/summaries/job1")


def test_a_batch_too_large_for_the_server_is_sent_in_halves(server: LocalServer) -> None:
    batches: dict[str, list[dict[str, Any]]] = {}

    def respond(seen: Seen) -> Reply:
        if seen.method == "POST":
            if len(seen.body["items"]) > 2:
                return Reply(413, error_body("payload_too_large"))
            batch_id = f"b{len(batches)}"
            batches[batch_id] = seen.body["items"]
            return Reply(202, batch_body(batch_id, "queued"))
        batch_id = seen.path.split("/")[3].split("?")[0]
        items = batches[batch_id]
        if "/results" not in seen.path:
            counts = {"total": len(items), "succeeded": len(items)}
            return Reply(200, batch_body(batch_id, "succeeded", **counts))
        results = [
            job_body("succeeded", id=item["id"], job_id=f"j-{item['id']}", summary=item["text"])
            for item in items
        ]
        return Reply(200, {"batch": batch_id, "items": results, "next_cursor": None})

    server.respond = respond
    records = [{"id": str(n), "text": f"Text {n}.", "section": "kept home"} for n in range(4)]
    with Client(server.url) as client:
        results = list(client.batch(records, chunk_size=4, idempotency_key="run1"))
    assert all(isinstance(item, BatchItemResult) for item in results)
    assert sorted(item.id for item in results) == ["0", "1", "2", "3"]
    assert {item.job_id for item in results} == {"j-0", "j-1", "j-2", "j-3"}
    posts = [r for r in server.requests if r.method == "POST"]
    assert [len(p.body["items"]) for p in posts] == [4, 2, 2]
    assert [p.headers["idempotency-key"] for p in posts] == ["run1-0", "run1-0a", "run1-0b"]
    assert all("section" not in item for p in posts for item in p.body["items"])


def test_batch_refuses_bad_records_before_sending_them(server: LocalServer) -> None:
    with Client(server.url) as client:
        with pytest.raises(ValueError, match="appears twice"):
            list(client.batch([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]))
        with pytest.raises(ValueError, match="string id"):
            list(client.batch([{"id": 7, "text": "x"}]))
    assert server.requests == []


def test_retry_after_takes_seconds_or_an_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after("7") == 7
    assert parse_retry_after(later, now=now.timestamp()) == 30
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-3") == 0
