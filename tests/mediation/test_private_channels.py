"""Issue 6, item 4 — private channels are private everywhere (D20): a private message between the
mediator and one party never reaches the other party. Not on the other party's case page, not in the
e-mails queued for the other party (recipients and rendered bodies), not in the other party's copy of
the mediation record (text and embedded JSON), not in any export a party can get. Each way round; and
the party the channel belongs to does see its own messages.

Exports: the bulk export (mediation/export.py) and the audit-trail PDF are built for compliance
officers (and the mediator, for the audit trail) with the full record; no party-audience export exists.
The tests below pin that: a party can neither request nor download them, and its own
"mediation:case_documents" list offers only its own copy of the record.
"""

import json
import shutil
import subprocess
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pikepdf
import pytest
from django.db import transaction
from django.urls import reverse

from mediation.models import PRIVATE_AUDIENCE_OF, Audience
from mediation.services import case_add_representative, case_post_message
from odr.documents.models import DocumentKind, GeneratedDocument
from odr.documents.services import document_render, document_request
from odr.notifications.emails import build_email
from odr.notifications.models import OutboxMessage
from tests.complaints.test_portal import download, portal_for
from tests.helpers import open_case, travel

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)
NOW = START + timedelta(days=2)

TO_CONSUMER = "PRIVE-CONSOMMATEUR : le marchand accepterait 60 €, gardez-le pour vous."
CONSUMER_REPLY = "PRIVE-REPONSE-CONSOMMATEUR : je prendrais 50 € tout de suite."
TO_MERCHANT = "PRIVE-MARCHAND : la cliente semble prête à transiger."
MERCHANT_REPLY = "PRIVE-REPONSE-MARCHAND : 80 € est notre maximum absolu."
JOINT = "COMMUN : merci à tous les deux pour vos pièces."

CONSUMER_CHANNEL = (TO_CONSUMER, CONSUMER_REPLY)
MERCHANT_CHANNEL = (TO_MERCHANT, MERCHANT_REPLY)

needs_poppler = pytest.mark.skipif(
    not shutil.which("pdftotext"), reason="needs poppler-utils (pdftotext); .ci/run installs it"
)


