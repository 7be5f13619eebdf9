"""What the store's tests share: a store of their own in the session's Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from nutgraf.store import JobStore
from nutgraf.store.server import RedisServer


@pytest.fixture()
def store(redis_server: RedisServer) -> Iterator[JobStore]:
    """A store on a key prefix of its own in the test Redis."""
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield JobStore(client, 60, 60, prefix=f"storetest-{uuid.uuid4().hex[:8]}")
    client.close()
