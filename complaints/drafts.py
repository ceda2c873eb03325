"""The consumer's complaint while it is being written: saved at every step, filed at the end.

A draft keeps the answers of each step (so that a reload, a closed tab or a lost connection loses
nothing), the chosen merchant, and the files attached so far. Filing calls `complaint_file` and moves
the files to the complaint, in one transaction: a complaint never exists without its files, and a
draft is never left behind next to its complaint.
"""

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.translation import gettext as _

from odr import clock
from odr.errors import Forbidden, InvalidInput
from odr.notifications.services import outbox_email

from .evidence import evidence_audit
from .models import Category, Complaint, ComplaintDraft, Evidence, MerchantInvitation
from .services import complaint_file

# The draft's answers a step may set, and nothing else.
DRAFT_FIELDS = (
    "category",
    "order_reference",
    "order_date",
    "amount",
    "currency",
    "description",
    "desired_outcome",
    "written_complaint_date",
)


def draft_for(consumer) -> ComplaintDraft:
    """The consumer's draft, created empty the first time."""
    if consumer.memberships.exists():
        raise Forbidden(_("Only a consumer can file a complaint."))
    draft, _created = ComplaintDraft.objects.get_or_create(
        consumer=consumer, defaults={"updated_at": clock.now()}
    )
    return draft


def draft_save(*, draft: ComplaintDraft, answers: dict) -> ComplaintDraft:
    """The step's answers, checked by its form: what filing will use."""
    unknown = set(answers) - set(DRAFT_FIELDS)
    if unknown:
        raise InvalidInput(_("Unexpected fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    with transaction.atomic():
        draft = _locked(draft)
        draft.data = {**{k: v for k, v in draft.data.items() if k != TYPING}, **answers}
        draft.updated_at = clock.now()
        draft.save(update_fields=["data", "updated_at"])
    return draft


def _locked(draft: ComplaintDraft) -> ComplaintDraft:
    """Re-read under a row lock: the page's autosave requests and its submit may cross, and the
    one that arrives last must not write back a stale copy of the other's answers."""
    return ComplaintDraft.objects.select_for_update().get(pk=draft.pk)


# What the consumer is typing, kept as typed (unchecked) so that a reload or a lost connection loses
# nothing; shown back in the form, never used for filing until the step's form accepts it.
TYPING = "typing"
TYPING_MAX_CHARS = 20_000


def draft_keep_typing(*, draft: ComplaintDraft, answers: dict) -> ComplaintDraft:
    typed = {name: str(value)[:TYPING_MAX_CHARS] for name, value in answers.items() if name in DRAFT_FIELDS}
    with transaction.atomic():
        draft = _locked(draft)
        draft.data = {**draft.data, TYPING: typed}
        draft.updated_at = clock.now()
        draft.save(update_fields=["data", "updated_at"])
    return draft


def draft_answers_shown(draft: ComplaintDraft) -> dict:
    """The answers to show in the form: the accepted ones, then what was typed since."""
    return {**{k: v for k, v in draft.data.items() if k != TYPING}, **draft.data.get(TYPING, {})}


def draft_choose_merchant(*, draft: ComplaintDraft, merchant) -> ComplaintDraft:
    draft.merchant = merchant
    draft.invitation = None
    draft.updated_at = clock.now()
    draft.save(update_fields=["merchant", "invitation", "updated_at"])
    return draft


def merchant_invite(*, draft: ComplaintDraft, by, name: str, website: str, email: str) -> MerchantInvitation:
    """The merchant is not on the platform: invite it by e-mail to join and designate its mediator
    (D5). The draft is kept, waiting for it; the consumer can come back to it at any time."""
    if not name.strip() or not email.strip():
        raise InvalidInput(_("Give the merchant's name and an e-mail address where it can be reached."))
    with transaction.atomic():
        invitation = MerchantInvitation.objects.create(
            invited_by=by,
            name=name.strip(),
            website=website.strip(),
            email=email.strip(),
            invited_at=clock.now(),
        )
        draft.merchant = None
        draft.invitation = invitation
        draft.updated_at = clock.now()
        draft.save(update_fields=["merchant", "invitation", "updated_at"])
        outbox_email(
            key=f"merchant.invited:{invitation.pk}",
            template="merchant_invitation",
            context={"merchant_name": invitation.name},
            to_address=invitation.email,
            language=by.preferred_language,
        )
    return invitation


def _cents(amount: str) -> int | None:
    """The draft keeps the amount as the form cleaned it ("49.90"); money is stored in cents."""
    if not amount:
        return None
    return int((Decimal(amount) * 100).to_integral_value())


def draft_amount_cents(draft: ComplaintDraft) -> int | None:
    return _cents(draft.data.get("amount", ""))


def draft_file(*, draft: ComplaintDraft, by, consents_accepted: bool, language: str) -> Complaint:
    """File the draft (D1): the complaint, its two consents with receipts (D31), its files."""
    if draft.consumer_id != by.pk:
        raise Forbidden()
    if draft.merchant is None:
        raise InvalidInput(_("Choose the merchant your complaint is about."))
    if not consents_accepted:
        raise InvalidInput(
            _("Tick both consents: without them the complaint cannot be sent to the merchant.")
        )
    data = draft.data
    if data.get("category") not in Category.values:
        raise InvalidInput(_("Choose what the problem is about."))
    written_date = data.get("written_complaint_date")
    with transaction.atomic():
        draft = ComplaintDraft.objects.select_for_update().get(pk=draft.pk)
        complaint = complaint_file(
            consumer=by,
            merchant=draft.merchant,
            category=data["category"],
            description=data.get("description", ""),
            desired_outcome=data.get("desired_outcome", ""),
            order_reference=data.get("order_reference", ""),
            order_date=date.fromisoformat(data["order_date"]) if data.get("order_date") else None,
            amount_cents=_cents(data.get("amount", "")),
            currency=data.get("currency") or "EUR",
            written_complaint_at=written_complaint_moment(written_date, draft.merchant)
            if written_date
            else None,
            language=language,
        )
        for evidence in Evidence.objects.filter(draft=draft).order_by("pk"):
            evidence.draft = None
            evidence.complaint = complaint
            evidence.save(update_fields=["draft", "complaint"])
            evidence_audit(complaint, evidence)
        draft.delete()
    return complaint


def written_complaint_moment(day: str, merchant):
    """D7: a complaint written elsewhere on `day` counts from the start of that day in the body's zone."""
    moment = datetime.combine(
        date.fromisoformat(day), time(0, 0), ZoneInfo(merchant.mediation_body.time_zone)
    )
    return min(moment, clock.now())
