"""A reply lost on the way back (Redis restarted or the network dropped after it ran the
command): the client's retry sends the same command again, and must get what its first try
did. An end is then one end, not a job run twice (test_reliability saw `duplicate_ends` 1
after a Redis restart, with no job run twice); a start, a cancel and an Idempotency-Key
claim are the caller's own, not refused as another's."""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest
import redis

from helpers import article
from nutgraf.contract import InputStats, SummaryOptions, SummaryResult
from nutgraf.models.specs import ModelSpec
from nutgraf.store import JobStore
from nutgraf.store.jobstore import connect
from nutgraf.store.server import RedisServer

MODEL = ModelSpec("tiny", "test/tiny", "main", "seq2seq")
OPTIONS = SummaryOptions(length="short")
RESULT = SummaryResult(summary="The council voted.", input=InputStats(characters=40, tokens=9))


class ReplyDroppingProxy:
    """A TCP proxy in front of Redis that, once armed, forwards the next request, then
    swallows Redis's reply and closes the client's connection: the command ran, and the
    client cannot know it."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed = threading.Event()
        self.dropped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            upstream.settimeout(None)  # an idle pooled connection stays open
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replies: bool = False) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if replies and self.armed.is_set():
                    self.armed.clear()
                    self.dropped.set()
                    break  # the reply is lost: both ends of this connection are closed
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture()
def proxied_store(redis_server: RedisServer) -> Iterator[tuple[JobStore, ReplyDroppingProxy]]:
    """A store whose client (a worker's: it retries on a lost connection) goes through
    the proxy, on a key prefix of its own."""
    proxy = ReplyDroppingProxy(redis_server.port)
    client = connect(f"redis://127.0.0.1:{proxy.port}/0", patient=True)
    yield JobStore(client, 60, 60, prefix=f"lost-{uuid.uuid4().hex[:8]}"), proxy
    client.close()
    proxy.close()


def test_an_end_whose_reply_was_lost_is_not_counted_as_a_second_run(
    proxied_store: tuple[JobStore, ReplyDroppingProxy],
) -> None:
    store, proxy = proxied_store
    # Another job ended first: the finish script is loaded in Redis (else the reply lost
    # would be a NOSCRIPT, and nothing would have run).
    warm = store.submit(article("warm-up"), None, MODEL, OPTIONS)
    assert store.fail(warm.job_id, "test", "loads the script")
    job = store.submit(article("lost reply"), None, MODEL, OPTIONS)
    item = store.start(job.job_id, "worker-1")
    assert item is not None
    proxy.armed.set()
    # The first try ends the job and loses its reply; the client's retry finds it ended.
    assert store.succeed(job.job_id, item.cache_key, MODEL, RESULT)
    assert proxy.dropped.is_set(), "the proxy should have swallowed the first reply"
    body = store.get(job.job_id)
    assert body is not None and body["status"] == "succeeded"
    stats = store.redis.hgetall(store.keys.stats_jobs)
    assert stats.get("succeeded") == "1" and "duplicate_ends" not in stats, stats
    # A real second end (another run of the job) still counts.
    assert not store.succeed(job.job_id, item.cache_key, MODEL, RESULT)
    assert store.redis.hget(store.keys.stats_jobs, "duplicate_ends") == "1"


def test_the_proxy_passes_everything_until_armed(
    proxied_store: tuple[JobStore, ReplyDroppingProxy],
) -> None:
    store, proxy = proxied_store
    assert store.redis.ping()
    assert not proxy.dropped.is_set()
    with pytest.raises(redis.ResponseError):
        store.redis.execute_command("NOT-A-COMMAND")


def test_a_start_whose_reply_was_lost_still_hands_the_job_to_its_worker(
    proxied_store: tuple[JobStore, ReplyDroppingProxy],
) -> None:
    store, proxy = proxied_store
    warm = store.submit(article("warm-up start"), None, MODEL, OPTIONS)
    assert store.start(warm.job_id, "worker-1") is not None  # the start script is loaded
    store.redis.set(store.keys.worker("worker-1"), "{}")  # its heartbeat: a live worker
    job = store.submit(article("lost start reply"), None, MODEL, OPTIONS)
    proxy.armed.set()
    # The retry finds the job running under this very worker: it is this call's own start,
    # not another delivery (refused, the job would stay running with no one running it).
    item = store.start(job.job_id, "worker-1")
    assert proxy.dropped.is_set()
    assert item is not None and item.attempts == 1
    # A second delivery of the job while its live worker runs it is still refused.
    assert store.start(job.job_id, "worker-1") is None
    assert store.start(job.job_id, "worker-2") is None


def test_a_claimed_idempotency_key_whose_reply_was_lost_is_still_this_requests(
    proxied_store: tuple[JobStore, ReplyDroppingProxy],
) -> None:
    store, proxy = proxied_store
    assert store.claim_idempotency_key("client", "warm-up", "fp0", 60) == ("new", "")
    proxy.armed.set()
    # Refused as "in progress" by its own claim, the request would answer 409 and leave
    # the key claimed by nobody for its whole TTL: every retry of the client's, 409 too.
    assert store.claim_idempotency_key("client", "k1", "fp1", 60) == ("new", "")
    assert proxy.dropped.is_set()
    # Another request with the key, meanwhile, is told the first is in progress.
    assert store.claim_idempotency_key("client", "k1", "fp1", 60) == ("in_progress", "")
    assert store.claim_idempotency_key("client", "k1", "fp2", 60) == ("mismatch", "")
    store.complete_idempotency_key("client", "k1", "fp1", "summary:abc", 60)
    assert store.claim_idempotency_key("client", "k1", "fp1", 60) == ("replay", "summary:abc")


def test_a_cancel_whose_reply_was_lost_is_still_a_cancel(
    proxied_store: tuple[JobStore, ReplyDroppingProxy],
) -> None:
    store, proxy = proxied_store
    warm = store.submit(article("warm-up cancel"), None, MODEL, OPTIONS)
    assert store.cancel(warm.job_id) == "cancelled"  # the finish script is loaded
    job = store.submit(article("lost cancel reply"), None, MODEL, OPTIONS)
    proxy.armed.set()
    assert store.cancel(job.job_id) == "cancelled"  # not "ended": a 409 for the client
    assert proxy.dropped.is_set()
    assert store.cancel(job.job_id) == "ended"  # a second cancel, a request of its own
