"""Every list answers in the same number of queries whatever the page size (1 or 50)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from complaints.evidence import evidence_add
from complaints.services import complaint_answer, complaint_post_message, offer_make
from mediation.services import case_post_message
from tests.factories import UserFactory
from tests.helpers import file_complaint, open_case, pdf_upload, referred_case


def count(api, url, page_size):
    with CaptureQueriesContext(connection) as queries:
        response = api.get(url, {"page_size": page_size})
    assert response.status_code == 200
    return len(queries), len(response.json()["results"])


def assert_constant(api, url, rows):
    api.get(url)  # the key's last use is written on the first request of the minute
    small, got_small = count(api, url, 1)
    large, got_large = count(api, url, 50)
    assert (got_small, got_large) == (1, rows)
    assert small == large


@pytest.mark.django_db
def test_complaint_list(api, merchant, agent, mediator):
    for index in range(12):
        complaint = file_complaint(UserFactory(), merchant)
        if index % 3 == 0:
            complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non.")
    referred_case(UserFactory(), merchant, agent)
    assert_constant(api, reverse("api:complaint-list"), 13)


@pytest.mark.django_db
def test_case_list(api, merchant, agent, mediator):
    for _ in range(4):
        open_case(UserFactory(), merchant, agent, mediator)
    assert_constant(api, reverse("api:case-list"), 4)


@pytest.mark.django_db
def test_complaint_threads(api, consumer, merchant, agent):
    complaint = file_complaint(consumer, merchant)
    complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non.")
    for index in range(6):
        complaint_post_message(
            complaint=complaint, by=consumer if index % 2 else agent, body=f"Message {index}"
        )
        offer_make(complaint=complaint, by=consumer if index % 2 else agent, terms=f"Offre {index}")
    for index in range(3):
        evidence_add(complaint=complaint, by=consumer, file=pdf_upload(title=f"Pièce {index}"))
    for name, rows in (("complaint-messages", 6), ("complaint-offers", 6), ("complaint-documents", 3)):
        assert_constant(api, reverse(f"api:{name}", args=[complaint.reference]), rows)


@pytest.mark.django_db
def test_case_messages(api, consumer, merchant, agent, mediator):
    case = open_case(consumer, merchant, agent, mediator)
    for index in range(5):
        case_post_message(case=case, by=[consumer, agent, mediator][index % 3], body=f"Message {index}")
    assert_constant(api, reverse("api:case-messages", args=[case.reference]), 5)
