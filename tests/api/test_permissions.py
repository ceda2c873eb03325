"""The permission matrix (D30): merchant B's key on merchant A's objects → 404 on every endpoint;
a read-only key on every write → 403 and nothing changes; no key → 401.

The table is the URL resolver's own list of the "api" namespace: an endpoint added without a row here
fails `test_every_api_url_is_in_the_table`.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from complaints.evidence import evidence_add
from complaints.models import Offer
from complaints.services import complaint_answer, offer_make
from mediation.services import proposal_issue
from odr.audit.models import AuditEvent
from tests.helpers import file_complaint, open_case, pdf_upload

from .conftest import client_for
from .test_auth import assert_problem

# name → (methods, which object of A the url takes, POST body)
TABLE = {
    "complaint-list": ("GET", None, None),
    "complaint-detail": ("GET", "complaint", None),
    "complaint-answer": ("POST", "complaint", {"decision": "reject", "text": "Non."}),
    "complaint-offers": ("GET POST", "complaint", {"terms": "Avoir", "amount_cents": 100}),
    "complaint-offer-respond": ("POST", "offer", {"decision": "accept"}),
    "complaint-offer-withdraw": ("POST", "offer", {}),
    "complaint-messages": ("GET POST", "complaint", {"body": "Intrus"}),
    "complaint-documents": ("GET POST", "complaint", "upload"),
    "complaint-document-download": ("GET", "evidence", None),
    "case-list": ("GET", None, None),
    "case-detail": ("GET", "case", None),
    "case-proposal-respond": ("POST", "proposal", {"decision": "accept"}),
    "case-decline": ("POST", "case", {}),
    "case-withdraw": ("POST", "case", {}),
    "case-messages": ("GET POST", "case", {"body": "Intrus"}),
    "receipt-verify": ("POST", None, {"receipt": "a.b.c"}),
}
NOT_PROTECTED = {"schema", "swagger-ui", "redoc", "not-found"}  # public documentation; the 404 of no endpoint


def api_names():
    _prefix, resolver = get_resolver().namespace_dict["api"]

    def walk(patterns):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns)
            elif isinstance(entry, URLPattern):
                yield entry.name

    return set(walk(resolver.url_patterns))


def test_every_api_url_is_in_the_table():
    assert api_names() == set(TABLE) | NOT_PROTECTED


@pytest.fixture
def world(consumer, merchant, agent, mediator, other_consumer):
    """Merchant A's objects: an answered complaint with an open counter-offer and a file, and a case
    with a proposal awaiting answers (of another complaint)."""
    complaint = file_complaint(consumer, merchant)
    complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non.")
    offer = offer_make(complaint=complaint, by=consumer, terms="Remboursement", amount_cents=8990)
    evidence = evidence_add(complaint=complaint, by=consumer, file=pdf_upload())
    case = open_case(other_consumer, merchant, agent, mediator)
    proposal = proposal_issue(case=case, by=mediator, solution="Remboursement intégral.")
    return {
        "complaint": (complaint.reference,),
        "offer": (complaint.reference, offer.pk),
        "evidence": (complaint.reference, evidence.pk),
        "case": (case.reference,),
        "proposal": (case.reference, proposal.pk),
    }


def requests(world):
    for name, (methods, obj, body) in TABLE.items():
        args = world[obj] if obj else ()
        for method in methods.split():
            yield name, method, reverse(f"api:{name}", args=args), body


def send(client, method, path, body):
    if method == "GET":
        return client.get(path)
    if body == "upload":
        return client.post(path, {"file": pdf_upload("intrus.pdf", "Intrus")}, format="multipart")
    return client.post(path, body, format="json")


def snapshot():
    return (AuditEvent.objects.count(), Offer.objects.count())


@pytest.mark.django_db
def test_d30_other_merchants_key_gets_404_on_every_object_url(world, other_api):
    before = snapshot()
    for name, method, path, body in requests(world):
        obj = TABLE[name][1]
        response = send(other_api, method, path, body)
        if obj is None:
            assert response.status_code in (200, 201), (name, method, response.content)
            if method == "GET":
                assert response.json()["results"] == [], name  # B's own (empty) lists
        else:
            assert_problem(response, 404, "not_found")
    assert snapshot() == before


@pytest.mark.django_db
def test_read_only_key_gets_403_on_every_write_and_reads_everything(world, read_api):
    before = snapshot()
    for name, method, path, body in requests(world):
        response = send(read_api, method, path, body)
        if method == "GET":
            assert response.status_code == 200, (name, response.content)
        elif name == "receipt-verify":  # checks a signature, changes nothing
            assert response.status_code == 200
        else:
            assert_problem(response, 403, "insufficient_scope")
    assert snapshot() == before


@pytest.mark.django_db
def test_no_key_gets_401_everywhere(world):
    anonymous = client_for()
    for _name, method, path, body in requests(world):
        assert_problem(send(anonymous, method, path, body), 401, "not_authenticated")


@pytest.mark.django_db
def test_mediator_and_consumer_sessions_see_no_merchant_object(world, client, mediator, consumer):
    """The API is the merchant's: a session of the case's mediator or of the consumer gets 404s."""
    for person in (mediator, consumer):
        client.force_login(person)
        for name, method, path, _body in requests(world):
            if method == "GET" and TABLE[name][1] is not None:
                assert client.get(path).status_code == 404, (person, name)


@pytest.mark.django_db
def test_same_merchant_key_reaches_every_object_url(world, api):
    for name, method, path, _body in requests(world):
        if method == "GET":
            assert api.get(path).status_code == 200, name
