"""Stage 1 use cases. Each one: lock → transition → audit → deadlines → outbox, in one transaction.

Callers pass the acting user (`by`); a service checks the person's role itself, so that the portal,
the API and the sweep cannot drift apart on who may do what.
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from odr import clock
from odr.audit.services import audit_record
from odr.consent.models import ConsentPurpose
from odr.consent.services import consent_give, consent_withdraw
from odr.deadlines.calendar import period_end
from odr.deadlines.models import DeadlineKind
from odr.deadlines.services import deadline_close, deadline_open
from odr.errors import Forbidden, InvalidInput, TransitionRefused
from odr.fsm import run_transition
from odr.locking import lock
from odr.notifications.services import outbox_email
from odr.references.services import reference_next
from odr.webhooks.services import webhooks_emit

from . import notices
from .models import (
    AnswerDecision,
    Complaint,
    ComplaintState,
    Message,
    Offer,
    OfferKind,
    OfferStatus,
    PartySide,
)
from .rules import is_complaint_consumer, is_complaint_merchant_staff

SYSTEM = "system"


def _time_zone(complaint: Complaint) -> str:
    return complaint.merchant.mediation_body.time_zone


def _side_of(user, complaint: Complaint) -> str:
    """The party `user` acts for, or Forbidden if neither."""
    if is_complaint_consumer(user, complaint):
        return PartySide.CONSUMER
    if is_complaint_merchant_staff(user, complaint):
        return PartySide.MERCHANT
    raise Forbidden()


def _require(predicate, user, complaint: Complaint) -> None:
    if not predicate(user, complaint):
        raise Forbidden()


def _audit(complaint: Complaint, kind: str, *, actor=None, role: str = SYSTEM, **payload) -> None:
    audit_record(stream=complaint.reference, kind=kind, actor=actor, actor_role=role, payload=payload)


def _merchant_recipients(complaint: Complaint):
    from odr.accounts.models import MERCHANT_ROLES, User

    return User.objects.filter(
        memberships__merchant=complaint.merchant,
        memberships__role__in=MERCHANT_ROLES,
        is_active=True,
    ).distinct()


def _notify_merchant(complaint: Complaint, template: str, key: str, **context) -> None:
    for user in _merchant_recipients(complaint):
        outbox_email(
            key=f"{key}:{user.pk}",
            template=template,
            to=user,
            context={"reference": complaint.reference, "time_zone": _time_zone(complaint), **context},
            case_reference=complaint.reference,
        )


def _notify_consumer(complaint: Complaint, template: str, key: str, **context) -> None:
    outbox_email(
        key=key,
        template=template,
        to=complaint.consumer,
        context={"reference": complaint.reference, "time_zone": _time_zone(complaint), **context},
        case_reference=complaint.reference,
    )


def _webhook(complaint: Complaint, event: str, key: str, **data) -> None:
    """Tell the merchant's webhook endpoints (ids, references, states and dates only)."""
    webhooks_emit(
        merchant=complaint.merchant,
        event=event,
        key=key,
        data={"reference": complaint.reference, "state": complaint.state, **data},
        case_reference=complaint.reference,
    )


def mediator_information(complaint: Complaint) -> dict:
    """D4 / L616-1: the designated mediator's name and website, and whether the merchant takes part."""
    merchant = complaint.merchant
    return {
        "mediator_name": merchant.mediation_body.name,
        "mediator_website": merchant.mediation_body.website,
        "merchant_takes_part": merchant.takes_part_in_mediation,
        "referral_possible_until": complaint.referral_window_ends_at,
    }


# --- Filing ---------------------------------------------------------------------------------------


