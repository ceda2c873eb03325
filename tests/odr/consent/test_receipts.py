"""The receipt itself: its claims (D31), its signature and who can verify it (D32)."""

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction
from joserfc import jws
from joserfc.jwk import OctKey, OKPKey

from odr.audit.models import AppendOnlyError
from odr.consent.keys import public_jwks, signing_key_create
from odr.consent.models import ConsentPurpose, ConsentReceipt
from odr.consent.receipts import TYPE, canonical_json, receipt_verify

from .helpers import NOTICE, b64url, b64url_json, flip, give

pytestmark = [
    pytest.mark.django_db,
    # joserfc notes that RFC 9864 renames EdDSA; the tests sign and verify with it directly.
    pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning"),
]

GIVEN_AT = datetime(2026, 3, 10, 9, 30, 15, 500000, tzinfo=UTC)


def test_d31_receipt_has_kantara_required_fields_and_iso27560_event(consumer):
    with time_machine.travel(GIVEN_AT, tick=False):
        record = give(consumer, purpose=ConsentPurpose.SHARE_WITH_MERCHANT_AND_MEDIATOR)
    receipt = record.receipts.get()
    claims = receipt.payload

    assert claims["version"] == "KI-CR-v1.1.0"
    assert claims["jurisdiction"] == "FR"
    assert claims["consentTimestamp"] == 1773135015  # integer UTC seconds
    assert isinstance(claims["consentTimestamp"], int)
    assert claims["collectionMethod"] == "web_form"
    assert uuid.UUID(claims["consentReceiptID"]).version == 4
    assert claims["consentReceiptID"] == str(receipt.receipt_id)
    assert claims["piiPrincipalId"] == f"user:{consumer.pk}"
    assert "camille@example.test" not in json.dumps(claims)  # pseudonymous: no e-mail in the receipt
    assert claims["piiControllers"] == [
        {
            "piiController": "ODR platform (demo)",
            "contact": "Data protection officer",
            "address": "1 rue de la Démo, 75001 Paris, France",
            "email": "dpo@localhost",
            "phone": "+33 1 00 00 00 00",
            "piiControllerUrl": "http://127.0.0.1:8000",
        }
    ]
    assert claims["policyUrl"] == "http://127.0.0.1:8000/privacy/"
    assert claims["sensitive"] is False
    [service] = claims["services"]
    assert service["service"]
    [purpose] = service["purposes"]
    assert set(purpose) >= {
        "purpose",
        "purposeCategory",
        "consentType",
        "piiCategory",
        "primaryPurpose",
        "termination",
        "thirdPartyDisclosure",
    }
    assert purpose["consentType"] == "EXPLICIT"
    assert purpose["purposeCategory"] == ["3rd Party Sharing for Core Function"]
    assert purpose["thirdPartyDisclosure"] is True and purpose["thirdPartyName"]

    assert claims["event"] == {
        "record_id": str(record.uid),
        "event_time": "2026-03-10T09:30:15.500000+00:00",
        "event_type": "given",
        "event_state": "given",
        "event_by": f"user:{consumer.pk}",
        "validity_until": None,
    }
    assert claims["caseReference"] == "C-2026-000123"


def test_d31_notice_text_hash_recorded(consumer):
    record = give(consumer)
    expected = hashlib.sha256(NOTICE.encode("utf-8")).hexdigest()

    assert record.notice_text == NOTICE
    assert record.notice_sha256 == expected
    assert record.receipts.get().payload["notice"] == {"version": "2026-01", "sha256": expected}


def test_d32_receipt_is_compact_jws_signed_ed25519_with_thumbprint_kid(consumer):
    receipt = give(consumer).receipts.get()
    header_part, payload_part, signature_part = receipt.jws.split(".")
    header = b64url_json(header_part)
    assert len(base64.urlsafe_b64decode(signature_part + "==")) == 64  # an Ed25519 signature

    assert header == {"alg": "EdDSA", "kid": receipt.kid, "typ": TYPE}
    [public] = public_jwks()["keys"]
    assert public["kty"] == "OKP" and public["crv"] == "Ed25519"
    key = OKPKey.import_key({name: public[name] for name in ("kty", "crv", "x")})
    assert header["kid"] == key.thumbprint()  # RFC 7638, recomputed from the public key alone
    # The payload is exactly the stored claims, and the signature holds with the public key only.
    assert b64url_json(payload_part) == receipt.payload
    verified = jws.deserialize_compact(receipt.jws, key, algorithms=["EdDSA"])
    assert verified.payload == canonical_json(receipt.payload)

    result = receipt_verify(receipt.jws)
    assert result.valid and result.claims == receipt.payload


