"""Webhook signatures as Standard Webhooks 1.0 (https://www.standardwebhooks.com) has them.

Every attempt carries `webhook-id` (the same on every retry), `webhook-timestamp` (Unix
seconds of this attempt) and `webhook-signature`: "v1," + base64 HMAC-SHA256, keyed with
the base64-decoded part of a `whsec_...` secret, of b"<id>.<timestamp>." + body. With
several secrets (a rotation) it carries one signature per secret, space-separated, and a
receiver accepts the request when any of them matches a secret it knows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"
# The spec's bounds for a symmetric signing secret.
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64


def secret_key(secret: str) -> bytes:
    """The HMAC key of a "whsec_<base64>" secret; ValueError saying what is wrong with it."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX} (then base64)")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        # Padding is optional, as receivers' libraries accept it either way.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError(f"the part after {SECRET_PREFIX} is not base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"the key decodes to {len(key)} bytes; Standard Webhooks asks for "
            f"{MIN_SECRET_BYTES} to {MAX_SECRET_BYTES}"
        )
    return key


def new_secret() -> str:
    """A fresh random secret: "whsec_" + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature: "v1," + base64 HMAC-SHA256(key, b"<msg_id>.<timestamp>." + body)."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(
    webhook_secrets: Sequence[str], body: bytes, msg_id: str, timestamp: int
) -> dict[str, str]:
    """The headers of one attempt: content type, id, timestamp and one signature a secret."""
    if not webhook_secrets:
        raise ValueError("no webhook secret to sign with")
    return {
        "Content-Type": "application/json",
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: " ".join(
            sign(secret, msg_id, timestamp, body) for secret in webhook_secrets
        ),
    }
