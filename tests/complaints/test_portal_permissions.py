"""D30: every consumer and merchant URL, requested by another consumer or another merchant's staff,
answers 404 — never the data, never a change.

The table is the URL resolver's own list: every pattern of the namespaces "complaints", "merchant"
and "team", and "mediation:refer". A URL added to those namespaces fails
`test_d30_every_portal_url_is_in_the_table` until it is given a row here (or, if it takes no object
of anyone's, an entry in NO_OBJECT saying so).
"""

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, get_resolver, reverse

from complaints.drafts import draft_for
from complaints.evidence import draft_evidence_add, evidence_add
from complaints.models import Complaint, Evidence, Message, Offer, OfferStatus
from complaints.services import complaint_answer, complaint_post_message
from mediation.models import MediationCase
from odr.accounts.models import Membership, Role, StaffInvitation
from odr.accounts.services import staff_invite
from odr.audit.models import AuditEvent
from odr.consent.models import ConsentReceipt, ConsentRecord
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.notifications.models import OutboxMessage
from tests.factories import MembershipFactory
from tests.helpers import file_complaint, pdf_bytes, pdf_upload, travel

PARIS = ZoneInfo("Europe/Paris")
FILED = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)
NOW = FILED + timedelta(days=3)

SECRET_DESCRIPTION = "Aspirateur-robot Nimbus XR-7731 livré cassé, carton éventré, numéro de série illisible."
SECRET_MESSAGE = "Mon digicode est le 4B71, passez quand vous voulez."
SECRET_TERMS = "Avoir de 45 € valable sur la boutique Lumière jusqu'au 31 décembre."
DOCUMENT_MARKER = b"acknowledgement-of-C-2026-000001-for-Camille-Delacroix-Marchetti"

NAMESPACES = ("complaints", "merchant", "team")
EXTRA_PATTERNS = ("mediation:refer",)

# URLs that take no object of anyone's: each person gets their own list, draft or search. They are
# still requested below by the strangers, and must not show party A's data.
NO_OBJECT = {
    "complaints:list": "the consumer's own cases",
    "complaints:file": "starts the consumer's own draft",
    "complaints:merchant_search": "the public directory of merchants",
    "complaints:merchant_invite": "invites a merchant from the consumer's own draft",
    "complaints:file_step": "a step of the consumer's own draft (`step` is a step name, not an object)",
    "merchant:dashboard": "the complaints of the merchants the user works for",
    "complaints:draft_autosave": "keeps what the consumer types in their own draft",
}
# The link e-mailed to an invited person: the token is the secret, so whoever holds it may see which
# merchant invites them (and nothing else); accepting is refused to anyone but the invited address.
BEARER_LINKS = {"team:invitation_accept": "the invitation token is the credential"}


def _upload():
    return {"file": pdf_upload("facture-intrus.pdf", "Intrus")}


# Per URL: which object of party A each `pk` is, and what a stranger POSTs (valid input, so that a
# missing check would change something).
TABLE = {
    "complaints:detail": {},
    "complaints:answer": {"post": {"decision": "reject", "text": "Nous refusons, voyez le médiateur."}},
    "complaints:message_post": {"post": {"body": "Bonjour, je suis le service client."}},
    "complaints:offer_make": {"post": {"terms": "Remboursement de 10 €.", "amount": "10.00"}},
    "complaints:offer_respond": {"pk": "offer", "post": {"decision": "accept"}},
    "complaints:offer_withdraw": {"pk": "offer"},
    "complaints:evidence_add": {"post": _upload},
    "complaints:evidence_download": {"pk": "evidence"},
    "complaints:document_generate": {"post": {"kind": DocumentKind.COMPLAINT_ACKNOWLEDGEMENT}},
    "complaints:document_download": {"pk": "document"},
    "complaints:withdraw": {"post": {"reason": "Je retire ma réclamation."}},
    "complaints:consent_withdraw": {},
    "complaints:receipt_download": {},
    "complaints:draft_evidence_remove": {"pk": "draft_evidence"},
    "mediation:refer": {
        "post": {
            "other_proceedings": "no",
            "acting_as_consumer": "yes",
            "excluded_subject": "",
            "consent": "on",
        }
    },
    "team:members": {},
    "team:invite": {"post": {"email": "complice@example.test"}},
    "team:remove": {},
    "team:revoke": {},
    "team:settings": {},
}