def test_d32_altered_receipt_is_invalid(consumer):
    compact = give(consumer).receipts.get().jws
    header, payload, signature = compact.split(".")
    # Middle characters: the last character of a base64url part may only carry padding bits.
    altered_payload = f"{header}.{flip(payload, len(payload) // 2)}.{signature}"
    altered_signature = f"{header}.{payload}.{flip(signature, len(signature) // 2)}"
    swapped_claims = b64url_json(payload) | {"piiPrincipalId": "user:999999"}
    forged_payload = b64url(canonical_json(swapped_claims))

    for altered in (altered_payload, altered_signature, f"{header}.{forged_payload}.{signature}"):
        result = receipt_verify(altered)
        assert not result.valid and result.claims is None
        assert "modifié après son émission" in result.reason


def test_d32_receipt_signed_by_unknown_key_is_invalid(consumer):
    claims = give(consumer).receipts.get().payload
    stranger = OKPKey.generate_key("Ed25519")
    header = {"alg": "EdDSA", "kid": stranger.thumbprint(), "typ": TYPE}
    forged = jws.serialize_compact(header, canonical_json(claims), stranger, algorithms=["EdDSA"])
    result = receipt_verify(forged)

    assert not result.valid
    assert "une clé que cette plateforme ne connaît pas" in result.reason


def test_d32_receipt_claiming_our_kid_but_signed_by_another_key_is_invalid(consumer):
    receipt = give(consumer).receipts.get()
    stranger = OKPKey.generate_key("Ed25519")
    header = {"alg": "EdDSA", "kid": receipt.kid, "typ": TYPE}
    forged = jws.serialize_compact(header, canonical_json(receipt.payload), stranger, algorithms=["EdDSA"])

    assert not receipt_verify(forged).valid


def test_d32_receipt_with_another_algorithm_is_invalid(consumer):
    receipt = give(consumer).receipts.get()
    header = {"alg": "HS256", "kid": receipt.kid, "typ": TYPE}
    # The classic confusion attack: an HMAC keyed with the public key's bytes.
    public = next(key for key in public_jwks()["keys"] if key["kid"] == receipt.kid)
    hmac = jws.serialize_compact(
        header, canonical_json(receipt.payload), OctKey.import_key(public["x"]), algorithms=["HS256"]
    )
    unsigned = ".".join(
        [
            b64url(json.dumps({"alg": "none", "kid": receipt.kid, "typ": TYPE}).encode()),
            receipt.jws.split(".")[1],
            "",
        ]
    )

    for token in (hmac, unsigned):
        result = receipt_verify(token)
        assert not result.valid
        assert "méthode de signature" in result.reason


@pytest.mark.parametrize(
    "garbage",
    ["", "   ", "hello", "a.b.c", "eyJhbGciOiJFZERTQSJ9.e30.!!!", "x" * 50_000, "é.é.é", "W10.e30.AA"],
)
def test_d32_garbage_is_invalid_with_a_reason(garbage):
    result = receipt_verify(garbage)

    assert not result.valid and result.claims is None
    assert result.reason


def test_d32_pasted_receipt_may_be_wrapped_over_lines(consumer):
    compact = give(consumer).receipts.get().jws
    wrapped = "\n".join(compact[i : i + 76] for i in range(0, len(compact), 76))

    assert receipt_verify(f"  {wrapped}\n").valid


def test_d32_old_receipts_still_verify_after_key_rotation(consumer):
    old = give(consumer).receipts.get()
    new_kid = signing_key_create()
    new = give(consumer, purpose=ConsentPurpose.ENTER_MEDIATION).receipts.get()

    assert new.kid == new_kid != old.kid
    assert {key["kid"] for key in public_jwks()["keys"]} == {old.kid, new.kid}
    assert receipt_verify(old.jws).valid
    assert receipt_verify(new.jws).valid


def test_d32_receipts_cannot_be_modified(consumer):
    receipt = give(consumer).receipts.get()
    receipt.jws = receipt.jws.replace(".", "x.", 1)

    with pytest.raises(AppendOnlyError):
        receipt.save()
    with pytest.raises(AppendOnlyError):
        ConsentReceipt.objects.filter(pk=receipt.pk).update(event_type="withdrawn")
    with pytest.raises(AppendOnlyError):
        receipt.delete()
    with pytest.raises(AppendOnlyError):
        ConsentReceipt.objects.all().delete()
    receipt.refresh_from_db()
    assert receipt_verify(receipt.jws).valid


@pytest.mark.postgres
def test_d32_database_trigger_refuses_changing_a_receipt(consumer):
    receipt = give(consumer).receipts.get()
    for sql in ("UPDATE consent_consentreceipt SET kid = 'x'", "DELETE FROM consent_consentreceipt"):
        with (
            pytest.raises(DatabaseError, match="immutable"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    receipt.refresh_from_db()
    assert receipt_verify(receipt.jws).valid
