"""The complaint list writes its rows from `values()` (complaint_rows_data) instead of running
ComplaintSerializer over model instances, for speed. What a merchant reads must not change: each
row of the list equals ComplaintSerializer's output for the same complaint, in every state, with and
without the optional fields, in any time zone."""

from datetime import date, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from complaints.api.serializers import COMPLAINT_ROW_COLUMNS, ComplaintSerializer, complaint_rows_data
from complaints.models import Complaint
from complaints.services import complaint_answer, complaint_expire, complaint_withdraw
from tests.factories import UserFactory
from tests.helpers import file_complaint, referred_case

LIST = reverse("api:complaint-list")


def complaints_in_every_state(merchant, agent):
    """Filed, answered three ways, withdrawn, referred (a case reference), expired; a consumer
    without a name (the e-mail stands in), fields left empty and filled."""
    nameless = UserFactory(first_name="", last_name="")
    file_complaint(nameless, merchant, order_reference="", amount_cents=None, order_date=None)
    file_complaint(UserFactory(), merchant, order_date=date(2026, 2, 28), amount_cents=1)
    for decision in ("accept", "reject"):
        complaint_answer(
            complaint=file_complaint(UserFactory(), merchant), by=agent, decision=decision, text="Réponse."
        )
    complaint_answer(
        complaint=file_complaint(UserFactory(), merchant),
        by=agent,
        decision="offer",
        text="Nous proposons un bon d'achat.",
        terms="Un bon d'achat.",
        amount_cents=2000,
    )
    withdrawn = file_complaint(UserFactory(), merchant)
    complaint_withdraw(complaint=withdrawn, by=withdrawn.consumer, reason="Réglé ailleurs.")
    referred_case(UserFactory(), merchant, agent)
    old = file_complaint(UserFactory(), merchant)
    with time_machine.travel(old.referral_window_ends_at + timedelta(seconds=1)):
        complaint_expire(complaint=old)


def serializer_output(reference):
    complaint = Complaint.objects.select_related("consumer", "mediation_case").get(reference=reference)
    return ComplaintSerializer(complaint).data


@pytest.mark.django_db
def test_the_list_answers_exactly_what_the_complaint_serializer_writes(api, merchant, agent):
    complaints_in_every_state(merchant, agent)
    results = api.get(LIST).json()["results"]
    states = {row["state"] for row in results}
    assert states == {"filed", "answered", "withdrawn", "referred", "expired"}
    assert any(row["mediation_case_reference"] for row in results)
    assert any(row["order_date"] is None for row in results) and any(row["order_date"] for row in results)
    assert any(row["consumer"]["name"] == row["consumer"]["email"] for row in results)
    assert len(results) == 8
    for row in results:
        assert row == serializer_output(row["reference"])
        assert list(row) == ComplaintSerializer.Meta.fields  # the documented order too


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/Cayenne"])
def test_datetimes_are_written_as_drf_writes_them_in_the_current_time_zone(merchant, agent, zone):
    """DRF writes UTC as "Z" and any other zone with its offset; the rows must too."""
    complaints_in_every_state(merchant, agent)
    with timezone.override(zone):
        rows = complaint_rows_data(Complaint.objects.order_by("pk").values(*COMPLAINT_ROW_COLUMNS))
        expected = [serializer_output(row["reference"]) for row in rows]
    assert rows == expected
    filed_at = rows[0]["filed_at"]
    assert filed_at.endswith("Z") if zone == "UTC" else filed_at[-6] in "+-"
