"""What the webhook tests share: real HTTP receivers on loopback ports (a prompt one and
one that drips its answer), and outboxes on their own prefixes of the test Redis."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from helpers import wait_for
from nutgraf.settings import Settings
from nutgraf.webhooks import ID_HEADER, WebhookOutbox

# "whsec_" + base64 of 31 bytes of text: a fixed, valid Standard Webhooks secret.
SECRET = "whsec_bnV0Z3JhZiB3ZWJob29rIHRlc3RzLCAzMiBieXRlcw=="
# The dripping receiver sends one byte of its answer's headers this often: far more often
# than any read timeout, so only a deadline on the whole attempt ends it.
DRIP_S = 0.1
DRIP_FOR_S = 60.0  # then it completes its answer (a 200), so that nothing drips forever


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A real HTTP server on a loopback port that answers with scripted status codes."""

    server: ThreadingHTTPServer
    statuses: list[int] = field(default_factory=list)  # next answers; then `default`
    default: int = 200
    # Headers of the next answers (each answer takes the first, if any).
    answer_headers: list[dict[str, str]] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        """Its callback URL."""
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, received: Received) -> tuple[int, dict[str, str]]:
        """Record a request and pick its status and extra headers."""
        with self.lock:
            self.requests.append(received)
            status = self.statuses.pop(0) if self.statuses else self.default
            return status, self.answer_headers.pop(0) if self.answer_headers else {}


def make_settings(redis_url: str, **overrides: Any) -> Settings:
    """Settings for an outbox: signed, private receivers allowed, retried for a minute."""
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "webhook_secret": SECRET,
        "webhook_allow_private": True,
        "webhook_timeout_s": 5,
        "webhook_retry_for_s": 60,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Box:
    """An outbox on its own key prefix, and the client to inspect it."""

    outbox: WebhookOutbox
    redis: Any
    prefix: str
    redis_url: str

    def add(self, kind: str, ident: str, url: str) -> str:
        """An ended record with a pending callback, due now, as the finishing script leaves it."""
        key = f"{self.prefix}:{kind}:{ident}"
        self.redis.hset(
            key, mapping={"id": ident, "callback_url": url, "callback_state": "pending"}
        )
        self.redis.zadd(f"{self.prefix}:webhooks:due", {f"{kind}:{ident}": time.time()})
        return key

    def attempts(self, key: str) -> list[dict[str, Any]]:
        """The recorded attempts of a record."""
        attempts: list[dict[str, Any]] = json.loads(self.redis.hget(key, "callback_attempts"))
        return attempts

    def due(self) -> dict[str, float]:
        """The outbox's members and their due times."""
        return dict(self.redis.zrange(f"{self.prefix}:webhooks:due", 0, -1, withscores=True))

    def another(self, lease_s: float | None = None, **overrides: Any) -> WebhookOutbox:
        """A second outbox on the same prefix (another worker), with other settings."""
        outbox = WebhookOutbox(
            self.redis, self.prefix, make_settings(self.redis_url, **overrides), lease_s=lease_s
        )
        self.others.append(outbox)
        return outbox

    def round(self, outbox: WebhookOutbox | None = None) -> int:
        """One delivery round of `outbox` (the box's own by default), waited out."""
        outbox = outbox or self.outbox
        claimed = outbox.run_once(body_for)
        assert outbox.wait_idle(30), "a delivery round did not end"
        return claimed

    others: list[WebhookOutbox] = field(default_factory=list)


def body_for(kind: str, ident: str) -> dict[str, Any]:
    """A stand-in for the store's public body."""
    return {"id": ident, "status": "succeeded", "summary": "Caf\u00e9 owners said yes."}


def run_until_settled(box: Box, key: str, timeout_s: float) -> str:
    """Run delivery rounds (as the worker's loop does) until the callback is not pending."""

    def settled() -> str | None:
        box.round()
        state: str = box.redis.hget(key, "callback_state")
        return state if state != "pending" else None

    state: str = wait_for(settled, timeout_s, f"the callback of {key} to settle", 0.05)
    return state


class SlowReceiver:
    """A real HTTP server on a loopback port that reads the request, then sends its answer's
    status line and drips a header one byte every DRIP_S until `stop` is set."""

    def __init__(self) -> None:
        self.deliveries: list[str] = []  # the webhook-id of each request, in order
        self.stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.deliveries.append(self.headers.get(ID_HEADER, ""))
                self.close_connection = True
                try:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                    ends = time.monotonic() + DRIP_FOR_S
                    while not receiver.stop.wait(DRIP_S) and time.monotonic() < ends:
                        self.wfile.write(b"a")
                    self.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass  # the sender hung up: what its deadline is for

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True  # a dripping handler never blocks server_close
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """Its callback URL."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/slow"

    def close(self) -> None:
        """Stop dripping (answers in progress end) and serving."""
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def in_background(call: Callable[[], Any]) -> list[Any]:
    """Run call() in a daemon thread; the list returned gets its result or its exception,
    so that a test can wait for it with a deadline instead of hanging with it."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:
            outcome.append(exc)

    threading.Thread(target=run, daemon=True).start()
    return outcome
