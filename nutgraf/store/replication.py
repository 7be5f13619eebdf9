"""Writes that count only once a replica has them (WAIT, NUTGRAF_REDIS_MIN_REPLICAS)."""

from __future__ import annotations

from typing import Any

from nutgraf.store.keys import Keys


def replicated(client: Any, keys: Keys, replicas: int, timeout_ms: int) -> bool:
    """True once at least `replicas` replicas have every write made so far, by any client;
    False when `timeout_ms` passed first. Always True for 0 replicas (nothing asked)."""
    if replicas <= 0:
        return True
    # WAIT counts the replicas that have the calling connection's last write. A write on
    # this very connection first (a pipeline keeps one connection) makes that "everything
    # written before now", whichever connection of the pool wrote it.
    with client.pipeline(transaction=False) as pipe:
        pipe.set(keys.replicated, "1", ex=3600)
        pipe.wait(replicas, timeout_ms)
        _, acknowledged = pipe.execute()
    return int(acknowledged) >= replicas
