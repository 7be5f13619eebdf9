"""The Idempotency-Key header of the POSTs: a retried request does its work only once."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import request

from nutgraf.contract import MAX_IDEMPOTENCY_KEY_CHARS
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from service.errors import IdempotencyKeyInUse, IdempotencyKeyReused, InvalidRequest


class Idempotency:
    """An Idempotency-Key header: the first request with it does the work, a repeat with
    the same body gets the same job, another body with the same key is refused."""

    # What a POST with the header can answer besides its own errors.
    ERRORS = (IdempotencyKeyReused, IdempotencyKeyInUse)

    def __init__(
        self, store: JobStore, settings: Settings, body: dict[str, Any], scope: str
    ) -> None:
        self.store = store
        self.ttl_s = settings.idempotency_ttl_s
        self.key = request.headers.get("Idempotency-Key")
        self.replay_of: str | None = None
        if self.key is None:
            return
        # Keys are scoped per credential and route (`scope`): two clients can't collide
        # or probe, and the same key on the two POSTs names two things.
        credential = request.headers.get("Authorization", "")
        self.scope = f"{hashlib.sha256(credential.encode()).hexdigest()[:32]}:{scope}"
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        self.fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
        if not 0 < len(self.key) <= MAX_IDEMPOTENCY_KEY_CHARS:
            raise InvalidRequest(
                f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"
            )
        outcome, target = store.claim_idempotency_key(
            self.scope, self.key, self.fingerprint, self.ttl_s
        )
        if outcome == "mismatch":
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with a different body; use a new key"
            )
        if outcome == "in_progress":
            raise IdempotencyKeyInUse("a request with this Idempotency-Key is still being handled")
        if outcome == "replay":
            self.replay_of = target

    def complete(self, target: str) -> None:
        """Remember what the first request created."""
        if self.key is not None:
            self.store.complete_idempotency_key(
                self.scope, self.key, self.fingerprint, target, self.ttl_s
            )

    def release(self) -> None:
        """The first request failed: let the key be used again."""
        if self.key is not None:
            self.store.release_idempotency_key(self.scope, self.key)
