"""Consent receipts as signed claims (D31, D32): building, signing and verifying them.

The claims are a Kantara Consent Receipt v1.1 (`version` KI-CR-v1.1.0) with the ISO/IEC TS 27560
event and notice added under `event` and `notice`. Choices made where the standards leave room:

- `piiPrincipalId` is `user:<id>`, a stable pseudonymous identifier (Kantara allows "a defined or
  namespaced identifier", an e-mail address is only its example). The e-mail address is left out on
  purpose: a receipt is shown to whoever the person hands it to and pasted into a public page, an
  address changes while the receipt must not, and a receipt that carries no personal data survives the
  anonymisation of a closed case (D35). The person recognises the receipt by the e-mail it came with,
  the purpose and the times.
- `consentTimestamp` is when the consent was given, on every receipt of that consent (Kantara's
  meaning); `event.event_time` is when this receipt's event (given, withdrawn, expired) happened.
- The JWS header is `{"alg": "EdDSA", "kid": <RFC 7638 thumbprint>, "typ": "kantara-cr+jws"}`. An
  explicit `typ` (RFC 8725 §3.11) means that nothing else the key might ever sign can pass for a
  receipt, and the verifier requires it. `EdDSA` with an Ed25519 key is what every JOSE library
  verifies today; RFC 9864 names the same signature `Ed25519`, which joserfc flags with a warning.
"""

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from joserfc.errors import JoseError

from .keys import ALGORITHM, jws_sign, jws_verify, public_jwks
from .models import ConsentPurpose, ConsentRecord

VERSION = "KI-CR-v1.1.0"
JURISDICTION = "FR"
TYPE = "kantara-cr+jws"
MAX_LENGTH = 20_000  # a receipt is ~2 kB; anything much longer is not one of ours

# Kantara CR v1.1 appendix categories. Sharing the file is the only purpose that discloses data to
# third parties (the merchant and the mediator); the others are the dispute service itself.
PURPOSE_CATEGORY = {
    ConsentPurpose.COMPLAINT_PROCESSING: "Core Function",
    ConsentPurpose.SHARE_WITH_MERCHANT_AND_MEDIATOR: "3rd Party Sharing for Core Function",
    ConsentPurpose.ENTER_MEDIATION: "Core Function",
    ConsentPurpose.PROPOSAL_RESPONSE: "Core Function",
}
# A complaint file holds who the person is and how to reach them, the order and its amount, and what
# the parties wrote to each other.
PII_CATEGORIES = ["Contact", "Financial", "Communications"]


def principal_id(person) -> str:
    return f"user:{person.pk}"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def receipt_claims(
    record: ConsentRecord, *, receipt_id: uuid.UUID, event: str, at: datetime, actor=None
) -> dict:
    """The claims of one receipt for `event` (a ConsentState value) on `record`, at `at`.

    `actor` is who caused the event; None for the platform itself (an expiry).
    """
    language = record.person.preferred_language or settings.LANGUAGE_CODE
    sharing = record.purpose == ConsentPurpose.SHARE_WITH_MERCHANT_AND_MEDIATOR
    with translation.override(language):
        purpose = {
            "purpose": str(ConsentPurpose(record.purpose).label),
            "purposeCategory": [PURPOSE_CATEGORY[record.purpose]],
            "consentType": "EXPLICIT",
            "piiCategory": PII_CATEGORIES,
            "primaryPurpose": True,
            "termination": gettext(
                "Until the person withdraws it, at any time and in one step on the platform, "
                "or until its end of validity if it has one."
            ),
            "thirdPartyDisclosure": sharing,
        }
        if sharing:
            purpose["thirdPartyName"] = gettext("The merchant concerned and the consumer mediator")
        service = gettext("Consumer dispute resolution")
    return {
        # Kantara Consent Receipt v1.1
        "version": VERSION,
        "jurisdiction": JURISDICTION,
        "consentTimestamp": int(record.given_at.timestamp()),
        "collectionMethod": record.collection_method,
        "consentReceiptID": str(receipt_id),
        "language": language,
        "piiPrincipalId": principal_id(record.person),
        "piiControllers": [
            {
                # Kantara CR v1.1 requires contact, address, email and phone for each controller.
                "piiController": settings.ODR_CONTROLLER_NAME,
                "contact": settings.ODR_CONTROLLER_CONTACT,
                "address": settings.ODR_CONTROLLER_ADDRESS,
                "email": settings.ODR_CONTROLLER_EMAIL,
                "phone": settings.ODR_CONTROLLER_PHONE,
                "piiControllerUrl": settings.ODR_PUBLIC_URL,
            }
        ],
        "policyUrl": settings.ODR_CONSENT_POLICY_URL,
        "services": [{"service": service, "purposes": [purpose]}],
        "sensitive": False,
        "spiCat": [],
        # ISO/IEC TS 27560: the event this receipt records, and the notice that was shown
        "event": {
            "record_id": str(record.uid),
            "event_time": _iso(at),
            "event_type": event,
            "event_state": record.state,
            "event_by": principal_id(actor) if actor is not None else "system",
            "validity_until": _iso(record.valid_until),
        },
        "notice": {"version": record.notice_version, "sha256": record.notice_sha256},
        "caseReference": record.case_reference,
        "iss": settings.ODR_PUBLIC_URL,
    }


def canonical_json(claims: dict) -> bytes:
    return json.dumps(claims, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def receipt_sign(claims: dict) -> tuple[str, str]:
    """(compact JWS, kid) of `claims` signed with the current key."""
    return jws_sign(canonical_json(claims), typ=TYPE)


@dataclass(frozen=True)
class VerificationResult:
    valid: bool
    claims: dict | None
    reason: str


def _header(compact: str) -> dict | None:
    """The protected header, read without trusting it, or None if it is not one."""
    try:
        encoded = compact.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except ValueError:  # bad base64, bad UTF-8 and bad JSON are all ValueErrors
        return None
    return header if isinstance(header, dict) else None


def _invalid(reason) -> VerificationResult:
    return VerificationResult(False, None, str(reason))


def receipt_verify(compact: str) -> VerificationResult:
    """Check a compact JWS against the platform's public keys. Never raises on bad input."""
    compact = "".join(compact.split())  # e-mail clients and copy-paste wrap long lines
    if not compact or len(compact) > MAX_LENGTH or compact.count(".") != 2:
        return _invalid(_("This is not a consent receipt: a receipt is a long text in three parts."))
    header = _header(compact)
    if header is None or header.get("typ") != TYPE:
        return _invalid(_("This is not a consent receipt issued by this platform."))
    if header.get("alg") != ALGORITHM:
        return _invalid(_("This receipt uses a signature method this platform never uses."))
    public = next((key for key in public_jwks()["keys"] if key["kid"] == header.get("kid")), None)
    if public is None:
        return _invalid(_("This receipt was signed with a key this platform does not know."))
    try:
        claims = json.loads(jws_verify(compact, public))
    except (JoseError, ValueError):
        return _invalid(_("The signature does not match: this receipt was altered after it was issued."))
    if not isinstance(claims, dict) or claims.get("version") != VERSION:
        return _invalid(_("This is not a consent receipt issued by this platform."))
    return VerificationResult(
        True, claims, str(_("The signature is valid: the platform issued this receipt."))
    )