def complaint_file(
    *,
    consumer,
    merchant,
    category: str,
    description: str,
    desired_outcome: str,
    order_reference: str = "",
    order_date=None,
    amount_cents: int | None = None,
    currency: str = "EUR",
    consumer_country: str = "FR",
    written_complaint_at: datetime | None = None,
    language: str | None = None,
) -> Complaint:
    """File a written complaint (D1, D3, D7, D8): reference, acknowledgement, response period.

    Filing is also the consumer's consent to the processing of the complaint's data and to sharing
    the file with the merchant and the mediator (D31): both are recorded with the notices as shown in
    `language` (the page's language; the consumer's preferred one by default) and receipted.
    """
    if consumer.memberships.exists():
        raise Forbidden(_("Only a consumer can file a complaint."))
    if not description.strip() or not desired_outcome.strip():
        raise InvalidInput(_("Say what happened and what you want from the merchant."))
    now = clock.now()
    written_at = written_complaint_at or now
    if written_at > now:
        raise InvalidInput(_("The date of the written complaint cannot be in the future."))
    time_zone = merchant.mediation_body.time_zone
    with transaction.atomic():
        complaint = Complaint.objects.create(
            reference=reference_next("C", time_zone=time_zone),
            consumer=consumer,
            merchant=merchant,
            category=category,
            description=description,
            desired_outcome=desired_outcome,
            order_reference=order_reference,
            order_date=order_date,
            amount_cents=amount_cents,
            currency=currency,
            consumer_country=consumer_country,
            filed_at=now,
            written_complaint_at=written_at,
            # D3: the merchant has had the written complaint since `written_at` (D7): its response
            # period runs from then, so an old complaint made elsewhere may be referred at once.
            response_due_at=period_end(
                written_at, days=settings.ODR_MERCHANT_RESPONSE_DAYS, time_zone=time_zone
            ),
            referral_window_ends_at=period_end(
                written_at, years=settings.ODR_REFERRAL_WINDOW_YEARS, time_zone=time_zone
            ),
        )
        _audit(
            complaint,
            "complaint.filed",
            actor=consumer,
            role=PartySide.CONSUMER,
            merchant_id=merchant.pk,
            category=category,
            response_due_at=complaint.response_due_at,
            referral_window_ends_at=complaint.referral_window_ends_at,
        )
        for purpose, notice in (
            (ConsentPurpose.COMPLAINT_PROCESSING, notices.COMPLAINT_PROCESSING_NOTICE),
            (ConsentPurpose.SHARE_WITH_MERCHANT_AND_MEDIATOR, notices.SHARING_NOTICE),
        ):
            consent_give(
                person=consumer,
                purpose=purpose,
                notice_text=notices.notice_text(notice, language or consumer.preferred_language),
                notice_version=notices.NOTICE_VERSION,
                case_reference=complaint.reference,
            )
        deadline_open(
            subject=complaint,
            kind=DeadlineKind.MERCHANT_RESPONSE,
            due_at=complaint.response_due_at,
            case_reference=complaint.reference,
        )
        deadline_open(
            subject=complaint,
            kind=DeadlineKind.REFERRAL_WINDOW,
            due_at=complaint.referral_window_ends_at,
            case_reference=complaint.reference,
        )
        _notify_consumer(
            complaint,
            "complaint_acknowledgement",
            f"complaint.filed:{complaint.reference}",
            response_due_at=complaint.response_due_at,
        )
        _notify_merchant(
            complaint,
            "complaint_new_for_merchant",
            f"complaint.filed:{complaint.reference}:merchant",
            response_due_at=complaint.response_due_at,
        )
        _webhook(
            complaint,
            "complaint.filed",
            f"complaint.filed:{complaint.reference}",
            filed_at=complaint.filed_at,
            written_complaint_at=complaint.written_complaint_at,
            response_due_at=complaint.response_due_at,
            referral_window_ends_at=complaint.referral_window_ends_at,
            order_reference=complaint.order_reference,
        )
    return complaint


# --- The merchant's answer ------------------------------------------------------------------------


