"""Lanes in a real Redis: arrival order for the interactive lane, owners taking turns in
the bulk lane, positions that match the order jobs are really sent in, ETAs from measured
rates, revisions that supersede, and cancels that leave no trace in the order."""

from __future__ import annotations

import json

import pytest

from nutgraf.contract import SummaryOptions
from nutgraf.models.specs import ModelSpec
from nutgraf.store import JobStore

MODEL = ModelSpec("tiny", "test/tiny", "main", "seq2seq")
OPTIONS = SummaryOptions(length="short")
DESK_A, DESK_B, DESK_C = "a" * 64, "b" * 64, "c" * 64


def article(tag: str) -> str:
    return f"Article {tag}: the council voted on the budget for the town's schools."


def submit(store: JobStore, tag: str, owner: str = "", lane: str = "bulk", **kw: object) -> str:
    return store.submit(article(tag), None, MODEL, OPTIONS, owner=owner, lane=lane, **kw).job_id  # type: ignore[arg-type]


def position(store: JobStore, job_id: str) -> int:
    place = store.lanes.place(job_id)
    assert place is not None
    return int(place["position"])


def test_interactive_jobs_stand_in_arrival_order_and_move_up_as_jobs_start(
    store: JobStore,
) -> None:
    first, second, third = (submit(store, t, lane="interactive") for t in "123")
    assert [position(store, j) for j in (first, second, third)] == [1, 2, 3]
    body = store.get(second)
    assert body is not None and body["priority"] == "interactive"
    assert body["queue"]["lane"] == "interactive" and body["queue"]["position"] == 2
    store.start(first, "w")
    assert store.lanes.place(first) is None
    assert [position(store, j) for j in (second, third)] == [1, 2]
    running = store.get(first)
    assert running is not None and running["queue"] is None


def test_bulk_owners_take_turns_and_positions_are_the_order_jobs_are_sent(
    store: JobStore,
) -> None:
    backfill = [submit(store, f"a{i}", DESK_A) for i in range(6)]
    small = [submit(store, f"b{i}", DESK_B) for i in range(2)]
    third = [submit(store, f"c{i}", DESK_C) for i in range(1)]
    jobs = backfill + small + third
    predicted = {job: position(store, job) for job in jobs}
    assert sorted(predicted.values()) == list(range(1, len(jobs) + 1))
    # Sent two at a time and started in the order sent: the positions said that order.
    sent: list[str] = []
    while len(sent) < len(jobs):
        batch = store.lanes.dispatch_bulk(target=2)
        assert batch, "pending jobs are always dispatched while there is room"
        for job in batch:
            store.start(job, "w")
        sent += batch
    assert [predicted[job] for job in sent] == list(range(1, len(jobs) + 1))
    # One job per owner per round: the small desk's two items are not behind the backfill.
    assert sent[:6] == [backfill[0], small[0], third[0], backfill[1], small[1], backfill[2]]
    assert store.lanes.depth() == {"interactive": 0, "bulk": 0}


def test_a_dispatched_job_keeps_its_position_and_the_broker_side_stays_bounded(
    store: JobStore,
) -> None:
    jobs = [submit(store, f"a{i}", DESK_A) for i in range(5)]
    assert store.lanes.dispatch_bulk(target=3) == jobs[:3]
    assert store.lanes.dispatch_bulk(target=3) == []  # three wait in the broker already
    assert [position(store, j) for j in jobs] == [1, 2, 3, 4, 5]
    assert store.redis.scard(store.keys.queued) == 3
    assert store.lanes.depth()["bulk"] == 5
    assert store.job_counts()["queued"] == 5


def test_cancelling_a_pending_bulk_job_takes_it_out_of_the_turns(store: JobStore) -> None:
    mine = submit(store, "a0", DESK_A)
    theirs = [submit(store, f"b{i}", DESK_B) for i in range(2)]
    assert store.cancel(mine) == "cancelled"
    assert store.redis.lrange(store.keys.bulk_turns, 0, -1) == [DESK_B]
    assert [position(store, j) for j in theirs] == [1, 2]
    assert store.lanes.dispatch_bulk(target=5) == theirs


