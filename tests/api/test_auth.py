"""API keys: Bearer authentication, revocation, the creator leaving the team, last use, sessions."""

from datetime import timedelta

import pytest
from django.urls import reverse

from odr import clock
from odr.accounts.models import Membership, Role, User
from odr.api.keys import api_key_revoke
from odr.api.models import ApiKey
from tests.factories import MembershipFactory
from tests.helpers import file_complaint

from .conftest import client_for

LIST = "/api/v1/complaints/"


def assert_problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"urn:odr:problem:{code}" and body["title"] and body["detail"]
    return body


@pytest.mark.django_db
def test_no_credentials_is_401_with_challenge():
    response = client_for().get(LIST)
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw", ["odr_nope_nope", "garbage", "odr__x", "Bearer-less"], ids=["unknown", "garbage", "empty", "junk"]
)
def test_unknown_or_malformed_key_is_401(raw):
    assert_problem(client_for(raw).get(LIST), 401, "authentication_failed")


@pytest.mark.django_db
def test_wrong_secret_with_a_real_prefix_is_401(write_key):
    _key, full = write_key
    tampered = full[:-2] + ("aa" if not full.endswith("aa") else "bb")
    assert_problem(client_for(tampered).get(LIST), 401, "authentication_failed")


@pytest.mark.django_db
def test_key_is_stored_hashed_with_its_prefix(write_key):
    key, full = write_key
    assert full.startswith(f"odr_{key.prefix}_")
    secret = full.split("_", 2)[2]
    assert secret not in key.key_hash and len(key.key_hash) == 64
    assert 8 <= len(key.prefix) <= 12


@pytest.mark.django_db
def test_valid_key_reads_and_revoked_key_is_401(write_key, owner):
    key, full = write_key
    assert client_for(full).get(LIST).status_code == 200
    api_key_revoke(key=key, by=owner)
    assert_problem(client_for(full).get(LIST), 401, "authentication_failed")


CREATOR_LEFT = "The person who created this API key is no longer on the merchant's staff."


@pytest.mark.django_db
def test_key_stops_working_when_its_creator_leaves_the_merchant(write_key, owner, merchant):
    _key, full = write_key
    Membership.objects.filter(user=owner, merchant=merchant).delete()
    body = assert_problem(client_for(full).get(LIST, HTTP_ACCEPT_LANGUAGE="en"), 401, "authentication_failed")
    assert body["detail"] == CREATOR_LEFT


@pytest.mark.django_db
def test_key_stops_working_when_its_creators_account_is_deactivated(write_key, owner):
    _key, full = write_key
    User.objects.filter(pk=owner.pk).update(is_active=False)
    body = assert_problem(client_for(full).get(LIST, HTTP_ACCEPT_LANGUAGE="en"), 401, "authentication_failed")
    assert body["detail"] == CREATOR_LEFT


@pytest.mark.django_db
def test_a_wrong_secret_says_nothing_of_the_keys_creator(write_key, owner, merchant):
    """Only the holder of the whole key learns why it stopped working."""
    key, _full = write_key
    Membership.objects.filter(user=owner, merchant=merchant).delete()
    forged = f"odr_{key.prefix}_{'A' * 43}"
    body = assert_problem(
        client_for(forged).get(LIST, HTTP_ACCEPT_LANGUAGE="en"), 401, "authentication_failed"
    )
    assert body["detail"] == "Invalid or revoked API key."


@pytest.mark.django_db
def test_key_keeps_working_while_its_creator_stays_on_the_staff_in_any_role(write_key, owner, merchant):
    """An owner who is also an agent (two memberships) or becomes an agent only is still staff."""
    _key, full = write_key
    MembershipFactory(user=owner, merchant=merchant, role=Role.MERCHANT_AGENT)
    response = client_for(full).get(LIST)
    assert response.status_code == 200
    Membership.objects.filter(user=owner, merchant=merchant, role=Role.MERCHANT_OWNER).delete()
    assert client_for(full).get(LIST).status_code == 200


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute(write_key):
    key, full = write_key
    client = client_for(full)
    client.get(LIST)
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    client.get(LIST)
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=clock.now() - timedelta(minutes=2))
    client.get(LIST)
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first


@pytest.mark.django_db
def test_browser_session_of_merchant_staff_reads_the_api(client, agent, consumer, merchant):
    complaint = file_complaint(consumer, merchant)
    client.force_login(agent)
    response = client.get(LIST)
    assert response.status_code == 200
    assert [c["reference"] for c in response.json()["results"]] == [complaint.reference]


@pytest.mark.django_db
def test_browser_session_post_needs_the_csrf_token(agent, consumer, merchant):
    from django.test import Client

    complaint = file_complaint(consumer, merchant)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(agent)
    url = reverse("api:complaint-messages", args=[complaint.reference])
    response = browser.post(url, {"body": "Bonjour"}, content_type="application/json")
    assert_problem(response, 403, "permission_denied")


@pytest.mark.django_db
def test_consumer_session_sees_no_complaint_through_the_api(client, consumer, merchant):
    file_complaint(consumer, merchant)
    client.force_login(consumer)
    assert client.get(LIST).json()["results"] == []


@pytest.mark.django_db
def test_staff_of_another_merchant_is_not_enough(write_key, owner, merchant, other_merchant):
    """The creator must be on the staff of the key's merchant, not of any merchant."""
    _key, full = write_key
    MembershipFactory(user=owner, merchant=other_merchant, role=Role.MERCHANT_AGENT)
    Membership.objects.filter(user=owner, merchant=merchant).delete()
    body = assert_problem(client_for(full).get(LIST, HTTP_ACCEPT_LANGUAGE="en"), 401, "authentication_failed")
    assert body["detail"] == CREATOR_LEFT
