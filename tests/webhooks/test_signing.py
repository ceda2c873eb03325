"""The signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>, checked with a 5-minute window."""

import hashlib
import hmac

import pytest

from odr.webhooks.signing import SignatureError, sign_headers, verify

SECRET = "whsec_" + "ab" * 32
BODY = b'{"data":{"reference":"C-2026-000001"},"type":"complaint.filed"}'


def test_headers_carry_id_timestamp_and_hex_hmac_over_timestamp_dot_body():
    headers = sign_headers(secret=SECRET, message_id="webhook:x:1", body=BODY, timestamp=1_760_000_000)
    expected = hmac.new(SECRET.encode(), b"1760000000." + BODY, hashlib.sha256).hexdigest()
    assert headers == {
        "Webhook-Id": "webhook:x:1",
        "Webhook-Timestamp": "1760000000",
        "Webhook-Signature": f"v1={expected}",
    }


def test_a_fresh_signed_request_verifies():
    headers = sign_headers(secret=SECRET, message_id="m", body=BODY, timestamp=1_760_000_000)
    lowered = {name.lower(): value for name, value in headers.items()}  # header names are case-blind
    assert verify(secret=SECRET, body=BODY, headers=lowered, now=1_760_000_100) == 1_760_000_000


@pytest.mark.parametrize(
    "change",
    [
        {"body": BODY + b" "},
        {"secret": SECRET + "0"},
        {"now": 1_760_000_000 + 301},  # older than five minutes: a possible replay
        {"now": 1_760_000_000 - 301},  # from the future
    ],
)
def test_tampered_body_wrong_secret_or_stale_timestamp_is_refused(change):
    headers = sign_headers(secret=SECRET, message_id="m", body=BODY, timestamp=1_760_000_000)
    arguments = {"secret": SECRET, "body": BODY, "headers": headers, "now": 1_760_000_000} | change
    with pytest.raises(SignatureError):
        verify(**arguments)


def test_a_replayed_signature_with_a_new_timestamp_is_refused():
    headers = sign_headers(secret=SECRET, message_id="m", body=BODY, timestamp=1_760_000_000)
    headers["Webhook-Timestamp"] = "1760000500"
    with pytest.raises(SignatureError):
        verify(secret=SECRET, body=BODY, headers=headers, now=1_760_000_500)


def test_any_of_several_signatures_may_match():
    headers = sign_headers(secret=SECRET, message_id="m", body=BODY, timestamp=1_760_000_000)
    headers["Webhook-Signature"] = "v1=" + "0" * 64 + " " + headers["Webhook-Signature"]
    assert verify(secret=SECRET, body=BODY, headers=headers, now=1_760_000_000)
