"""The client and the lanes: a job's lane and story sent, its place read back; a batch's
lane, its items' stories, and every batch status (its ETA) handed to the caller."""

from __future__ import annotations

from typing import Any

from fake_server import LocalServer, Reply, Seen, batch_body, job_body

from nutgraf.client import Client


def test_a_job_is_sent_in_its_lane_with_its_story_and_says_where_it_stands(
    server: LocalServer,
) -> None:
    place = {"lane": "bulk", "position": 3, "eta_s": 41.5}
    server.script(Reply(202, job_body("queued", priority="bulk", ref="story-9", queue=place)))
    with Client(server.url) as client:
        job = client.submit("An article.", priority="bulk", ref="story-9")
    assert server.requests[0].body == {"text": "An article.", "priority": "bulk", "ref": "story-9"}
    assert job.priority == "bulk" and job.ref == "story-9"
    assert job.queue is not None and (job.queue.position, job.queue.eta_s) == (3, 41.5)


def test_a_batch_run_sends_its_lane_and_refs_and_reports_each_status(
    server: LocalServer,
) -> None:
    posted: list[dict[str, Any]] = []

    def respond(seen: Seen) -> Reply:
        if seen.method == "POST":
            posted.append(seen.body)
            return Reply(202, batch_body("b0", "queued", total=1) | {"eta_s": 12.0})
        if "/results" not in seen.path:
            return Reply(200, batch_body("b0", "succeeded", total=1, succeeded=1))
        item = job_body("succeeded", id="1", job_id="j-1", summary="S.")
        return Reply(200, {"batch": "b0", "items": [item], "next_cursor": None})

    server.respond = respond
    seen: list[Any] = []
    records = [{"id": "1", "text": "Text.", "ref": "story-1"}]
    with Client(server.url) as client:
        items = list(client.batch(records, priority="interactive", on_status=seen.append))
    assert [item.id for item in items] == ["1"]
    assert posted[0]["priority"] == "interactive"
    assert posted[0]["items"] == [{"id": "1", "text": "Text.", "ref": "story-1"}]
    assert seen and seen[-1].status == "succeeded"
