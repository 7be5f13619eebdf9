"""Idempotency-Key: a retried POST gets what the first one created, never a second job."""

from __future__ import annotations

from typing import Any

from nutgraf.store.keys import Keys
from nutgraf.store.lua import LuaScript


class IdempotencyKeys:
    """Claim, complete and release the keys clients send with their POSTs."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self._claim = LuaScript(client, "idempotency_claim")

    def claim(self, scope: str, key: str, fingerprint: str, ttl_s: int) -> tuple[str, str]:
        """('new', '') for a first use; ('replay', target), ('mismatch', '') for another
        body, or ('in_progress', '') while the first request is still being handled."""
        outcome, target = self._claim(
            idempotency=self.keys.idempotency(scope, key), fingerprint=fingerprint, ttl_s=ttl_s
        )
        return outcome, target

    def complete(self, scope: str, key: str, fingerprint: str, target: str, ttl_s: int) -> None:
        """Point a claimed key at what the request created (e.g. 'summary:<job id>')."""
        self.redis.set(self.keys.idempotency(scope, key), f"{fingerprint}|{target}", ex=ttl_s)

    def release(self, scope: str, key: str) -> None:
        """Forget a claimed key whose request failed, so that it can be sent again."""
        self.redis.delete(self.keys.idempotency(scope, key))
