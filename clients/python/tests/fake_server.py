"""A tiny real HTTP server on loopback that answers as a test scripts it, and the bodies
the API sends: what the client's tests talk to."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    """What the server answers; `drop` closes the connection without an answer."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False


class LocalServer:
    """An HTTP server on 127.0.0.1 in a thread, answering with `respond(request)`."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.respond: Callable[[Seen], Reply] = lambda _seen: Reply(404, {})
        self.stopping = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
                outer.requests.append(seen)
                reply = outer.respond(seen)
                if reply.delay_s:
                    outer.stopping.wait(reply.delay_s)
                if reply.drop:
                    self.close_connection = True
                    return
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def handle_one_request(self) -> None:
                # The client gave up on a delayed answer: not an error of the test.
                try:
                    super().handle_one_request()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def script(self, *replies: Reply) -> None:
        """Answer with these replies in turn, the last one for every later request."""
        queue = list(replies)

        def respond(_seen: Seen) -> Reply:
            return queue.pop(0) if len(queue) > 1 else queue[0]

        self.respond = respond

    def stop(self) -> None:
        """Stop serving and free the port."""
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def job_body(status: str = "queued", **extra: Any) -> dict[str, Any]:
    """A job body as the API sends it."""
    body: dict[str, Any] = {
        "id": "job1",
        "status": status,
        "summary": None,
        "bullets": None,
        "sentences": None,
        "checks": None,
        "model": {"name": "smollm2-135m", "revision": "r1"},
        "options": {"length": "medium"},
        "cached": False,
        "created_at": "2026-01-01T00:00:00.000Z",
        "completed_at": None,
        "input": {"characters": 10},
        "output": None,
        "error": None,
        "callback": None,
    }
    return body | extra


def batch_body(batch_id: str, status: str, **counts: int) -> dict[str, Any]:
    """A batch body as the API sends it."""
    return {
        "id": batch_id,
        "status": status,
        "created_at": "2026-01-01T00:00:00.000Z",
        "completed_at": None,
        "counts": {
            "total": 0,
            "queued": 0,
            "running": 0,
            "succeeded": 0,
            "failed": 0,
            "cancelled": 0,
        }
        | counts,
        "progress": 0.0,
        "callback": None,
        "results_url": f"/v1/batches/{batch_id}/results",
    }


def error_body(code: str, message: str = "no") -> dict[str, Any]:
    """The API's error body."""
    return {"error": {"code": code, "message": message}}