@pytest.fixture(autouse=True)
def _files_and_clock(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"
    with travel(NOW):
        yield


@pytest.fixture
def case(consumer, merchant, agent, owner, mediator):
    """An open mediation with a representative on each side, a joint message, and both private
    channels used both ways."""
    with travel(START):
        case = open_case(consumer, merchant, agent, mediator)
    case_add_representative(
        case=case,
        by=consumer,
        name="Maître Fournier",
        email="fournier@avocats.example.test",
        capacity="lawyer",
    )
    case_add_representative(
        case=case, by=agent, name="Conseil Dupuis", email="dupuis@conseil.example.test", capacity="other"
    )
    case_post_message(case=case, by=mediator, body=JOINT)
    case_post_message(case=case, by=mediator, body=TO_CONSUMER, audience=Audience.CONSUMER_PRIVATE)
    case_post_message(case=case, by=consumer, body=CONSUMER_REPLY, audience=Audience.CONSUMER_PRIVATE)
    case_post_message(case=case, by=mediator, body=TO_MERCHANT, audience=Audience.MERCHANT_PRIVATE)
    case_post_message(case=case, by=agent, body=MERCHANT_REPLY, audience=Audience.MERCHANT_PRIVATE)
    return case


SIDES = {
    # reader's side: (the fixture names of its people, its representative's address, its own
    # channel, the other side's channel)
    "consumer": (("consumer",), "fournier@avocats.example.test", CONSUMER_CHANNEL, MERCHANT_CHANNEL),
    "merchant": (("agent", "owner"), "dupuis@conseil.example.test", MERCHANT_CHANNEL, CONSUMER_CHANNEL),
}


def page(user, case) -> str:
    response = portal_for(user).get(reverse("parties:case", args=[case.reference]))
    assert response.status_code == 200
    return response.content.decode()


def record(case, audience: str) -> GeneratedDocument:
    """The party's copy of the mediation record, rendered now (the `pdf` queue's task, run here)."""
    with transaction.atomic():
        document = document_request(
            kind=DocumentKind.MEDIATION_RECORD,
            subject_reference=case.reference,
            language="en",
            parameters={"audience": audience},
        )
    return document_render(document.pk)


def pdf_text(path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True).stdout
    return " ".join(out.decode().split())


def embedded(path) -> dict:
    with pikepdf.open(path) as pdf:
        return json.loads(pdf.attachments["mediation-record.json"].get_file().read_bytes())


def emails_for(side: str, case, request) -> list[OutboxMessage]:
    people, representative, _own, _other = SIDES[side]
    users = [request.getfixturevalue(name) for name in people]
    return list(OutboxMessage.objects.filter(case_reference=case.reference).filter(to_user__in=users)) + list(
        OutboxMessage.objects.filter(case_reference=case.reference, to_address=representative)
    )


# --- The case page --------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["consumer", "merchant"])
def test_d20_the_other_sides_private_channel_is_not_on_the_case_page(case, side, request):
    people, _representative, own, other = SIDES[side]
    for name in people:
        html = page(request.getfixturevalue(name), case)
        assert JOINT in html
        for text in own:  # the party sees its own private channel...
            assert text in html
        for text in other:  # ... and nothing of the other's
            assert text.split(" : ")[0] not in html and text.split(" : ")[1] not in html


# --- E-mails --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["consumer", "merchant"])
def test_d20_no_email_of_the_other_sides_private_channel_reaches_a_party(case, side, request):
    other_side = "merchant" if side == "consumer" else "consumer"
    own_private, other_private = PRIVATE_AUDIENCE_OF[side], PRIVATE_AUDIENCE_OF[other_side]
    other_ids = list(case.messages.filter(audience=other_private).values_list("pk", flat=True))
    own_from_mediator = case.messages.get(audience=own_private, author_role="mediator")
    mine = emails_for(side, case, request)
    assert mine, "the party receives the case's e-mails at all"

    # Recipients: no row about a message of the other side's channel, to anyone of this side.
    keys = [m.idempotency_key for m in mine]
    for pk in other_ids:
        assert not [k for k in keys if k.startswith(f"case.message:{pk}:")], keys
    # The mediator's private message to this side does reach it (its people and its representative).
    told = [m for m in mine if m.idempotency_key.startswith(f"case.message:{own_from_mediator.pk}:")]
    people, representative, _own, other = SIDES[side]
    assert len(told) == len(people) + 1 and all(m.context["private"] for m in told)
    assert representative in {m.to_address for m in told}

    # Bodies: nothing of the other side's channel in any e-mail this side gets, rendered as sent.
    for message in mine:
        email = build_email(message)
        rendered = " ".join([email.subject, email.body, *(content for content, _type in email.alternatives)])
        for text in other:
            assert text.split(" : ")[1] not in rendered, message.template
    # Nor in the context stored for later rendering.
    for message in mine:
        stored = json.dumps(message.context, ensure_ascii=False)
        for text in other:
            assert text.split(" : ")[1] not in stored


# --- The party's copy of the mediation record ---------------------------------------------------------------


@needs_poppler
@pytest.mark.parametrize("side", ["consumer", "merchant"])
def test_d20_the_partys_record_leaves_out_the_other_sides_private_channel(case, side):
    _people, _representative, own, other = SIDES[side]
    document = record(case, side)
    text = pdf_text(document.file.path)
    assert JOINT in text
    for message in own:
        assert message in text
    for message in other:
        assert message not in text
        assert message.split(" : ")[0] not in text

    data = embedded(document.file.path)
    assert data["audience"] == side
    dumped = json.dumps(data, ensure_ascii=False)
    for message in other:
        assert message.split(" : ")[1] not in dumped
    own_audience = Audience.CONSUMER_PRIVATE if side == "consumer" else Audience.MERCHANT_PRIVATE
    other_ids = set(
        case.messages.exclude(audience__in=[Audience.EVERYONE, own_audience]).values_list("pk", flat=True)
    )
    message_events = [e for e in data["events"] if e["kind"] == "case.message"]
    assert {e["payload"]["audience"] for e in message_events} == {"everyone", own_audience}
    assert not {e["payload"]["message_id"] for e in message_events} & other_ids


@pytest.mark.parametrize("side", ["consumer", "merchant"])
def test_d20_the_embedded_record_json_leaves_out_the_other_sides_channel(case, side):
    """The same as above for the machine-readable part, without poppler."""
    data = embedded(record(case, side).file.path)
    own_audience = Audience.CONSUMER_PRIVATE if side == "consumer" else Audience.MERCHANT_PRIVATE
    audiences = {e["payload"].get("audience") for e in data["events"] if e["kind"] == "case.message"}
    assert audiences == {"everyone", own_audience}


# --- Exports: none for the parties ----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["consumer", "agent"])
def test_d20_a_party_gets_only_its_own_copy_and_no_export(case, who, request, body, compliance_officer):
    party = request.getfixturevalue(who)
    portal = portal_for(party)
    generate = reverse("mediation:case_document_generate", args=[case.reference])
    # A party asks for the record: it gets its own copy, whatever it posts.
    portal.post(generate, {"kind": "mediation_record", "audience": "full"})
    requested = GeneratedDocument.objects.get(requested_by=party)
    assert requested.parameters == {"audience": "consumer" if who == "consumer" else "merchant"}
    # The audit trail and the bulk export are not for the parties.
    assert portal.post(generate, {"kind": "audit_trail"}).status_code == 404
    assert portal.post(generate, {"kind": "case_export"}).status_code == 404
    export_url = reverse("mediation:body_document_generate", args=[body.slug])
    assert (
        portal.post(export_url, {"kind": "case_export", "from": "2026-01-01", "to": "2026-12-31"}).status_code
        == 404
    )
    assert GeneratedDocument.objects.filter(requested_by=party).count() == 1
    # Documents made for others (the full record, the other party's copy, a body export) are a 404.
    full = record(case, "full")
    other_copy = record(case, "merchant" if who == "consumer" else "consumer")
    with transaction.atomic():
        export = document_request(
            kind=DocumentKind.CASE_EXPORT,
            subject_reference=f"B-{body.slug}",
            by=compliance_officer,
            parameters={"body": body.slug, "from": "2026-01-01", "to": "2026-12-31"},
        )
    export = document_render(export.pk)
    for document in (full, other_copy, export):
        response = portal.get(reverse("mediation:document_download", args=[document.pk]))
        assert response.status_code == 404, document.kind
    own = document_render(requested.pk)
    response = portal.get(reverse("mediation:document_download", args=[own.pk]))
    assert response.status_code == 200 and download(response).startswith(b"%PDF")
    listing = portal.get(reverse("mediation:case_documents", args=[case.reference])).content.decode()
    assert reverse("mediation:document_download", args=[own.pk]) in listing
    for document in (full, other_copy):
        assert reverse("mediation:document_download", args=[document.pk]) not in listing
