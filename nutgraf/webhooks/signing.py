"""Webhook signatures: HMAC-SHA256 over the timestamp and the body, and its headers.

A receiver recomputes "sha256=" + hex HMAC-SHA256(secret, b"<timestamp>." + body) and
refuses old timestamps, so that a captured request can neither be altered nor replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Nutgraf-Timestamp"
SIGNATURE_HEADER = "X-Nutgraf-Signature"
DELIVERY_HEADER = "X-Nutgraf-Delivery"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Nutgraf-Signature value: "sha256=" + hex HMAC-SHA256 of b"<timestamp>." + body."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, delivery: str, timestamp: int) -> dict[str, str]:
    """The headers of one delivery: content type, timestamp, signature and delivery id."""
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        DELIVERY_HEADER: delivery,
    }


def verify(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    *,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """True when the signature matches the body and the timestamp is within tolerance_s."""
    if not timestamp_header or not signature_header:
        return False
    stamp = timestamp_header.strip()
    if not (stamp.isascii() and stamp.isdigit()):
        return False
    timestamp = int(stamp)
    # Old (or far-future) timestamps are refused so that a captured request cannot be replayed.
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).encode()
    return hmac.compare_digest(expected, signature_header.strip().encode())
