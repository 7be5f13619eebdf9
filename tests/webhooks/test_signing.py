"""Webhook signatures against Standard Webhooks: the spec libraries' published vector, and
the reference `standardwebhooks` package verifying what nutgraf signs, rotation included."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from nutgraf.webhooks import new_secret, secret_key, sign, signed_headers

# The vector every Standard Webhooks library tests its signer with (test_sign_function in
# libraries/python/tests/test_webhooks.py of standard-webhooks/standard-webhooks).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

BODY = '{"type":"summary.completed","job":{"id":"abc","summary":"Caf\u00e9 owners said yes."}}'


def test_sign_matches_the_published_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_the_reference_package_verifies_a_signed_attempt() -> None:
    secret = new_secret()
    body = BODY.encode()
    headers = signed_headers([secret], body, "job:abc", int(time.time()))
    assert headers["webhook-id"] == "job:abc"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers)["job"]["id"] == "abc"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"yes", b"no"), headers)
    # The id and the timestamp are signed too.
    for name, value in (
        ("webhook-id", "job:abd"),
        ("webhook-timestamp", str(int(time.time()) + 1)),
    ):
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body, {**headers, name: value})


def test_a_rotation_signs_with_every_secret() -> None:
    old, new = new_secret(), new_secret()
    body = BODY.encode()
    headers = signed_headers([new, old], body, "batch:b1", int(time.time()))
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    # Receivers that know either secret accept the attempt.
    assert Webhook(old).verify(body, headers)["type"] == "summary.completed"
    assert Webhook(new).verify(body, headers)["type"] == "summary.completed"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_stale_attempts_are_refused_by_receivers() -> None:
    secret = new_secret()
    body = BODY.encode()
    headers = signed_headers([secret], body, "job:abc", int(time.time()) - 600)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, headers)


def test_new_secrets_are_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(secret_key(first)) == 32
    assert secret_key(first) == base64.b64decode(first.removeprefix("whsec_"))


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("integration-webhook-secret", "starts with whsec_"),
        ("whsec_not base64!", "not base64"),
        ("whsec_dGVzdA==", "decodes to 4 bytes"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "decodes to 65 bytes"),
    ],
)
def test_malformed_secrets_are_refused(secret: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        secret_key(secret)


def test_unpadded_secrets_are_read_as_receivers_read_them() -> None:
    secret = new_secret().rstrip("=")
    body = BODY.encode()
    headers = signed_headers([secret], body, "job:abc", int(time.time()))
    assert Webhook(secret).verify(body, headers)["job"]["id"] == "abc"
