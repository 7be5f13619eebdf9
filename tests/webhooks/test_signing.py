"""Webhook signatures: a known vector, verification, tampering and stale timestamps."""

from __future__ import annotations

import time

from nutgraf.webhooks import sign, verify

SECRET = "whsec_test"


def test_sign_matches_a_known_vector() -> None:
    # printf '%s' '1700000000.{"type":...}' | openssl dgst -sha256 -hmac whsec_test
    body = b'{"type":"summary.completed","job":{"id":"abc"}}'
    assert sign(SECRET, 1700000000, body) == (
        "sha256=67a3a08edc373d8b332d4d86b69d1bb5d50756d3f011307c33c67fb784f1143d"
    )


def test_verify_accepts_a_fresh_signature_and_rejects_tampering() -> None:
    body = b'{"type":"summary.completed","job":{"id":"abc","summary":"A."}}'
    stamp = int(time.time())
    signature = sign(SECRET, stamp, body)
    assert verify(SECRET, str(stamp), signature, body)
    assert not verify(SECRET, str(stamp), signature, body.replace(b"A.", b"B."))
    assert not verify("another secret", str(stamp), signature, body)
    assert not verify(SECRET, str(stamp + 1), signature, body)  # the stamp is signed too
    assert not verify(SECRET, str(stamp), "sha256=" + "0" * 64, body)
    for bad_stamp in (None, "", "soon", "1e9", "-5"):
        assert not verify(SECRET, bad_stamp, signature, body)
    assert not verify(SECRET, str(stamp), None, body)
    assert not verify(SECRET, str(stamp), "sha256=é", body)


def test_verify_rejects_stale_and_future_timestamps() -> None:
    body = b"{}"
    stamp = 1700000000
    signature = sign(SECRET, stamp, body)
    assert verify(SECRET, str(stamp), signature, body, now=stamp + 299)
    assert not verify(SECRET, str(stamp), signature, body, now=stamp + 301)
    assert not verify(SECRET, str(stamp), signature, body, now=stamp - 301)
    assert verify(SECRET, str(stamp), signature, body, now=stamp + 3000, tolerance_s=3600)
