"""The complaint stage's PDF/A documents (registered with odr.documents in apps.py).

- the acknowledgement of a complaint (D1, D3; ISO 10002 8.2, 8.4): what the consumer filed, its
  reference, the merchant's answer date, the consents recorded and what happens next;
- the information on the consumer mediator (D4; C. consom. L616-1 para. 2, Dir. 2013/11/EU 13(3)):
  the durable-medium notice sent when the merchant rejects the complaint or lets the period lapse.

Both are issued by the platform, in the time zone of the merchant's mediation body, fingerprinted in
the complaint's audit trail, and carry the complaint's key facts as an embedded `complaint.json`.
"""

import json
from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import formats, translation
from django.utils.translation import gettext as _

from odr import clock
from odr.consent.models import ConsentRecord
from odr.documents.models import GeneratedDocument
from odr.documents.rendering import PdfAttachment
from odr.documents.services import DocumentSpec

from .models import AnswerDecision, Complaint
from .services import mediator_information

ATTACHMENT_NAME = "complaint.json"

# Where the symbol goes: before the amount in English, after it (with a space) in French.
CURRENCY_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "CHF": "CHF"}


def money(cents: int | None, currency: str, language: str) -> str:
    """An amount in cents as people write it in `language`: "1 234,50 €" in French, "€1,234.50" in English."""
    if cents is None:
        return ""
    with translation.override(language):
        number = formats.number_format(
            Decimal(cents) / 100, decimal_pos=2, use_l10n=True, force_grouping=True
        )
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    if language.split("-")[0] == "en" and symbol != currency:
        return f"{symbol}{number}"
    return f"{number}\N{NO-BREAK SPACE}{symbol}"


def _complaint(document: GeneratedDocument) -> Complaint:
    return Complaint.objects.select_related("merchant__mediation_body", "consumer").get(
        reference=document.subject_reference
    )


def _consents(complaint: Complaint) -> list[ConsentRecord]:
    return list(ConsentRecord.objects.filter(case_reference=complaint.reference).order_by("given_at", "pk"))


def complaint_facts(complaint: Complaint, consents: list[ConsentRecord] = ()) -> dict:
    """The complaint's key facts, as embedded in its documents (times in UTC ISO 8601)."""
    merchant = complaint.merchant
    body = merchant.mediation_body
    facts = {
        "reference": complaint.reference,
        "state": complaint.state,
        "filed_at": complaint.filed_at,
        "written_complaint_at": complaint.written_complaint_at,
        "consumer": complaint.consumer.display_name,
        "consumer_country": complaint.consumer_country,
        "merchant": {
            "legal_name": merchant.legal_name,
            "trading_name": merchant.trading_name,
            "registration_number": merchant.registration_number,
            "website": merchant.website,
            "takes_part_in_mediation": merchant.takes_part_in_mediation,
        },
        "category": complaint.category,
        "order_reference": complaint.order_reference,
        "order_date": complaint.order_date,
        "amount_cents": complaint.amount_cents,
        "currency": complaint.currency,
        "description": complaint.description,
        "desired_outcome": complaint.desired_outcome,
        "response_due_at": complaint.response_due_at,
        "answered_at": complaint.answered_at,
        "answer_decision": complaint.answer_decision,
        "response_lapsed_at": complaint.response_lapsed_at,
        "referral_window_ends_at": complaint.referral_window_ends_at,
        "mediator": {
            "name": body.name,
            "website": body.website,
            "listing_number": body.listing_number,
            "time_zone": body.time_zone,
        },
        "consents": [
            {
                "uid": record.uid,
                "purpose": record.purpose,
                "state": record.state,
                "given_at": record.given_at,
                "notice_version": record.notice_version,
                "notice_sha256": record.notice_sha256,
            }
            for record in consents
        ],
    }
    return json.loads(json.dumps(facts, cls=DjangoJSONEncoder))


def _attachment(complaint: Complaint, consents: list[ConsentRecord], language: str) -> PdfAttachment:
    content = json.dumps(complaint_facts(complaint, consents), ensure_ascii=False, indent=2)
    with translation.override(language):
        description = _("The complaint's key facts (JSON)")
    return PdfAttachment(name=ATTACHMENT_NAME, content=content.encode("utf-8"), description=description)


def _context(complaint: Complaint, document: GeneratedDocument) -> dict:
    merchant = complaint.merchant
    return {
        "issuer": settings.ODR_CONTROLLER_NAME,
        "complaint": complaint,
        "merchant": merchant,
        "body": merchant.mediation_body,
        "time_zone": merchant.mediation_body.time_zone,
        "amount": money(complaint.amount_cents, complaint.currency, document.language),
        "platform_url": settings.ODR_PUBLIC_URL,
        "issued_at": clock.now(),
    }


def acknowledgement_spec(document: GeneratedDocument) -> DocumentSpec:
    """DocumentKind.COMPLAINT_ACKNOWLEDGEMENT (D1): the consumer's record of the complaint as filed."""
    complaint = _complaint(document)
    consents = _consents(complaint)
    context = {**_context(complaint, document), "consents": consents, **mediator_information(complaint)}
    return DocumentSpec(
        template="pdf/complaint_acknowledgement.html",
        context=context,
        filename=f"acknowledgement-{complaint.reference}.pdf",
        time_zone=complaint.merchant.mediation_body.time_zone,
        attachments=[_attachment(complaint, consents, document.language)],
        audit_stream=complaint.reference,
    )


def mediator_notice_spec(document: GeneratedDocument) -> DocumentSpec:
    """DocumentKind.MEDIATOR_NOTICE (D4): the designated mediator, on a durable medium."""
    complaint = _complaint(document)
    if complaint.answer_decision == AnswerDecision.REJECT:
        occasion = "rejected"
    elif complaint.response_lapsed_at:
        occasion = "lapsed"
    else:
        occasion = ""
    context = {
        **_context(complaint, document),
        **mediator_information(complaint),
        "occasion": occasion,
        "mediator_listing_number": complaint.merchant.mediation_body.listing_number,
    }
    return DocumentSpec(
        template="pdf/mediator_notice.html",
        context=context,
        filename=f"mediator-information-{complaint.reference}.pdf",
        time_zone=complaint.merchant.mediation_body.time_zone,
        attachments=[_attachment(complaint, _consents(complaint), document.language)],
        audit_stream=complaint.reference,
    )