def portal_patterns() -> dict[str, URLPattern]:
    """Every URL pattern of the portal's namespaces, by its namespaced name, from the resolver."""
    resolver = get_resolver()
    found = {}
    for namespace in NAMESPACES:
        _prefix, included = resolver.namespace_dict[namespace]
        for entry in included.url_patterns:
            assert isinstance(entry, URLPattern), f"nested include in {namespace!r}: extend this walk"
            found[f"{namespace}:{entry.name}"] = entry
    for name in EXTRA_PATTERNS:
        namespace, short = name.split(":")
        _prefix, included = resolver.namespace_dict[namespace]
        [entry] = [e for e in included.url_patterns if getattr(e, "name", None) == short]
        found[name] = entry
    return found


def parameters(pattern: URLPattern) -> list[str]:
    return list(pattern.pattern.converters)


# --- Party A: a consumer, a merchant and its staff, with one of everything ----------------------------


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"


@pytest.fixture
def party_a(consumer, merchant, agent, owner):
    consumer.first_name, consumer.last_name = "Camille", "Delacroix-Marchetti"
    consumer.save()
    with travel(FILED):
        complaint = file_complaint(consumer, merchant, description=SECRET_DESCRIPTION)
    with travel(NOW):
        complaint_post_message(complaint=complaint, by=consumer, body=SECRET_MESSAGE)
        complaint = complaint_answer(
            complaint=complaint,
            by=agent,
            decision="offer",
            text="Nous vous proposons un avoir.",
            amount_cents=4500,
            terms=SECRET_TERMS,
        )
        evidence_content = pdf_bytes("Facture F-2026-0311 Librairie Lumière")
        evidence = evidence_add(
            complaint=complaint,
            by=consumer,
            file=ContentFile(evidence_content, name="facture-lumiere.pdf"),
        )
        draft_content = pdf_bytes("Photo du carton éventré")
        draft_evidence = draft_evidence_add(
            draft=draft_for(consumer), by=consumer, file=ContentFile(draft_content, name="carton.pdf")
        )
        document_content = b"%PDF-1.7\n% " + DOCUMENT_MARKER + b"\n%%EOF\n"
        document = GeneratedDocument.objects.create(
            kind=DocumentKind.COMPLAINT_ACKNOWLEDGEMENT,
            subject_reference=complaint.reference,
            language="fr",
            status=DocumentStatus.READY,
            file=ContentFile(document_content, name="acknowledgement.pdf"),
            filename=f"acknowledgement-{complaint.reference}.pdf",
            sha256=hashlib.sha256(document_content).hexdigest(),
            size=len(document_content),
            requested_by=consumer,
            requested_at=NOW,
            ready_at=NOW,
        )
        invitation = staff_invite(
            merchant=merchant, by=owner, email="nouvel.agent@librairie-lumiere.example.test"
        )
    record = ConsentRecord.objects.filter(case_reference=complaint.reference, person=consumer).first()
    offer = Offer.objects.get(complaint=complaint, status=OfferStatus.OPEN)
    return {
        "complaint": complaint,
        "reference": complaint.reference,
        "offer": offer,
        "evidence": evidence,
        "draft_evidence": draft_evidence,
        "document": document,
        "uid": record.uid,
        "receipt_id": ConsentReceipt.objects.filter(record=record).first().receipt_id,
        "merchant_id": merchant.pk,
        "membership_id": Membership.objects.get(user=agent, merchant=merchant).pk,
        "invitation_id": invitation.pk,
        "token": invitation.token,
        # What must never reach a stranger.
        "secrets": [
            complaint.reference.encode(),
            SECRET_DESCRIPTION.encode(),
            SECRET_MESSAGE.encode(),
            SECRET_TERMS.encode(),
            consumer.display_name.encode(),
            consumer.email.encode(),
            evidence_content,
            draft_content,
            DOCUMENT_MARKER,
        ],
    }


def kwargs_for(name: str, pattern: URLPattern, party: dict) -> dict:
    kwargs = {}
    for parameter in parameters(pattern):
        if parameter == "pk":
            kind = TABLE[name].get("pk")
            assert kind, f"{name}: say in TABLE which object of party A its `pk` is"
            kwargs["pk"] = party[kind].pk
        else:
            assert parameter in party, f"{name}: no value of party A for the parameter {parameter!r}"
            kwargs[parameter] = party[parameter]
    return kwargs


def post_data(name: str) -> dict:
    data = TABLE.get(name, {}).get("post", {})
    return data() if callable(data) else dict(data)


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def leaks(response, party, *, location: bool = True) -> list[bytes]:
    """Party A's secrets found in the response's body (and the redirect's target)."""
    body = content(response) + (response.get("Location", "").encode() if location else b"")
    return [secret[:60] for secret in party["secrets"] if secret in body]