def test_eta_comes_from_the_lanes_measured_rate_and_its_live_workers(store: JobStore) -> None:
    job = submit(store, "1", lane="interactive")
    ahead = submit(store, "0", lane="bulk")
    assert store.get(job)["queue"]["eta_s"] is None  # type: ignore[index]  # nothing measured
    store.heartbeat("w1", {"id": "w1", "models": {}, "lanes": ["interactive"]}, 60)
    store.lanes.record_batch("interactive", 1, 20.0)
    store.lanes.record_batch("interactive", 3, 40.0)  # 4 jobs in 60 s: 1/15 per second
    assert store.get(job)["queue"] == {"lane": "interactive", "position": 1, "eta_s": 15.0}  # type: ignore[index]
    second = submit(store, "2", lane="interactive")
    assert store.get(second)["queue"]["eta_s"] == 30.0  # type: ignore[index]
    # Two live workers serve the lane: twice the rate.
    store.heartbeat("w2", {"id": "w2", "models": {}, "lanes": ["interactive", "bulk"]}, 60)
    assert store.get(second)["queue"]["eta_s"] == 15.0  # type: ignore[index]
    # The bulk lane has measured nothing: it borrows the interactive per-process rate.
    assert store.get(ahead)["queue"]["eta_s"] == 15.0  # type: ignore[index]


def test_a_newer_revision_supersedes_the_older_unfinished_job(store: JobStore) -> None:
    first = submit(store, "draft 1", DESK_A, lane="interactive", ref="story-42")
    store.start(first, "w")
    second = submit(store, "draft 2", DESK_A, lane="interactive", ref="story-42")
    old = store.get(first)
    assert old is not None and old["status"] == "cancelled"
    assert old["error"]["code"] == "superseded" and second in old["error"]["message"]
    assert old["ref"] == "story-42"
    # The worker that ran the old draft ends it too late: nothing is delivered for it.
    from nutgraf.contract import InputStats, SummaryResult

    result = SummaryResult(summary="Old.", input=InputStats(characters=5, tokens=2))
    assert store.succeed(first, "", MODEL, result) is False
    # The same draft again joins the job in flight: it does not supersede itself.
    again = submit(store, "draft 2", DESK_A, lane="interactive", ref="story-42")
    assert again == second
    assert store.get(second)["status"] == "queued"  # type: ignore[index]
    # Another desk's story of the same ref is its own.
    other = submit(store, "draft 3", DESK_B, lane="interactive", ref="story-42")
    assert store.get(second)["status"] == "queued"  # type: ignore[index]
    assert store.get(other)["status"] == "queued"  # type: ignore[index]


def test_an_ended_job_is_not_superseded(store: JobStore) -> None:
    first = submit(store, "draft 1", lane="interactive", ref="story-7")
    store.cancel(first)
    submit(store, "draft 2", lane="interactive", ref="story-7")
    body = store.get(first)
    assert body is not None and body["error"]["code"] == "cancelled"


@pytest.mark.parametrize("lane", ["interactive", "bulk"])
def test_the_queue_limit_counts_both_lanes(store: JobStore, lane: str) -> None:
    for i in range(2):
        submit(store, f"x{i}", DESK_A, lane=lane)
    refused = store.submit(
        article("y"),
        None,
        MODEL,
        OPTIONS,
        owner=DESK_A,
        lane=lane,
        max_queue=2,  # type: ignore[arg-type]
    )
    assert refused.outcome == "overloaded"


def test_a_job_record_names_its_lane_for_the_worker(store: JobStore) -> None:
    job = submit(store, "1", DESK_A, lane="bulk")
    store.lanes.dispatch_bulk(target=1)
    item = store.start(job, "w")
    assert item is not None and item.lane == "bulk" and item.created_at > 0
    assert json.loads(store.redis.hget(store.keys.job(job), "options")) == OPTIONS.model_dump()
