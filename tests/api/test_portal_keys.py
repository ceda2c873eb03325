"""The merchant portal's API-key pages: owners create (shown once) and revoke; agents see the list;
everyone else gets a 404."""

import hashlib

import pytest
from django.urls import reverse

from odr.api.keys import api_key_create
from odr.api.models import ApiKey

from .conftest import client_for


@pytest.mark.django_db
def test_owner_creates_a_key_shown_once_and_it_works(client, owner, merchant):
    client.force_login(owner)
    response = client.post(
        reverse("apikeys:create", args=[merchant.pk]), {"name": "Back office", "scopes": "read_write"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = ApiKey.objects.get()
    full = response.context["full_key"]
    assert full.startswith(f"odr_{key.prefix}_") and full in response.content.decode()
    assert key.key_hash == hashlib.sha256(full.split("_", 2)[2].encode()).hexdigest()
    assert key.created_by == owner and key.scopes == "read_write"
    listing = client.get(reverse("apikeys:list", args=[merchant.pk])).content.decode()
    assert key.prefix in listing and full not in listing  # never shown again
    assert client_for(full).get("/api/v1/complaints/").status_code == 200


@pytest.mark.django_db
def test_owner_revokes(client, owner, merchant):
    key, full = api_key_create(merchant=merchant, by=owner, name="Old", scopes="read")
    client.force_login(owner)
    client.post(reverse("apikeys:revoke", args=[merchant.pk, key.pk]))
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == owner
    assert client_for(full).get("/api/v1/complaints/").status_code == 401


@pytest.mark.django_db
def test_agent_sees_the_list_but_cannot_create_or_revoke(client, agent, owner, merchant):
    key, _full = api_key_create(merchant=merchant, by=owner, name="Shop", scopes="read")
    client.force_login(agent)
    page = client.get(reverse("apikeys:list", args=[merchant.pk]))
    assert page.status_code == 200 and key.prefix in page.content.decode()
    assert reverse("apikeys:create", args=[merchant.pk]) not in page.content.decode()
    client.post(reverse("apikeys:create", args=[merchant.pk]), {"name": "Mine", "scopes": "read_write"})
    client.post(reverse("apikeys:revoke", args=[merchant.pk, key.pk]))
    assert ApiKey.objects.count() == 1
    key.refresh_from_db()
    assert key.revoked_at is None


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["other_agent", "consumer", "mediator"])
def test_d30_strangers_get_404_on_every_page(request, client, owner, merchant, who):
    key, _full = api_key_create(merchant=merchant, by=owner, name="Shop", scopes="read")
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("apikeys:list", args=[merchant.pk])).status_code == 404
    create = client.post(reverse("apikeys:create", args=[merchant.pk]), {"name": "X", "scopes": "read_write"})
    assert create.status_code == 404
    assert client.post(reverse("apikeys:revoke", args=[merchant.pk, key.pk])).status_code == 404
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get().revoked_at is None


@pytest.mark.django_db
def test_revoking_another_merchants_key_through_ones_own_url_is_404(client, owner, merchant, other_merchant):
    from odr.accounts.models import Role
    from tests.factories import MembershipFactory

    other_owner = MembershipFactory(role=Role.MERCHANT_OWNER, merchant=other_merchant).user
    foreign, _ = api_key_create(merchant=other_merchant, by=other_owner, name="B", scopes="read")
    client.force_login(owner)
    assert client.post(reverse("apikeys:revoke", args=[merchant.pk, foreign.pk])).status_code == 404


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client, merchant):
    response = client.get(reverse("apikeys:list", args=[merchant.pk]))
    assert response.status_code == 302 and "login" in response["Location"]