def media_files() -> list[str]:
    from django.conf import settings

    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def db_state() -> dict:
    return {
        "complaints": list(
            Complaint.objects.order_by("pk").values_list(
                "pk", "state", "answer_decision", "withdrawal_reason"
            )
        ),
        "messages": Message.objects.count(),
        "offers": list(Offer.objects.order_by("pk").values_list("pk", "status", "amount_cents")),
        "evidence": list(
            Evidence.objects.order_by("pk").values_list("pk", "complaint_id", "draft_id", "file")
        ),
        "consents": list(ConsentRecord.objects.order_by("pk").values_list("pk", "state")),
        "receipts": ConsentReceipt.objects.count(),
        "cases": MediationCase.objects.count(),
        "documents": GeneratedDocument.objects.count(),
        "memberships": list(
            Membership.objects.order_by("pk").values_list("pk", "user_id", "role", "merchant_id")
        ),
        "invitations": list(
            StaffInvitation.objects.order_by("pk").values_list("pk", "accepted_at", "revoked_at")
        ),
        "audit_events": AuditEvent.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "files": media_files(),
    }


# --- The table is the resolver's list ------------------------------------------------------------------


def test_d30_every_portal_url_is_in_the_table():
    names = set(portal_patterns())
    assert not set(TABLE) & set(NO_OBJECT), "a URL is either checked or allow-listed, not both"
    assert names == set(TABLE) | set(NO_OBJECT) | set(BEARER_LINKS), (
        f"not covered: {sorted(names - set(TABLE) - set(NO_OBJECT) - set(BEARER_LINKS))}; "
        f"gone: {sorted(set(TABLE) | set(NO_OBJECT) | set(BEARER_LINKS) - names)}"
    )
    # The allow-list holds only URLs that take no object: nothing to fill but a step name.
    for name in NO_OBJECT:
        assert set(parameters(portal_patterns()[name])) <= {"step"}, name


def test_every_object_parameter_has_a_value_of_party_a(party_a):
    patterns = portal_patterns()
    for name in TABLE:
        reverse(name, kwargs=kwargs_for(name, patterns[name], party_a))  # fails if one is missing


# --- Strangers: another consumer, another merchant's agent ---------------------------------------------


@pytest.fixture
def strangers(other_consumer, other_merchant, other_agent):
    """Party B has a life of its own: a complaint against its own merchant."""
    with travel(FILED):
        file_complaint(other_consumer, other_merchant, description="Livre jamais reçu.")
    return {"another consumer": other_consumer, "another merchant's agent": other_agent}


@pytest.mark.parametrize("who", ["another consumer", "another merchant's agent"])
def test_d30_strangers_get_404_on_every_object_url_and_change_nothing(party_a, strangers, who):
    client = Client()
    client.force_login(strangers[who])
    patterns = portal_patterns()
    before = db_state()
    problems = []
    with travel(NOW + timedelta(days=1)):
        for name in sorted(TABLE):
            url = reverse(name, kwargs=kwargs_for(name, patterns[name], party_a))
            get = client.get(url)
            post = client.post(url, post_data(name))
            statuses = (get.status_code, post.status_code)
            # The method the view serves answers 404; the other may answer 405 (method not allowed).
            if not (set(statuses) <= {404, 405} and 404 in statuses):
                problems.append(f"{name} {url}: GET {statuses[0]}, POST {statuses[1]}")
            for method, response in (("GET", get), ("POST", post)):
                if found := leaks(response, party_a):
                    problems.append(f"{name} {method} shows party A's data: {found}")
    assert problems == []
    assert db_state() == before


@pytest.mark.parametrize("who", ["another consumer", "another merchant's agent"])
def test_d30_pages_without_an_object_show_strangers_nothing_of_party_a(party_a, strangers, who, merchant):
    client = Client()
    client.force_login(strangers[who])
    patterns = portal_patterns()
    problems = []
    with travel(NOW + timedelta(days=1)):
        for name in sorted(NO_OBJECT):
            kwargs = {"step": "merchant"} if "step" in parameters(patterns[name]) else {}
            response = client.get(reverse(name, kwargs=kwargs), {"q": merchant.legal_name})
            found = leaks(response, party_a)
            if response.status_code >= 500 or found:
                problems.append(f"{name}: {response.status_code} {found}")
    assert problems == []


