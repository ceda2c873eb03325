"""POST /api/v1/consent-receipts/verify/ (D32): the public verify page's check, for integrations."""

import pytest
from django.urls import reverse

from odr.consent.models import ConsentReceipt
from tests.helpers import file_complaint

from .test_auth import assert_problem

URL = "/api/v1/consent-receipts/verify/"


@pytest.mark.django_db
def test_d32_a_real_receipt_verifies_and_a_tampered_one_does_not(read_api, consumer, merchant):
    assert reverse("api:receipt-verify") == URL
    file_complaint(consumer, merchant)
    receipt = ConsentReceipt.objects.first()
    compact = receipt.jws
    good = read_api.post(URL, {"receipt": compact}, format="json")
    assert good.status_code == 200, good.content
    assert good.json()["valid"] is True and good.json()["claims"]["version"] == "KI-CR-v1.1.0"
    head, payload, signature = compact.split(".")
    bad = read_api.post(URL, {"receipt": f"{head}.{payload}.{signature[:-4]}AAAA"}, format="json")
    assert bad.status_code == 200 and bad.json()["valid"] is False and bad.json()["claims"] is None


@pytest.mark.django_db
def test_missing_receipt_is_400(read_api):
    body = assert_problem(read_api.post(URL, {}, format="json"), 400, "validation_error")
    assert body["errors"][0]["field"] == "receipt"