def complaint_answer(
    *,
    complaint: Complaint,
    by,
    decision: str,
    text: str,
    amount_cents: int | None = None,
    terms: str = "",
) -> Complaint:
    """The merchant accepts, makes an offer, or rejects (a rejection sends the D4 notice)."""
    if decision not in AnswerDecision.values:
        raise InvalidInput(_("Choose to accept, make an offer or reject."))
    if not text.strip():
        raise InvalidInput(_("Write your answer to the consumer."))
    if decision == AnswerDecision.OFFER and not (terms.strip() or amount_cents):
        raise InvalidInput(_("An offer needs an amount or terms."))
    with transaction.atomic():
        complaint = lock(complaint)
        _require(is_complaint_merchant_staff, by, complaint)
        run_transition(
            complaint,
            "answer",
            by=by,
            decision=decision,
            text=text,
            not_in_state_message=_("This complaint has already been answered or is closed."),
        )
        complaint.save()
        offer = None
        if decision == AnswerDecision.OFFER:
            offer = Offer.objects.create(
                complaint=complaint,
                kind=OfferKind.OFFER,
                side=PartySide.MERCHANT,
                made_by=by,
                amount_cents=amount_cents,
                currency=complaint.currency,
                terms=terms or text,
                made_at=clock.now(),
            )
        deadline_close(subject=complaint, kind=DeadlineKind.MERCHANT_RESPONSE)
        _audit(
            complaint,
            "complaint.answered",
            actor=by,
            role=PartySide.MERCHANT,
            decision=decision,
            offer_id=offer.pk if offer else None,
            amount_cents=amount_cents,
        )
        context = {"decision": decision, "answer": text}
        if decision == AnswerDecision.REJECT:
            context.update(mediator_information(complaint))
            _notify_consumer(
                complaint, "complaint_rejected_d4", f"complaint.d4.rejected:{complaint.reference}", **context
            )
        else:
            _notify_consumer(
                complaint,
                "complaint_answered",
                f"complaint.answered:{complaint.reference}",
                **context,
            )
        _webhook(
            complaint,
            "complaint.answered",
            f"complaint.answered:{complaint.reference}",
            decision=decision,
            offer_id=offer.pk if offer else None,
            answered_at=complaint.answered_at,
        )
    return complaint


def complaint_response_lapsed(*, complaint: Complaint) -> Complaint:
    """D3/D4: the response period ended without an answer. Called by the deadline sweep.

    The consumer may now refer the dispute at once, and receives the mediator's details (D4).
    """
    with transaction.atomic():
        complaint = lock(complaint)
        if complaint.state != ComplaintState.FILED or complaint.response_lapsed_at:
            return complaint
        if clock.now() <= complaint.response_due_at:
            raise TransitionRefused(_("The merchant's response period has not ended yet."))
        complaint.response_lapsed_at = clock.now()
        complaint.save(update_fields=["response_lapsed_at"])
        deadline_close(subject=complaint, kind=DeadlineKind.MERCHANT_RESPONSE)
        _audit(complaint, "complaint.response_period_lapsed")
        _notify_consumer(
            complaint,
            "complaint_lapsed_d4",
            f"complaint.d4.lapsed:{complaint.reference}",
            response_due_at=complaint.response_due_at,
            **mediator_information(complaint),
        )
    return complaint


def complaint_remind_merchant(*, complaint: Complaint, days_left: int) -> None:
    """D3: the merchant's staff are reminded before the response period ends. Called by the sweep."""
    with transaction.atomic():
        complaint = lock(complaint)
        if complaint.state != ComplaintState.FILED:
            return
        _audit(complaint, "complaint.merchant_reminded", days_left=days_left)
        _notify_merchant(
            complaint,
            "complaint_response_reminder",
            f"complaint.reminder:{complaint.reference}:{days_left}",
            response_due_at=complaint.response_due_at,
            days_left=days_left,
        )
        _webhook(
            complaint,
            "complaint.deadline_soon",
            f"complaint.deadline_soon:{complaint.reference}:{days_left}",
            response_due_at=complaint.response_due_at,
            days_left=days_left,
        )


# --- Messages and offers --------------------------------------------------------------------------


def complaint_post_message(*, complaint: Complaint, by, body: str) -> Message:
    if not body.strip():
        raise InvalidInput(_("The message is empty."))
    with transaction.atomic():
        complaint = lock(complaint)
        side = _side_of(by, complaint)
        if not complaint.is_open:
            raise TransitionRefused(_("This complaint is closed: no more messages can be sent."))
        message = Message.objects.create(
            complaint=complaint, author=by, side=side, body=body, sent_at=clock.now()
        )
        _audit(complaint, "complaint.message", actor=by, role=side, message_id=message.pk)
        key = f"complaint.message:{message.pk}"
        if side == PartySide.CONSUMER:
            _notify_merchant(complaint, "complaint_message", key)
            _webhook(complaint, "complaint.message", key, message_id=message.pk, sent_at=message.sent_at)
        else:
            _notify_consumer(complaint, "complaint_message", key)
    return message


