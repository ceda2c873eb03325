"""Consents built through the service, as a stage would give them."""

import base64
import json

from odr.consent.models import ConsentPurpose
from odr.consent.services import consent_give

NOTICE = (
    "Vos données (identité, commande, échanges) sont traitées pour instruire votre réclamation. "
    "Vous pouvez retirer ce consentement à tout moment, en un clic."
)


def give(person, **overrides):
    fields = {
        "person": person,
        "purpose": ConsentPurpose.COMPLAINT_PROCESSING,
        "notice_text": NOTICE,
        "notice_version": "2026-01",
        "case_reference": "C-2026-000123",
    }
    fields.update(overrides)
    return consent_give(**fields)


def b64url_json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def flip(text: str, index: int) -> str:
    """`text` with the character at `index` replaced by another base64url character."""
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
