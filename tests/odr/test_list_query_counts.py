"""The merchant's team, API keys, webhook endpoints and delivery log, and the dev mailbox are paged at a
constant cost (issue 14): the same queries with few rows and with more than a page, at most six, and
the pages walked through "Next" give every row once, in order, and only the merchant's own.
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from odr.accounts import views as team_views
from odr.accounts.models import Role
from odr.api import portal_views
from odr.api.keys import api_key_create
from odr.notifications import dev_views
from odr.notifications.models import Channel, DevMailboxEmail, OutboxMessage
from odr.webhooks import views as webhook_views
from odr.webhooks.models import WebhookEndpoint
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import travel
from tests.list_walk import MAX_LIST_QUERIES, logged_in, page_queries, walk

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _small_pages(monkeypatch):
    monkeypatch.setattr(team_views, "TEAM_PAGE_SIZE", 2)
    monkeypatch.setattr(portal_views, "PAGE_SIZE", 2)
    monkeypatch.setattr(webhook_views, "LOG_SIZE", 2)
    monkeypatch.setattr(dev_views, "PAGE_SIZE", 2)


@pytest.fixture
def other_owner(other_merchant):
    return MembershipFactory(role=Role.MERCHANT_OWNER, merchant=other_merchant).user


def test_team_pages_cost_the_same_and_list_owners_first_then_by_name(
    merchant, owner, other_merchant, other_owner
):
    names = ["Zoé Petit", "Adam Bernard", "Inès Moreau", "Louis Durand"]
    for name in names:
        first, last = name.split()
        user = UserFactory(first_name=first, last_name=last)
        MembershipFactory(role=Role.MERCHANT_AGENT, merchant=other_merchant, user=user)
    MembershipFactory(
        role=Role.MERCHANT_AGENT, merchant=merchant, user=UserFactory(first_name="Hors", last_name="Equipe")
    )

    few, _html = page_queries(logged_in(owner), f"/merchant/{merchant.pk}/team/")
    many, _html = page_queries(logged_in(other_owner), f"/merchant/{other_merchant.pk}/team/")
    found, queries = walk(
        logged_in(other_owner), f"/merchant/{other_merchant.pk}/team/", r"<strong>([^<]+)</strong>"
    )

    assert few == many <= MAX_LIST_QUERIES
    members = [name for name in found if name != other_merchant.legal_name]
    assert members[0] == other_owner.display_name  # the owner first
    assert members[1:] == ["Adam Bernard", "Louis Durand", "Inès Moreau", "Zoé Petit"]  # by last name
    assert "Hors Equipe" not in found and len(set(queries)) == 1


def test_api_key_pages_cost_the_same_and_walk_newest_first(merchant, owner, other_merchant, other_owner):
    with travel(NOW):
        api_key_create(merchant=merchant, by=owner, name="Caisse en ligne", scopes="read")
    for n in range(5):
        with travel(NOW + timedelta(minutes=n)):
            api_key_create(merchant=other_merchant, by=other_owner, name=f"Intégration {n}", scopes="read")

    few, _html = page_queries(logged_in(owner), f"/merchant/{merchant.pk}/api-keys/")
    many, _html = page_queries(logged_in(other_owner), f"/merchant/{other_merchant.pk}/api-keys/")
    found, queries = walk(
        logged_in(other_owner),
        f"/merchant/{other_merchant.pk}/api-keys/",
        r"(Intégration \d|Caisse en ligne)",
    )

    assert few == many <= MAX_LIST_QUERIES
    assert found == [f"Intégration {n}" for n in reversed(range(5))]
    assert len(queries) == 3 and len(set(queries)) == 1


def endpoint(merchant, n):
    return WebhookEndpoint.objects.create(
        merchant=merchant,
        url=f"https://hooks.example.com/odr/{n}",
        events=["complaint.filed"],
        created_at=NOW + timedelta(minutes=n),
    )


def test_webhook_endpoints_and_deliveries_are_paged(merchant, owner, other_merchant, other_owner):
    endpoint(merchant, 99)
    endpoints = [endpoint(other_merchant, n) for n in range(5)]
    few, _html = page_queries(logged_in(owner), f"/merchant/{merchant.pk}/webhooks/")
    many, _html = page_queries(logged_in(other_owner), f"/merchant/{other_merchant.pk}/webhooks/")
    found, _queries = walk(
        logged_in(other_owner),
        f"/merchant/{other_merchant.pk}/webhooks/",
        r"https://hooks\.example\.com/odr/(\d+)",
    )
    assert few == many <= MAX_LIST_QUERIES
    assert [int(n) for n in found] == list(range(5))  # oldest first, as registered

    target = endpoints[0]
    for n in range(5):
        OutboxMessage.objects.create(
            channel=Channel.WEBHOOK,
            template="complaint.filed",
            idempotency_key=f"test-{n}",
            case_reference=f"C-2026-{n:06d}",
            to_address=target.url,
            context={"endpoint_id": target.pk},
            created_at=NOW + timedelta(minutes=n),
        )
    url = f"/merchant/{other_merchant.pk}/webhooks/{target.pk}/"
    few, _html = page_queries(
        logged_in(other_owner), f"/merchant/{other_merchant.pk}/webhooks/{endpoints[1].pk}/"
    )
    many, _html = page_queries(logged_in(other_owner), url)
    deliveries, queries = walk(logged_in(other_owner), url, r"<td>(C-2026-\d+)</td>")
    assert few == many <= MAX_LIST_QUERIES
    assert deliveries == [f"C-2026-{n:06d}" for n in reversed(range(5))] and len(set(queries)) == 1


@override_settings(ROOT_URLCONF="tests.odr.notifications.debug_urls")
def test_dev_mailbox_is_paged_newest_first(db, client):
    for n in range(5):
        DevMailboxEmail.objects.create(to="lea@example.test", subject=f"Message {n}", text="…", raw=b"")
    found, queries = walk(client, "/dev/mailbox/", r"(Message \d)")
    assert found == [f"Message {n}" for n in reversed(range(5))]
    assert len(queries) == 3 and len(set(queries)) == 1
    assert re.search(r"Message 4", client.get("/dev/mailbox/").content.decode())
