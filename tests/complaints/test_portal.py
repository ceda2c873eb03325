"""The consumer and merchant portals through their views: filing, answering, offers, messages, files,
referral, withdrawal, consents, receipts and documents (D1–D4, D9, D19, D31–D33).

Pages are requested in English (the catalogue's source language): the assertions on words keep
passing once the French catalogue is rebuilt. Every HTML page any test here receives is checked for a
strict Content-Security-Policy and for inline script or style (`Portal.request`).
"""

import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import dateformat, formats, translation
from django.utils.html import escape
from django.utils.timezone import localtime

from complaints.evidence import evidence_add
from complaints.models import (
    AnswerDecision,
    Complaint,
    ComplaintDraft,
    ComplaintState,
    Evidence,
    MerchantInvitation,
    Message,
    Offer,
    OfferKind,
    OfferStatus,
    PartySide,
)
from complaints.services import complaint_answer
from mediation.models import CaseState, MediationCase
from mediation.services import case_open, case_refer
from odr.audit.models import AuditEvent
from odr.consent.models import ConsentPurpose, ConsentReceipt, ConsentRecord, ConsentState
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.documents.services import document_render
from odr.errors import TransitionRefused
from tests.helpers import file_complaint, outbox, pdf_bytes, pdf_upload, travel

PARIS = ZoneInfo("Europe/Paris")
FILED = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)
NOW = FILED + timedelta(days=3)

DESCRIPTION = (
    "J'ai commandé le 14 février « L'Écume des jours » en édition reliée (commande CMD-2026-0415).\n"
    "Le colis est arrivé le 20 février avec la couverture déchirée et 12 pages arrachées."
)
DESIRED = "Le remplacement du livre ou le remboursement de 34,90 € frais de port compris."
ANSWERS = {
    "category": "non_conformity",
    "order_reference": "CMD-2026-0415",
    "order_date": "2026-02-14",
    "amount": "34.90",
    "currency": "EUR",
    "description": DESCRIPTION,
    "desired_outcome": DESIRED,
    "written_complaint_date": "",
}
NOT_A_PDF = "This file's name says PDF but its content is not a PDF."

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def assert_strict_page(response, path: str) -> None:
    """The page may run only our own scripts and styles: a CSP with script-src 'self', and nothing
    inline that the CSP would block (and a browser would then silently drop)."""
    csp = response.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp, f"{path}: Content-Security-Policy is {csp!r}"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
    html = response.content.decode()
    for name, pattern in (
        ("inline <script>", INLINE_SCRIPT),
        ("style attribute", STYLE_ATTRIBUTE),
        ("<style> element", STYLE_ELEMENT),
        ("inline event handler", EVENT_HANDLER),
    ):
        found = pattern.search(html)
        assert found is None, f"{path}: {name}: {html[found.start() : found.start() + 120]!r}"


class Portal(Client):
    """The test client in English, checking every HTML page it receives (assert_strict_page)."""

    checked: list[str]

    def __init__(self, **defaults):
        super().__init__(HTTP_ACCEPT_LANGUAGE="en", **defaults)
        self.checked = []

    def request(self, **request):
        response = super().request(**request)
        if response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
            assert_strict_page(response, request["PATH_INFO"])
            self.checked.append(request["PATH_INFO"])
        return response


def portal_for(user) -> Portal:
    client = Portal()
    client.force_login(user)
    return client


