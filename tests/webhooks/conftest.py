"""Fixtures of the webhook tests; what they are made of is in webhook_kit."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
from webhook_kit import Box, Received, Receiver, SlowReceiver, make_settings

from nutgraf.store.server import RedisServer
from nutgraf.webhooks import WebhookOutbox


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    """A receiver serving in a thread for the test's duration."""
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received = Received(self.path, dict(self.headers.items()), body, time.time())
            status, headers = holder[0].answer(received)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder[0]
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture()
def box(redis_server: RedisServer) -> Iterator[Box]:
    """A fresh outbox on a unique prefix of the test Redis."""
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    prefix = f"whtest-{uuid.uuid4().hex[:8]}"
    outbox = WebhookOutbox(client, prefix, make_settings(redis_server.url))
    holder = Box(outbox, client, prefix, redis_server.url)
    yield holder
    for each in [outbox, *holder.others]:
        each.close()
    client.close()


@pytest.fixture()
def slow_receiver() -> Iterator[SlowReceiver]:
    """A receiver that drips its answer, for the test's duration."""
    server = SlowReceiver()
    yield server
    server.close()