@pytest.mark.parametrize("who", ["another consumer", "another merchant's agent"])
def test_d30_an_invitation_link_lets_no_one_else_join(party_a, strangers, who):
    """The token is the secret: its holder sees which merchant invites them, but cannot join under
    another address; an unknown token is a 404."""
    client = Client()
    client.force_login(strangers[who])
    before = db_state()
    url = reverse("team:invitation_accept", kwargs={"token": party_a["token"]})

    page = client.get(url)
    refused = client.post(url)

    assert page.status_code == 200 and page.context["problem"]  # shown instead of the accept button
    assert refused.status_code == 302
    assert leaks(page, party_a) == [] and leaks(refused, party_a) == []
    assert client.get(reverse("team:invitation_accept", kwargs={"token": "x" * 43})).status_code == 404
    assert db_state() == before


def test_d30_anyone_on_a_merchants_staff_cannot_reach_the_consumers_own_urls(party_a, agent):
    """The merchant's own agent sees the complaint, but not the consumer's receipts, consents,
    withdrawal or referral."""
    client = Client()
    client.force_login(agent)
    patterns = portal_patterns()
    before = db_state()
    for name in (
        "complaints:withdraw",
        "complaints:consent_withdraw",
        "complaints:receipt_download",
        "mediation:refer",
    ):
        url = reverse(name, kwargs=kwargs_for(name, patterns[name], party_a))
        assert client.get(url).status_code in (404, 405), name
        assert client.post(url, post_data(name)).status_code == 404, name
    assert db_state() == before


def test_d30_mixing_ones_own_reference_with_party_as_objects_is_a_404(
    party_a, other_consumer, other_merchant
):
    """The objects are looked up inside the complaint (or merchant) in the URL, not by id alone."""
    with travel(FILED):
        own = file_complaint(other_consumer, other_merchant, description="Livre jamais reçu.")
    other_owner = MembershipFactory(role=Role.MERCHANT_OWNER, merchant=other_merchant).user
    consumer_b = Client()
    consumer_b.force_login(other_consumer)
    owner_b = Client()
    owner_b.force_login(other_owner)
    ref = own.reference
    before = db_state()

    requests = [
        (consumer_b, "get", reverse("complaints:evidence_download", args=[ref, party_a["evidence"].pk])),
        (consumer_b, "get", reverse("complaints:document_download", args=[ref, party_a["document"].pk])),
        (consumer_b, "post", reverse("complaints:offer_respond", args=[ref, party_a["offer"].pk])),
        (consumer_b, "post", reverse("complaints:offer_withdraw", args=[ref, party_a["offer"].pk])),
        (consumer_b, "post", reverse("complaints:consent_withdraw", args=[ref, party_a["uid"]])),
        (consumer_b, "get", reverse("complaints:receipt_download", args=[ref, party_a["receipt_id"]])),
        (owner_b, "post", reverse("team:remove", args=[other_merchant.pk, party_a["membership_id"]])),
        (owner_b, "post", reverse("team:revoke", args=[other_merchant.pk, party_a["invitation_id"]])),
    ]
    with travel(NOW + timedelta(days=1)):
        for client, method, url in requests:
            response = getattr(client, method)(url, {"decision": "accept"} if method == "post" else {})
            assert response.status_code == 404, url
            assert leaks(response, party_a) == [], url
    assert db_state() == before


# --- Anonymous visitors -------------------------------------------------------------------------------


def test_d30_anonymous_visitors_are_sent_to_the_login_page_from_every_portal_url(party_a):
    client = Client()
    login = reverse("account_login")
    patterns = portal_patterns()
    before = db_state()
    problems = []
    for name, pattern in sorted(patterns.items()):
        if name in TABLE:
            kwargs = kwargs_for(name, pattern, party_a)
        elif name in BEARER_LINKS:
            kwargs = {"token": party_a["token"]}
        else:
            kwargs = {"step": "merchant"} if "step" in parameters(pattern) else {}
        url = reverse(name, kwargs=kwargs)
        for method in ("get", "post"):
            response = getattr(client, method)(url, post_data(name) if method == "post" else {})
            if response.status_code != 302 or not response["Location"].startswith(f"{login}?next="):
                problems.append(f"{method.upper()} {name}: {response.status_code} {response.get('Location')}")
            elif found := leaks(response, party_a, location=False):  # ?next= repeats the URL asked for
                problems.append(f"{method.upper()} {name} shows party A's data: {found}")
    assert problems == []
    assert db_state() == before
