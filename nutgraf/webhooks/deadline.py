"""An HTTP transport whose requests end by a deadline, however the receiver trickles.

httpx's timeouts bound each network operation, not the request: a receiver that sends its
answer one byte a second never trips a 10 s read timeout and holds the request for as long
as it likes. Here every connect, read and write of a connection gets at most the time left
until the deadline that was current (`deadline_at`) when the connection was opened.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

# The monotonic time by which the request being made in this context must be over.
_deadline: ContextVar[float | None] = ContextVar("nutgraf_webhook_deadline", default=None)


@contextlib.contextmanager
def deadline_at(deadline: float) -> Iterator[None]:
    """Bound the requests made inside the block to end by `deadline` (time.monotonic())."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def _left(deadline: float | None, timeout: float | None, error: type[Exception]) -> float | None:
    """The timeout for one operation: `timeout`, cut to what is left until the deadline."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the attempt's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, deadline: float | None) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(self._deadline, timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(self._deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(self._deadline, timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, left), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        # Read here, in the thread making the request: connections are never pooled, so
        # each one serves the one request whose deadline is current now.
        deadline = _deadline.get()
        left = _left(deadline, timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, left, local_address, socket_options)
        return _DeadlineStream(stream, deadline)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("callbacks go over TCP only")


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport (its error mapping included) over connections that honour
    `deadline_at`; no proxy, no kept-alive connections, certificates verified."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            # httpx keeps its pool in a private attribute: fail loudly, never run unbounded.
            raise RuntimeError("this httpx version keeps no _pool: the deadline cannot be set")
        # Not kept alive: a connection opened for one host name must never carry a request
        # for another name on the same pinned IP address.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_keepalive_connections=0,
            network_backend=_DeadlineBackend(),
        )
