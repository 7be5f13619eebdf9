"""Signed webhook callbacks: who may receive them (url_guard), how they are signed
(signing) and how workers deliver them from the outbox in Redis (outbox)."""

from nutgraf.webhooks.outbox import (
    BACKOFF_CAP_S,
    EVENTS,
    PARALLEL_DELIVERIES,
    BodyFor,
    WebhookOutbox,
    backoff_s,
    retry_after_s,
)
from nutgraf.webhooks.signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    new_secret,
    secret_key,
    sign,
    signed_headers,
)
from nutgraf.webhooks.url_guard import MAX_URL_CHARS, check_callback_url, refusal

__all__ = [
    "BACKOFF_CAP_S",
    "EVENTS",
    "ID_HEADER",
    "MAX_URL_CHARS",
    "PARALLEL_DELIVERIES",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "BodyFor",
    "WebhookOutbox",
    "backoff_s",
    "check_callback_url",
    "new_secret",
    "refusal",
    "retry_after_s",
    "secret_key",
    "sign",
    "signed_headers",
]