def offer_make(
    *,
    complaint: Complaint,
    by,
    terms: str,
    amount_cents: int | None = None,
    responds_to: Offer | None = None,
) -> Offer:
    """A further offer by the merchant, or a counter-offer by the consumer, once the merchant answered."""
    if not terms.strip():
        raise InvalidInput(_("Describe what you offer."))
    with transaction.atomic():
        complaint = lock(complaint)
        side = _side_of(by, complaint)
        if complaint.state != ComplaintState.ANSWERED:
            raise TransitionRefused(_("Offers can be exchanged once the merchant has answered."))
        if responds_to is not None:
            # Re-read under lock: the offer may have been withdrawn or answered meanwhile.
            responds_to = (
                Offer.objects.select_for_update().filter(pk=responds_to.pk, complaint=complaint).first()
            )
            if responds_to is None or responds_to.side == side:
                raise InvalidInput(_("You can only counter an offer made by the other party."))
            if responds_to.status == OfferStatus.OPEN:
                responds_to.status = OfferStatus.DECLINED
                responds_to.decided_at = clock.now()
                responds_to.decided_by = by
                responds_to.save(update_fields=["status", "decided_at", "decided_by"])
        offer = Offer.objects.create(
            complaint=complaint,
            kind=OfferKind.OFFER if side == PartySide.MERCHANT else OfferKind.COUNTER_OFFER,
            side=side,
            made_by=by,
            amount_cents=amount_cents,
            currency=complaint.currency,
            terms=terms,
            responds_to=responds_to,
            made_at=clock.now(),
        )
        _audit(
            complaint,
            f"offer.{offer.kind}",
            actor=by,
            role=side,
            offer_id=offer.pk,
            amount_cents=amount_cents,
            responds_to=responds_to.pk if responds_to else None,
        )
        key = f"offer.made:{offer.pk}"
        if side == PartySide.CONSUMER:
            _notify_merchant(complaint, "offer_made", key)
        else:
            _notify_consumer(complaint, "offer_made", key)
    return offer


def offer_respond(*, offer: Offer, by, accept: bool) -> Offer:
    """The other party accepts (the complaint is resolved) or declines an open offer."""
    with transaction.atomic():
        complaint = lock(offer.complaint)
        offer = Offer.objects.select_for_update().get(pk=offer.pk)
        side = _side_of(by, complaint)
        if side == offer.side:
            raise Forbidden(_("You cannot answer your own offer."))
        if offer.status != OfferStatus.OPEN or complaint.state != ComplaintState.ANSWERED:
            raise TransitionRefused(_("This offer is no longer open."))
        offer.status = OfferStatus.ACCEPTED if accept else OfferStatus.DECLINED
        offer.decided_at = clock.now()
        offer.decided_by = by
        offer.save(update_fields=["status", "decided_at", "decided_by"])
        _audit(complaint, f"offer.{offer.status}", actor=by, role=side, offer_id=offer.pk)
        if accept:
            _resolve(complaint, by=by, role=side, reason="offer_accepted")
    return offer


def offer_withdraw(*, offer: Offer, by) -> Offer:
    with transaction.atomic():
        complaint = lock(offer.complaint)
        offer = Offer.objects.select_for_update().get(pk=offer.pk)
        side = _side_of(by, complaint)
        if side != offer.side:
            raise Forbidden(_("Only the party who made an offer can withdraw it."))
        if offer.status != OfferStatus.OPEN:
            raise TransitionRefused(_("This offer is no longer open."))
        offer.status = OfferStatus.WITHDRAWN
        offer.decided_at = clock.now()
        offer.decided_by = by
        offer.save(update_fields=["status", "decided_at", "decided_by"])
        _audit(complaint, "offer.withdrawn", actor=by, role=side, offer_id=offer.pk)
    return offer


# --- Closing --------------------------------------------------------------------------------------


def _close_deadlines(complaint: Complaint) -> None:
    for kind in (DeadlineKind.MERCHANT_RESPONSE, DeadlineKind.REFERRAL_WINDOW):
        deadline_close(subject=complaint, kind=kind, cancelled=True)


