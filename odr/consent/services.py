"""Consent use cases (D31–D34). Each one: lock → state → signed receipt → audit → outbox, in one
transaction, so that a consent never exists without its receipt, its audit event and its e-mail.

Audit stream: a consent about a case is written to that case's chain (`case_reference`), so the
case's exported trail shows every consent it relied on; a consent given before any case exists (the
processing of a complaint about to be filed) goes to the person's own chain, `U-<user id>`. A caller
passing a case reference runs inside its own use case, which already holds the case's row lock; we
lock the person's row so that one person's consent events are written one at a time.

Withdrawing is one call taking the record and the person, like giving (D33); a stage that shows a
"give" button shows a "withdraw" button next to it.
"""

import hashlib
import logging
import uuid
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from odr import clock
from odr.audit.services import audit_record
from odr.errors import Forbidden, InvalidInput
from odr.fsm import run_transition
from odr.locking import lock
from odr.notifications.services import outbox_email

from .models import ConsentPurpose, ConsentReceipt, ConsentRecord, ConsentState
from .receipts import receipt_claims, receipt_sign

log = logging.getLogger(__name__)

NO_LONGER_IN_FORCE = _("This consent is no longer in force: it was already withdrawn or has expired.")


def notice_sha256(notice_text: str) -> str:
    """The fingerprint of the notice exactly as shown (UTF-8, not normalised)."""
    return hashlib.sha256(notice_text.encode("utf-8")).hexdigest()


def audit_stream(record: ConsentRecord) -> str:
    return record.case_reference or f"U-{record.person_id}"


def _issue(record: ConsentRecord, *, event: str, actor=None) -> ConsentReceipt:
    """Sign and store the receipt of `event`, audit it, and queue the e-mail that carries it."""
    now = clock.now()
    receipt_id = uuid.uuid4()
    claims = receipt_claims(record, receipt_id=receipt_id, event=event, at=now, actor=actor)
    compact, kid = receipt_sign(claims)
    receipt = ConsentReceipt.objects.create(
        record=record,
        receipt_id=receipt_id,
        event_type=event,
        issued_at=now,
        payload=claims,
        jws=compact,
        kid=kid,
    )
    # Ids and fingerprints only: the trail is read by compliance officers, the notice is on the record.
    audit_record(
        stream=audit_stream(record),
        kind=f"consent.{event}",
        actor=actor,
        actor_role="pii_principal" if actor is not None else "system",
        payload={
            "consent": str(record.uid),
            "purpose": record.purpose,
            "receipt_id": str(receipt_id),
            "notice_version": record.notice_version,
            "notice_sha256": record.notice_sha256,
        },
    )
    outbox_email(
        key=f"consent.receipt:{receipt_id}",
        template="consent_receipt",
        to=record.person,
        context={
            "receipt_id": str(receipt_id),
            "purpose": record.purpose,
            "event_type": event,
            "case_reference": record.case_reference,
            "issued_at": now,
        },
        case_reference=record.case_reference,
    )
    return receipt


def consent_give(
    *,
    person,
    purpose: str,
    notice_text: str,
    notice_version: str,
    case_reference: str = "",
    collection_method: str = "web_form",
    valid_until: datetime | None = None,
) -> ConsentRecord:
    """Record the consent `person` gives for `purpose` after reading `notice_text`, and issue its
    *given* receipt. `valid_until` (optional) is when the consent lapses by itself."""
    if purpose not in ConsentPurpose.values:
        raise InvalidInput(_("Unknown purpose of consent."))
    if not notice_text.strip() or not notice_version.strip():
        raise InvalidInput(_("A consent needs the notice that was shown and its version."))
    if valid_until is not None and valid_until <= clock.now():
        raise InvalidInput(_("The end of validity of a consent must be in the future."))
    with transaction.atomic():
        lock(person)
        record = ConsentRecord.objects.create(
            person=person,
            purpose=purpose,
            case_reference=case_reference,
            notice_version=notice_version,
            notice_text=notice_text,
            notice_sha256=notice_sha256(notice_text),
            given_at=clock.now(),
            collection_method=collection_method,
            valid_until=valid_until,
        )
        _issue(record, event=ConsentState.GIVEN, actor=person)
    return record


def consent_withdraw(*, record: ConsentRecord, by) -> ConsentRecord:
    """Withdraw a consent (GDPR 7(3)); only the person who gave it can. Issues a *withdrawn* receipt."""
    if by is None or by.pk != record.person_id:
        raise Forbidden(_("Only the person who gave this consent can withdraw it."))
    with transaction.atomic():
        lock(by)
        record = lock(record)
        run_transition(record, "withdraw", not_in_state_message=NO_LONGER_IN_FORCE)
        record.save()
        _issue(record, event=ConsentState.WITHDRAWN, actor=by)
    return record


def consent_expire(*, record: ConsentRecord) -> ConsentRecord:
    """Mark a consent whose end of validity has passed as expired, and issue an *expired* receipt.

    The platform acts, not a person. Refused for a consent without an end of validity, one not yet
    reached, or one no longer given.
    """
    with transaction.atomic():
        lock(record.person)
        record = lock(record)
        run_transition(record, "expire", not_in_state_message=NO_LONGER_IN_FORCE)
        record.save()
        _issue(record, event=ConsentState.EXPIRED)
    return record


def consents_expire_due() -> int:
    """Expire every consent whose end of validity has passed (beat, daily; or the command)."""
    due = ConsentRecord.objects.filter(state=ConsentState.GIVEN, valid_until__lte=clock.now())
    count = 0
    for record in due.iterator():
        try:
            consent_expire(record=record)
        except Exception:  # one failure must not stop the others; the next run tries it again
            log.exception("consent %s could not be expired", record.pk)
            continue
        count += 1
    return count
