"""Platform staff can read consents and receipts in the admin, never change them (D32)."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory

from .helpers import give

pytestmark = pytest.mark.django_db


def test_d32_admin_shows_consents_and_receipts_read_only(client, consumer):
    record = give(consumer)
    receipt = record.receipts.get()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    for name, obj in (("consentrecord", record), ("consentreceipt", receipt)):
        assert client.get(reverse(f"admin:consent_{name}_changelist")).status_code == 200
        page = client.get(reverse(f"admin:consent_{name}_change", args=[obj.pk]))
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
        assert client.get(reverse(f"admin:consent_{name}_add")).status_code == 403
        assert (
            client.post(reverse(f"admin:consent_{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code
            == 403
        )