def download(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def flashes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def media_files(settings) -> list[Path]:
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def h1(response) -> str:
    """The page's heading, as text."""
    [heading] = re.findall(r"<h1>(.*?)</h1>", response.content.decode(), re.DOTALL)
    return re.sub(r"<[^>]+>", "", heading)


def events(complaint, kind):
    return AuditEvent.objects.filter(stream=complaint.reference, kind=kind)


def fresh(obj):
    return obj.__class__.objects.get(pk=obj.pk)


# --- Fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _files_and_clock(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"
    with travel(NOW):
        yield


@pytest.fixture
def shop(merchant):
    """The consumer's bookshop, findable by its name, SIREN and website."""
    merchant.trading_name = "Lumière Livres"
    merchant.registration_number = "552100554"
    merchant.website = "https://www.librairie-lumiere.fr"
    merchant.save()
    return merchant


@pytest.fixture
def consumer_portal(consumer):
    consumer.first_name, consumer.last_name = "Camille", "Roussel"
    consumer.save()
    return portal_for(consumer)


@pytest.fixture
def agent_portal(agent):
    return portal_for(agent)


@pytest.fixture
def complaint(consumer, shop, agent):
    with travel(FILED):
        return file_complaint(consumer, shop, description=DESCRIPTION, desired_outcome=DESIRED)


@pytest.fixture
def rejected(complaint, agent):
    return complaint_answer(
        complaint=complaint, by=agent, decision="reject", text="Le livre a été endommagé par le transporteur."
    )


@pytest.fixture
def offered(complaint, agent):
    complaint = complaint_answer(
        complaint=complaint,
        by=agent,
        decision="offer",
        text="Nous sommes désolés pour ce colis abîmé.",
        amount_cents=1500,
        terms="Bon d'achat de 15 € valable un an.",
    )
    return complaint, complaint.offers.get()


def detail(complaint):
    return reverse("complaints:detail", args=[complaint.reference])


def step(name):
    return reverse("complaints:file_step", args=[name])


# --- Filing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["lumière", "LIBRAIRIE", "552 100 554", "552100", "librairie-lumiere.fr"])
def test_merchant_search_finds_the_merchant_by_name_siren_or_website(
    consumer_portal, shop, other_merchant, query
):
    page = consumer_portal.get(step("merchant"), {"q": query})
    partial = consumer_portal.get(reverse("complaints:merchant_search"), {"q": query}, HTTP_HX_REQUEST="true")

    assert [m.pk for m in page.context["results"]] == [shop.pk]
    assert f'name="merchant" value="{shop.pk}"' in page.content.decode()
    assert f'name="merchant" value="{shop.pk}"' in partial.content.decode()
    assert f'value="{other_merchant.pk}"' not in partial.content.decode()


def test_merchant_search_without_a_match_offers_to_invite(consumer_portal, shop):
    page = consumer_portal.get(step("merchant"), {"q": "Bouquinerie du Vieux Port"})
    assert list(page.context["results"]) == []
    assert page.context["invite_form"].initial == {"name": "Bouquinerie du Vieux Port"}


def test_d1_filing_wizard_saves_each_step_and_files_nothing_without_consents(
    consumer_portal, consumer, shop, settings
):
    # The merchant.
    assert consumer_portal.get(reverse("complaints:file")).url == step("merchant")
    chosen = consumer_portal.post(step("merchant"), {"merchant": shop.pk})
    assert chosen.url == step("details")
    draft = ComplaintDraft.objects.get(consumer=consumer)
    assert draft.merchant == shop

    # The details: invalid answers are shown back, nothing is saved.
    invalid = consumer_portal.post(
        step("details"),
        {
            "category": "non_conformity",
            "currency": "EUR",
            "description": "",
            "desired_outcome": "",
            "order_date": "2026-12-24",
        },
    )
    assert invalid.status_code == 200
    assert set(invalid.context["form"].errors) == {"description", "desired_outcome", "order_date"}
    assert fresh(draft).data == {}

    # Valid answers are saved in the draft...
    saved = consumer_portal.post(step("details"), ANSWERS)
    assert saved.url == step("evidence")
    assert fresh(draft).data == ANSWERS

    # ... and survive a reload of the step.
    reloaded = consumer_portal.get(step("details"))
    html = reloaded.content.decode()
    assert escape(DESCRIPTION) in html and escape(DESIRED) in html
    assert 'value="CMD-2026-0415"' in html and 'value="34.90"' in html and 'value="2026-02-14"' in html

    # The files: a real PDF is kept with the draft...
    content = pdf_bytes("Facture Librairie Lumière n° 2026-0415")
    added = consumer_portal.post(
        step("evidence"), {"file": SimpleUploadedFile("facture-lumiere.pdf", content)}, follow=True
    )
    assert added.redirect_chain == [(step("evidence"), 302)]
    assert "facture-lumiere.pdf" in added.content.decode()
    [kept] = Evidence.objects.filter(draft=draft)
    stored = media_files(settings)
    assert [p.read_bytes() for p in stored] == [content]

    # ... an HTML page dressed up as a PDF is refused, with the reason, and nothing is stored.
    disguised = SimpleUploadedFile(
        "bon-de-commande.pdf", b"<!DOCTYPE html><html><body><script>fetch('/')</script>Commande</body></html>"
    )
    refused = consumer_portal.post(step("evidence"), {"file": disguised}, follow=True)
    assert refused.redirect_chain == [(step("evidence"), 302)]
    assert escape(NOT_A_PDF) in refused.content.decode()
    assert list(Evidence.objects.all()) == [kept]
    assert media_files(settings) == stored

    # The review: without both consents, nothing is filed.
    review = consumer_portal.get(step("review"))
    assert escape(DESCRIPTION).replace("\n", "<br>") in review.content.decode()
    for ticked in ({}, {"consent_processing": "on"}, {"consent_sharing": "on"}):
        not_filed = consumer_portal.post(step("review"), ticked)
        assert not_filed.status_code == 200  # the review again
        if ticked:
            assert not_filed.context["form"].errors
    assert not Complaint.objects.exists()
    assert ComplaintDraft.objects.filter(pk=draft.pk).exists()


def test_d1_filing_with_both_consents_files_the_complaint(consumer_portal, consumer, shop):
    content = pdf_bytes("Facture Librairie Lumière n° 2026-0415")
    consumer_portal.post(step("merchant"), {"merchant": shop.pk})
    consumer_portal.post(step("details"), ANSWERS)
    consumer_portal.post(step("evidence"), {"file": SimpleUploadedFile("facture-lumiere.pdf", content)})
    [kept] = Evidence.objects.filter(draft__consumer=consumer)

    # With both consents ticked, the complaint is filed.
    filed = consumer_portal.post(
        step("review"), {"consent_processing": "on", "consent_sharing": "on"}, follow=True
    )
    complaint = Complaint.objects.get()
    assert re.fullmatch(r"C-\d{4}-\d{6}", complaint.reference)
    assert complaint.reference == "C-2026-000001"
    assert filed.redirect_chain == [(detail(complaint), 302)]
    assert complaint.reference in h1(filed)
    assert (complaint.consumer, complaint.merchant, complaint.state) == (consumer, shop, ComplaintState.FILED)
    assert (complaint.amount_cents, complaint.currency, complaint.order_reference) == (
        3490,
        "EUR",
        "CMD-2026-0415",
    )
    assert complaint.description == DESCRIPTION

    # The file moved to the complaint, in the trail with its fingerprint.
    kept = fresh(kept)
    assert (kept.complaint, kept.draft) == (complaint, None)
    [added_event] = events(complaint, "complaint.evidence_added")
    assert added_event.payload["evidence_id"] == kept.pk
    assert added_event.payload["sha256"] == hashlib.sha256(content).hexdigest() == kept.sha256
    # Two consents, receipted; the draft is gone; the acknowledgement is on its way (D1).
    consents = ConsentRecord.objects.filter(case_reference=complaint.reference, person=consumer)
    assert sorted(consents.values_list("purpose", flat=True)) == sorted(
        [ConsentPurpose.COMPLAINT_PROCESSING, ConsentPurpose.SHARE_WITH_MERCHANT_AND_MEDIATOR]
    )
    assert ConsentReceipt.objects.filter(record__in=consents, event_type=ConsentState.GIVEN).count() == 2
    assert not ComplaintDraft.objects.filter(consumer=consumer).exists()
    assert (
        outbox("complaint_acknowledgement", to_user=consumer, case_reference=complaint.reference).count() == 1
    )


def test_the_wizard_sends_back_to_the_merchant_step_until_one_is_chosen(consumer_portal, consumer):
    for name in ("details", "evidence", "review"):
        assert consumer_portal.get(step(name)).url == step("merchant")
    assert consumer_portal.get(step("nowhere")).status_code == 404


def test_merchant_staff_cannot_file_a_complaint(agent_portal):
    assert agent_portal.get(reverse("complaints:file")).status_code == 404
    assert not ComplaintDraft.objects.exists()


def test_unknown_merchant_is_invited_and_the_draft_kept(consumer_portal, consumer, shop):
    consumer_portal.post(step("merchant"), {"merchant": shop.pk})
    consumer_portal.post(
        step("details"),
        {
            "category": "non_delivery",
            "currency": "EUR",
            "description": DESCRIPTION,
            "desired_outcome": DESIRED,
        },
    )

    invited = consumer_portal.post(
        reverse("complaints:merchant_invite"),
        {
            "name": "Bouquinerie du Vieux Port",
            "website": "bouquinerie-vieux-port.fr",
            "email": "contact@bvp.fr",
        },
    )

    assert invited.url == reverse("complaints:list")
    invitation = MerchantInvitation.objects.get()
    assert (invitation.name, invitation.website, invitation.email, invitation.invited_by) == (
        "Bouquinerie du Vieux Port",
        "https://bouquinerie-vieux-port.fr",
        "contact@bvp.fr",
        consumer,
    )
    [email] = outbox("merchant_invitation")
    assert (email.to_address, email.to_user) == ("contact@bvp.fr", None)
    draft = ComplaintDraft.objects.get(consumer=consumer)
    assert (draft.invitation, draft.merchant) == (invitation, None)
    assert draft.data["description"] == DESCRIPTION  # the answers are kept, waiting for the merchant
    my_cases = consumer_portal.get(reverse("complaints:list")).content.decode()
    assert "Bouquinerie du Vieux Port" in my_cases
    assert "Continue my complaint" in my_cases


# --- "My cases" (D2) -----------------------------------------------------------------------------------


def test_d2_my_cases_shows_each_status_and_the_next_deadline_as_a_date(
    consumer_portal, complaint, consumer, shop, agent
):
    with travel(FILED + timedelta(hours=2)):
        answered = file_complaint(consumer, shop, order_reference="CMD-2026-0502")
        answered = complaint_answer(complaint=answered, by=agent, decision="reject", text="Hors délai.")

    page = consumer_portal.get(reverse("complaints:list"))
    html = page.content.decode()

    with translation.override("en"):
        for item, label, due in (
            (complaint, "Merchant&#x27;s answer due", complaint.response_due_at),
            (answered, "Referral to mediation possible until", answered.referral_window_ends_at),
        ):
            assert f'href="{detail(item)}"' in html
            assert escape(item.get_state_display()) in html
            local = localtime(due)
            shown = formats.date_format(local, "DATE_FORMAT")
            assert f'{label}: <strong><time datetime="{dateformat.format(local, "c")}">{shown}</time>' in html
        assert formats.date_format(localtime(complaint.response_due_at), "DATE_FORMAT") == "April 1, 2026"
    assert "Waiting for the merchant&#x27;s answer" in html and "Answered by the merchant" in html


def test_d2_my_cases_lists_only_the_consumers_own_complaints(
    consumer_portal, complaint, other_consumer, other_merchant
):
    with travel(FILED):
        someone_elses = file_complaint(other_consumer, other_merchant)
    page = consumer_portal.get(reverse("complaints:list"))
    assert [c.reference for c in page.context["complaints"]] == [complaint.reference]
    assert someone_elses.reference not in page.content.decode()


# --- The merchant's answer (D3, D4) ---------------------------------------------------------------------


def test_merchant_dashboard_lists_the_complaint_waiting_for_an_answer(agent_portal, complaint):
    page = agent_portal.get(reverse("merchant:dashboard"))
    assert [c.reference for c in page.context["waiting"]] == [complaint.reference]
    assert f'href="{detail(complaint)}"' in page.content.decode()
    assert page.context["open_count"] == 1


def test_d4_rejection_sends_the_mediators_details_and_the_page_offers_referral(
    agent_portal, consumer_portal, complaint, consumer, body
):
    page = agent_portal.get(detail(complaint))
    assert f'action="{reverse("complaints:answer", args=[complaint.reference])}"' in page.content.decode()

    answered = agent_portal.post(
        reverse("complaints:answer", args=[complaint.reference]),
        {"decision": "reject", "text": "Le livre a été endommagé par le transporteur, voyez avec lui."},
    )

    assert answered.url == detail(complaint)
    complaint = fresh(complaint)
    assert (complaint.state, complaint.answer_decision) == (ComplaintState.ANSWERED, AnswerDecision.REJECT)
    [notice] = outbox("complaint_rejected_d4", to_user=consumer)
    assert (notice.context["mediator_name"], notice.context["mediator_website"]) == (body.name, body.website)
    assert notice.context["merchant_takes_part"] is True
    html = consumer_portal.get(detail(complaint)).content.decode()
    assert 'id="mediator"' in html
    assert escape(body.name) in html
    assert f'href="{body.website}"' in html
    assert f'href="{reverse("mediation:refer", args=[complaint.reference])}"' in html


def test_answer_with_an_offer_records_the_amount_in_cents(agent_portal, complaint, consumer, agent):
    agent_portal.post(
        reverse("complaints:answer", args=[complaint.reference]),
        {
            "decision": "offer",
            "text": "Nous vous proposons un remboursement.",
            "amount": "34.90",
            "terms": "",
        },
    )

    [offer] = Offer.objects.filter(complaint=complaint)
    assert (offer.kind, offer.side, offer.made_by, offer.status) == (
        OfferKind.OFFER,
        PartySide.MERCHANT,
        agent,
        OfferStatus.OPEN,
    )
    assert (offer.amount_cents, offer.currency) == (3490, "EUR")
    assert fresh(complaint).state == ComplaintState.ANSWERED
    assert outbox("complaint_answered", to_user=consumer).count() == 1


def test_an_offer_without_amount_or_terms_is_refused(agent_portal, complaint):
    response = agent_portal.post(
        reverse("complaints:answer", args=[complaint.reference]),
        {"decision": "offer", "text": "Nous vous proposons quelque chose."},
    )
    assert "An offer needs an amount or terms." in flashes(response)
    assert fresh(complaint).state == ComplaintState.FILED
    assert not Offer.objects.exists()


# --- Offers ------------------------------------------------------------------------------------------


def test_consumer_accepts_the_offer_and_the_complaint_is_resolved(consumer_portal, offered, consumer):
    complaint, offer = offered
    page = consumer_portal.get(detail(complaint)).content.decode()
    respond = reverse("complaints:offer_respond", args=[complaint.reference, offer.pk])
    assert f'action="{respond}"' in page

    consumer_portal.post(respond, {"decision": "accept"})

    assert fresh(offer).status == OfferStatus.ACCEPTED
    assert fresh(offer).decided_by == consumer
    assert fresh(complaint).state == ComplaintState.RESOLVED
    assert events(complaint, "complaint.resolved").exists()


def test_consumer_declines_the_offer_and_the_complaint_stays_open(consumer_portal, offered):
    complaint, offer = offered
    consumer_portal.post(
        reverse("complaints:offer_respond", args=[complaint.reference, offer.pk]), {"decision": "decline"}
    )
    assert fresh(offer).status == OfferStatus.DECLINED
    assert fresh(complaint).state == ComplaintState.ANSWERED


def test_consumer_makes_a_counter_offer(consumer_portal, offered, consumer, agent):
    complaint, offer = offered

    consumer_portal.post(
        reverse("complaints:offer_make", args=[complaint.reference]),
        {"responds_to": offer.pk, "amount": "34.90", "terms": "Le remboursement intégral, port compris."},
    )

    assert fresh(offer).status == OfferStatus.DECLINED
    counter = Offer.objects.get(responds_to=offer)
    assert (counter.kind, counter.side, counter.made_by) == (
        OfferKind.COUNTER_OFFER,
        PartySide.CONSUMER,
        consumer,
    )
    assert (counter.amount_cents, counter.status) == (3490, OfferStatus.OPEN)
    assert outbox("offer_made", to_user=agent).count() == 1
    assert events(complaint, "offer.counter_offer").get().payload["responds_to"] == offer.pk


def test_merchant_withdraws_its_offer(agent_portal, consumer_portal, offered):
    complaint, offer = offered
    withdraw = reverse("complaints:offer_withdraw", args=[complaint.reference, offer.pk])
    assert f'action="{withdraw}"' in agent_portal.get(detail(complaint)).content.decode()

    refused = consumer_portal.post(withdraw)  # not the consumer's offer
    assert "Only the party who made an offer can withdraw it." in flashes(refused)
    assert fresh(offer).status == OfferStatus.OPEN

    agent_portal.post(withdraw)
    assert fresh(offer).status == OfferStatus.WITHDRAWN
    assert events(complaint, "offer.withdrawn").exists()


def test_merchant_makes_a_further_offer_on_the_page(agent_portal, offered):
    complaint, _offer = offered
    agent_portal.post(
        reverse("complaints:offer_make", args=[complaint.reference]),
        {"amount": "20", "terms": "Bon d'achat de 20 € et retour gratuit du livre abîmé."},
    )
    assert list(complaint.offers.order_by("pk").values_list("amount_cents", "status")) == [
        (1500, OfferStatus.OPEN),
        (2000, OfferStatus.OPEN),
    ]


# --- Messages ----------------------------------------------------------------------------------------


def test_consumer_and_merchant_exchange_messages(consumer_portal, agent_portal, complaint, consumer, agent):
    question = "Bonjour, avez-vous reçu mes photos du colis ? Merci d'avance."
    reply = "Oui, nous les avons transmises à notre transporteur « Colis Express »."

    sent = consumer_portal.post(
        reverse("complaints:message_post", args=[complaint.reference]), {"body": question}
    )
    answered = agent_portal.post(
        reverse("complaints:message_post", args=[complaint.reference]), {"body": reply}
    )

    assert sent.url == detail(complaint) + "#messages" and answered.url == detail(complaint) + "#messages"
    assert list(Message.objects.filter(complaint=complaint).values_list("side", "author", "body")) == [
        (PartySide.CONSUMER, consumer.pk, question),
        (PartySide.MERCHANT, agent.pk, reply),
    ]
    assert outbox("complaint_message", to_user=agent).count() == 1
    assert outbox("complaint_message", to_user=consumer).count() == 1
    for portal in (consumer_portal, agent_portal):
        html = portal.get(detail(complaint)).content.decode()
        assert escape(question) in html and escape(reply) in html


def test_an_empty_message_is_refused(consumer_portal, complaint):
    response = consumer_portal.post(
        reverse("complaints:message_post", args=[complaint.reference]), {"body": ""}
    )
    assert response.url == detail(complaint) + "#messages"
    assert flashes(response) and not Message.objects.exists()


def test_the_complaint_page_shows_the_notice_of_the_action_just_done(consumer_portal, complaint):
    """The page's flash notices are not hidden by the complaint's own messages."""
    shown = consumer_portal.post(
        reverse("complaints:message_post", args=[complaint.reference]),
        {"body": "Merci de me répondre rapidement."},
        follow=True,
    )
    assert "Message sent." in shown.content.decode()


# --- Files on the complaint ------------------------------------------------------------------------------


def test_merchant_adds_a_file_on_the_complaint_page(agent_portal, complaint, agent, settings):
    content = pdf_bytes("Bon de livraison Colis Express 2026-0220")
    response = agent_portal.post(
        reverse("complaints:evidence_add", args=[complaint.reference]),
        {"file": SimpleUploadedFile("bon-de-livraison.pdf", content)},
    )

    assert response.url == detail(complaint) + "#evidence"
    [evidence] = Evidence.objects.filter(complaint=complaint)
    assert (evidence.side, evidence.uploaded_by, evidence.original_name) == (
        PartySide.MERCHANT,
        agent,
        "bon-de-livraison.pdf",
    )
    assert evidence.file.read() == content
    [event] = events(complaint, "complaint.evidence_added")
    assert (event.actor, event.payload["sha256"]) == (agent, hashlib.sha256(content).hexdigest())
    assert "bon-de-livraison.pdf" in agent_portal.get(detail(complaint)).content.decode()


def test_a_file_beyond_the_per_complaint_limit_is_refused_and_nothing_stored(
    consumer_portal, agent_portal, complaint, settings
):
    settings.ODR_UPLOAD_MAX_FILES_PER_CASE = 2  # 20 by default: the 21st is refused the same way
    url = reverse("complaints:evidence_add", args=[complaint.reference])
    consumer_portal.post(url, {"file": pdf_upload("photo-colis.pdf", "Photo du colis")})
    agent_portal.post(url, {"file": pdf_upload("bon-de-livraison.pdf", "Bon de livraison")})
    stored = media_files(settings)

    refused = consumer_portal.post(url, {"file": pdf_upload("photo-pages.pdf", "Pages arrachées")})

    assert "A complaint can hold at most 2 files." in flashes(refused)
    assert complaint.evidence.count() == 2
    assert len(stored) == 2 and media_files(settings) == stored
    assert events(complaint, "complaint.evidence_added").count() == 2


def test_both_parties_download_a_file_as_an_attachment(consumer_portal, agent_portal, complaint, consumer):
    content = pdf_bytes("Facture Librairie Lumière")
    evidence = evidence_add(complaint=complaint, by=consumer, file=ContentFile(content, name="facture.pdf"))
    url = reverse("complaints:evidence_download", args=[complaint.reference, evidence.pk])
    assert f'href="{url}"' in agent_portal.get(detail(complaint)).content.decode()

    for portal in (consumer_portal, agent_portal):
        response = portal.get(url)
        assert response.status_code == 200
        assert download(response) == content
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment")
        assert 'filename="facture.pdf"' in response["Content-Disposition"]
        assert response["X-Content-Type-Options"] == "nosniff"


# --- Referral to mediation (D3, D9) -------------------------------------------------------------------------


REFERRAL = {"other_proceedings": "no", "acting_as_consumer": "yes", "excluded_subject": "", "consent": "on"}


def test_d3_referral_is_refused_while_the_merchant_still_has_time(consumer_portal, complaint):
    url = reverse("mediation:refer", args=[complaint.reference])
    assert 'id="mediator"' not in consumer_portal.get(detail(complaint)).content.decode()
    assert f'href="{url}"' not in consumer_portal.get(detail(complaint)).content.decode()

    page = consumer_portal.get(url)
    assert page.url == detail(complaint)
    posted = consumer_portal.post(url, REFERRAL)
    assert posted.status_code == 200  # the form again, with the reason
    assert any("still has time to answer" in m for m in flashes(posted))
    assert not MediationCase.objects.exists()
    assert fresh(complaint).state == ComplaintState.FILED


def test_referral_after_rejection_opens_a_mediation_case(consumer_portal, rejected, consumer, body):
    url = reverse("mediation:refer", args=[rejected.reference])
    assert consumer_portal.get(url).status_code == 200

    without_consent = consumer_portal.post(url, {**REFERRAL, "consent": ""})
    assert without_consent.status_code == 200 and without_consent.context["form"].errors["consent"]
    assert not MediationCase.objects.exists()

    referred = consumer_portal.post(url, REFERRAL)

    assert referred.url == detail(rejected)
    case = MediationCase.objects.get(complaint=rejected)
    assert (case.state, case.mediation_body, case.other_proceedings, case.acting_as_consumer) == (
        CaseState.RECEIVED,
        body,
        False,
        True,
    )
    assert fresh(rejected).state == ComplaintState.REFERRED
    assert ConsentRecord.objects.filter(
        person=consumer, purpose=ConsentPurpose.ENTER_MEDIATION, case_reference=case.reference
    ).exists()
    assert case.reference in consumer_portal.get(detail(rejected)).content.decode()


def test_d9_dispute_declared_before_another_mediator_is_received_but_cannot_be_opened(
    consumer_portal, rejected, mediator
):
    """L612-2 3°: the referral is received with the declaration, and the mediator must reject it as
    `already_examined`: the case cannot be opened."""
    consumer_portal.post(
        reverse("mediation:refer", args=[rejected.reference]), {**REFERRAL, "other_proceedings": "yes"}
    )

    case = MediationCase.objects.get(complaint=rejected)
    assert (case.state, case.other_proceedings) == (CaseState.RECEIVED, True)
    assert (
        AuditEvent.objects.get(stream=case.reference, kind="case.received").payload["other_proceedings"]
        is True
    )
    with pytest.raises(TransitionRefused) as refused:
        case_open(case=case, by=mediator)
    assert "already_examined" in str(refused.value)
    assert MediationCase.objects.get(pk=case.pk).state == CaseState.RECEIVED


# --- Withdrawing, consents and receipts (D19, D31–D33) ------------------------------------------------------


def test_d19_consumer_withdraws_the_complaint_with_a_reason(consumer_portal, complaint, agent):
    url = reverse("complaints:withdraw", args=[complaint.reference])
    assert f'href="{url}"' in consumer_portal.get(detail(complaint)).content.decode()
    assert consumer_portal.get(url).status_code == 200

    done = consumer_portal.post(url, {"reason": "Le libraire m'a finalement envoyé un exemplaire neuf."})

    assert done.url == detail(complaint)
    complaint = fresh(complaint)
    assert complaint.state == ComplaintState.WITHDRAWN
    assert complaint.withdrawal_reason == "Le libraire m'a finalement envoyé un exemplaire neuf."
    assert events(complaint, "complaint.withdrawn").get().payload["reason"] == complaint.withdrawal_reason
    assert outbox("complaint_withdrawn", to_user=agent).count() == 1


def test_d33_withdrawing_a_consent_in_one_step_issues_a_receipt_and_closes_the_complaint(
    consumer_portal, complaint, consumer
):
    record = ConsentRecord.objects.get(
        case_reference=complaint.reference, person=consumer, purpose=ConsentPurpose.COMPLAINT_PROCESSING
    )
    url = reverse("complaints:consent_withdraw", args=[complaint.reference, record.uid])
    assert f'action="{url}"' in consumer_portal.get(detail(complaint)).content.decode()

    done = consumer_portal.post(url)  # one click, like ticking the box

    assert done.url == detail(complaint) + "#consents"
    assert fresh(record).state == ConsentState.WITHDRAWN
    assert ConsentReceipt.objects.filter(record=record, event_type=ConsentState.WITHDRAWN).count() == 1
    assert fresh(complaint).state == ComplaintState.WITHDRAWN
    assert events(complaint, "consent.withdrawn").exists()


def test_d32_the_consumer_downloads_a_receipt_as_pdf_and_no_one_else(
    consumer_portal, agent_portal, complaint, consumer
):
    receipt = ConsentReceipt.objects.filter(record__case_reference=complaint.reference).first()
    url = reverse("complaints:receipt_download", args=[complaint.reference, receipt.receipt_id])
    assert f'href="{url}"' in consumer_portal.get(detail(complaint)).content.decode()

    response = consumer_portal.get(url)

    assert response.status_code == 200
    assert download(response).startswith(b"%PDF")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="receipt-{receipt.receipt_id}.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert agent_portal.get(url).status_code == 404


# --- Documents (D1, D4) -------------------------------------------------------------------------------------


def test_d1_acknowledgement_is_generated_then_downloaded(consumer_portal, agent_portal, complaint, consumer):
    generate = reverse("complaints:document_generate", args=[complaint.reference])
    page = consumer_portal.get(detail(complaint))
    assert page.context["party_documents"] == [DocumentKind.COMPLAINT_ACKNOWLEDGEMENT]  # no D4 notice yet
    assert consumer_portal.post(generate, {"kind": DocumentKind.MEDIATOR_NOTICE}).status_code == 404

    requested = consumer_portal.post(generate, {"kind": DocumentKind.COMPLAINT_ACKNOWLEDGEMENT})

    assert requested.url == detail(complaint) + "#documents"
    document = GeneratedDocument.objects.get(subject_reference=complaint.reference)
    assert (document.kind, document.status, document.requested_by, document.language) == (
        DocumentKind.COMPLAINT_ACKNOWLEDGEMENT,
        DocumentStatus.PENDING,
        consumer,
        "en",
    )
    waiting = consumer_portal.get(detail(complaint)).content.decode()
    assert 'hx-trigger="every 2s"' in waiting  # the list refreshes itself until the PDF is ready
    partial = consumer_portal.get(detail(complaint), {"part": "documents"}, HTTP_HX_REQUEST="true")
    assert partial.content.decode().startswith('<section id="documents"')

    document = document_render(document.pk)  # the `pdf` queue's task, run here

    url = reverse("complaints:document_download", args=[complaint.reference, document.pk])
    assert f'href="{url}"' in consumer_portal.get(detail(complaint)).content.decode()
    for portal in (consumer_portal, agent_portal):
        response = portal.get(url)
        content = download(response)
        assert response.status_code == 200
        assert content.startswith(b"%PDF")
        assert hashlib.sha256(content).hexdigest() == document.sha256
        assert response["Content-Disposition"].startswith("attachment")
        assert f'filename="acknowledgement-{complaint.reference}.pdf"' in response["Content-Disposition"]
        assert response["X-Content-Type-Options"] == "nosniff"


# --- Every page: our own scripts and styles only ------------------------------------------------------------


def test_every_portal_page_allows_only_our_own_scripts_and_styles(
    consumer, agent, owner, shop, other_consumer
):
    """The Portal client checks every page any test here renders; this one walks each page once."""
    with travel(FILED):
        filed = file_complaint(consumer, shop, description=DESCRIPTION)
        answered = file_complaint(consumer, shop, order_reference="CMD-2026-0502")
        referred = file_complaint(consumer, shop, order_reference="CMD-2026-0503")
    with travel(FILED + timedelta(days=40)):  # the merchant's period lapsed: the refer page opens too
        answered = complaint_answer(
            complaint=answered, by=agent, decision="offer", text="Avoir.", amount_cents=900
        )
        referred = complaint_answer(complaint=referred, by=agent, decision="reject", text="Non.")
        evidence_add(complaint=answered, by=consumer, file=ContentFile(pdf_bytes("Photo"), name="photo.pdf"))
        case_refer(complaint=referred, by=consumer, other_proceedings=False, acting_as_consumer=True)
        newcomer = portal_for(other_consumer)
        newcomer.post(step("merchant"), {"merchant": shop.pk})
        newcomer.post(
            step("details"),
            {
                "category": "billing",
                "currency": "EUR",
                "description": "Facturé deux fois.",
                "desired_outcome": "Un avoir.",
            },
        )
        consumer_portal, agent_portal, owner_portal = (
            portal_for(consumer),
            portal_for(agent),
            portal_for(owner),
        )
        pages = [
            (consumer_portal, reverse("complaints:list")),
            (consumer_portal, detail(filed)),
            (consumer_portal, detail(answered)),
            (consumer_portal, detail(referred)),
            (consumer_portal, reverse("complaints:withdraw", args=[filed.reference])),
            (consumer_portal, reverse("mediation:refer", args=[filed.reference])),
            (newcomer, step("merchant") + "?q=lumi%C3%A8re"),
            (newcomer, step("merchant") + "?q=introuvable"),
            (newcomer, reverse("complaints:merchant_search") + "?q=lumi%C3%A8re"),
            (newcomer, step("details")),
            (newcomer, step("evidence")),
            (newcomer, step("review")),
            (newcomer, reverse("complaints:list")),
            (agent_portal, reverse("merchant:dashboard")),
            (agent_portal, detail(filed)),
            (agent_portal, detail(answered)),
            (agent_portal, detail(referred)),
            (owner_portal, reverse("team:members", args=[shop.pk])),
            (owner_portal, reverse("team:settings", args=[shop.pk])),
        ]
        for portal, url in pages:
            response = portal.get(url)
            assert response.status_code == 200, url
            assert_strict_page(response, url)
            assert portal.checked[-1] == url.split("?")[0]  # the client checks every page it receives


# --- What a new user met in the demo (typing kept, file kept on "continue", each side's own text) ---


def test_what_the_consumer_types_survives_a_reload_before_saving(consumer_portal, consumer, shop):
    """ "A half-filled complaint survives a page reload": the details step keeps the text as it is
    typed (htmx posts it every few keystrokes), not only once "Save and continue" is pressed."""
    consumer_portal.post(step("merchant"), {"merchant": shop.pk})
    typing = {"description": "Commande payée le 2 mars, jamais liv", "amount": "12,5"}
    kept = consumer_portal.post(reverse("complaints:draft_autosave"), typing, HTTP_HX_REQUEST="true")
    assert kept.status_code == 204

    html = consumer_portal.get(step("details")).content.decode()
    assert escape(typing["description"]) in html and 'value="12,5"' in html
    # What was typed is not an answer yet: filing uses only what the step's form accepted.
    draft = ComplaintDraft.objects.get(consumer=consumer)
    assert "description" not in {k for k in draft.data if k != "typing"}
    assert consumer_portal.get(step("review")).url == step("details")
    # Saving the step replaces the typed text with the checked answers.
    consumer_portal.post(step("details"), ANSWERS)
    assert fresh(draft).data == ANSWERS


def test_continue_adds_the_file_the_consumer_chose(consumer_portal, consumer, shop, settings):
    consumer_portal.post(step("merchant"), {"merchant": shop.pk})
    consumer_portal.post(step("details"), ANSWERS)
    content = pdf_bytes("Bon de livraison")
    moved_on = consumer_portal.post(
        step("evidence"), {"file": SimpleUploadedFile("livraison.pdf", content), "then": "review"}
    )
    assert moved_on.url == step("review")
    [evidence] = Evidence.objects.filter(draft__consumer=consumer)
    assert evidence.original_name == "livraison.pdf"
    # With no file chosen, "continue" simply moves on; a refused file keeps the consumer on the step.
    assert consumer_portal.post(step("evidence"), {"then": "review"}).url == step("review")
    refused = consumer_portal.post(
        step("evidence"), {"file": SimpleUploadedFile("x.pdf", b"<html>x</html>"), "then": "review"}
    )
    assert refused.url == step("evidence")
    assert Evidence.objects.filter(draft__consumer=consumer).count() == 1


def test_d4_each_side_reads_its_own_words_and_the_box_goes_once_referred(
    agent_portal, consumer_portal, rejected, consumer, body
):
    consumer_html = consumer_portal.get(detail(rejected)).content.decode()
    merchant_html = agent_portal.get(detail(rejected)).content.decode()
    assert "The merchant rejected your complaint." in consumer_html
    assert "The merchant rejected your complaint." not in merchant_html
    assert "Your customer may refer the dispute to your mediator" in merchant_html
    assert escape(body.name) in merchant_html

    with travel(NOW + timedelta(minutes=5)):
        case_refer(complaint=rejected, by=consumer, other_proceedings=False, acting_as_consumer=True)
    referred = consumer_portal.get(detail(rejected)).content.decode()
    assert 'id="mediator"' not in referred and "can be referred until" not in referred