def _tell_further_recourse(complaint: Complaint, event: str) -> None:
    """D6 (ISO 10002 8.9): at closure the consumer is told of mediation and the courts."""
    _notify_consumer(
        complaint,
        "complaint_closed_recourse",
        f"complaint.closed:{complaint.reference}",
        closed_as=event,
        **mediator_information(complaint),
    )
    _webhook(
        complaint,
        "complaint.closed",
        f"complaint.closed:{complaint.reference}",
        closed_at=complaint.closed_at,
    )


def _resolve(complaint: Complaint, *, by, role: str, reason: str) -> None:
    run_transition(
        complaint, "resolve", not_in_state_message=_("Only an answered complaint can be resolved.")
    )
    complaint.save()
    _close_deadlines(complaint)
    _audit(complaint, "complaint.resolved", actor=by, role=role, reason=reason)
    _tell_further_recourse(complaint, ComplaintState.RESOLVED)


def complaint_resolve(*, complaint: Complaint, by) -> Complaint:
    """The consumer says the merchant's answer settles the complaint."""
    with transaction.atomic():
        complaint = lock(complaint)
        _require(is_complaint_consumer, by, complaint)
        _resolve(complaint, by=by, role=PartySide.CONSUMER, reason="consumer_satisfied")
    return complaint


def complaint_withdraw(*, complaint: Complaint, by, reason: str = "") -> Complaint:
    with transaction.atomic():
        complaint = lock(complaint)
        _require(is_complaint_consumer, by, complaint)
        run_transition(
            complaint,
            "withdraw",
            reason=reason,
            not_in_state_message=_("This complaint is already closed."),
        )
        complaint.save()
        _close_deadlines(complaint)
        _audit(complaint, "complaint.withdrawn", actor=by, role=PartySide.CONSUMER, reason=reason)
        _notify_merchant(complaint, "complaint_withdrawn", f"complaint.withdrawn:{complaint.reference}")
        _tell_further_recourse(complaint, ComplaintState.WITHDRAWN)
    return complaint


def complaint_consent_withdraw(*, complaint: Complaint, by, record) -> Complaint:
    """D33 (GDPR 7(3)): the consumer withdraws a consent given at filing, in one step like giving it.

    Without the consent to process or share its data the complaint cannot go on: an open complaint
    is withdrawn (and the merchant told), as the notice said. A *withdrawn* receipt is issued. Locks
    the complaint first, then the person (consent_withdraw), like every other use case.
    """
    with transaction.atomic():
        complaint = lock(complaint)
        _require(is_complaint_consumer, by, complaint)
        if record.case_reference != complaint.reference:
            raise Forbidden()
        consent_withdraw(record=record, by=by)
        if complaint.is_open:
            complaint_withdraw(complaint=complaint, by=by, reason=str(_("Consent withdrawn.")))
    return Complaint.objects.get(pk=complaint.pk)


def complaint_expire(*, complaint: Complaint) -> Complaint:
    """D8: the one-year referral window closed. Called by the deadline sweep."""
    with transaction.atomic():
        complaint = lock(complaint)
        if clock.now() <= complaint.referral_window_ends_at:
            raise TransitionRefused(_("The referral period has not ended yet."))
        run_transition(complaint, "expire", not_in_state_message=_("This complaint is already closed."))
        complaint.save()
        deadline_close(subject=complaint, kind=DeadlineKind.REFERRAL_WINDOW)
        deadline_close(subject=complaint, kind=DeadlineKind.MERCHANT_RESPONSE, cancelled=True)
        _audit(complaint, "complaint.expired")
        _tell_further_recourse(complaint, ComplaintState.EXPIRED)
    return complaint


def complaint_mark_referred(*, complaint: Complaint, by) -> Complaint:
    """Move a locked complaint to `referred`. Only mediation.services.case_refer calls this, inside
    its own transaction, after locking the complaint (the referral is a mediation use case)."""
    _require(is_complaint_consumer, by, complaint)
    run_transition(
        complaint,
        "refer",
        not_in_state_message=_("This complaint is closed: it cannot be referred."),
    )
    complaint.save()
    deadline_close(subject=complaint, kind=DeadlineKind.MERCHANT_RESPONSE, cancelled=True)
    deadline_close(subject=complaint, kind=DeadlineKind.REFERRAL_WINDOW)  # met: referred in time
    return complaint
