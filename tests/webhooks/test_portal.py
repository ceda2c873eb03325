"""The merchant portal's webhook pages: who sees what, who changes what, the log and "Resend"."""

import pytest
from django.urls import reverse

from odr import clock
from odr.audit.models import AuditEvent
from odr.notifications.models import Channel, OutboxMessage, OutboxStatus
from odr.notifications.relay import outbox_deliver
from odr.ops.status import outbox_status
from odr.webhooks.models import WebhookEndpoint
from tests.helpers import file_complaint


@pytest.fixture
def delivered(endpoint, consumer, merchant):
    file_complaint(consumer, merchant)
    return OutboxMessage.objects.get(channel=Channel.WEBHOOK)


def urls(endpoint, message):
    m, e = endpoint.merchant_id, endpoint.pk
    return [
        ("get", reverse("webhooks:list", args=[m])),
        ("post", reverse("webhooks:list", args=[m])),
        ("get", reverse("webhooks:detail", args=[m, e])),
        ("post", reverse("webhooks:detail", args=[m, e])),
        ("post", reverse("webhooks:rotate", args=[m, e])),
        ("post", reverse("webhooks:delete", args=[m, e])),
        ("post", reverse("webhooks:resend", args=[m, e, message.pk])),
    ]


def test_every_webhooks_url_is_covered_here(endpoint, delivered):
    from odr.webhooks.urls import urlpatterns

    assert {p.name for p in urlpatterns} == {"list", "detail", "rotate", "delete", "resend"}


def test_other_merchants_staff_and_consumers_get_404_everywhere(
    client, endpoint, delivered, other_agent, consumer
):
    secret = endpoint.secret
    for user in (other_agent, consumer):
        client.force_login(user)
        for method, url in urls(endpoint, delivered):
            data = {"url": "https://evil.example.test/", "events": ["complaint.filed"]}
            response = getattr(client, method)(url, data) if method == "post" else client.get(url)
            assert response.status_code == 404, (user, method, url)
    endpoint.refresh_from_db()
    assert endpoint.secret == secret and endpoint.url.startswith("http://127.0.0.1")


def test_anonymous_people_are_sent_to_log_in(client, endpoint, delivered):
    response = client.get(reverse("webhooks:list", args=[endpoint.merchant_id]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_missing_endpoint_is_404_like_a_forbidden_one(client, owner, endpoint):
    client.force_login(owner)
    assert (
        client.get(reverse("webhooks:detail", args=[endpoint.merchant_id, endpoint.pk + 99])).status_code
        == 404
    )


def test_agents_see_the_pages_and_the_log_but_not_the_secret_and_change_nothing(
    client, agent, endpoint, delivered
):
    client.force_login(agent)
    listing = client.get(reverse("webhooks:list", args=[endpoint.merchant_id])).content.decode()
    assert endpoint.url in listing and 'name="url"' not in listing
    detail = client.get(reverse("webhooks:detail", args=[endpoint.merchant_id, endpoint.pk])).content.decode()
    assert endpoint.secret not in detail
    assert f'data-delivery="{delivered.pk}"' in detail
    secret = endpoint.secret
    for method, url in urls(endpoint, delivered):
        if method == "post":
            client.post(url, {"url": "https://x.example.test/", "events": ["case.closed"], "active": "on"})
    assert WebhookEndpoint.objects.count() == 1
    endpoint.refresh_from_db()
    assert endpoint.secret == secret and endpoint.events != ["case.closed"]


def test_owner_registers_an_https_endpoint_and_sees_its_secret(client, owner, merchant):
    client.force_login(owner)
    response = client.post(
        reverse("webhooks:list", args=[merchant.pk]),
        {"url": "https://erp.example.test/odr", "events": ["complaint.filed", "case.closed"]},
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("webhooks:detail", args=[merchant.pk, endpoint.pk])
    assert endpoint.events == ["complaint.filed", "case.closed"] and endpoint.secret.startswith("whsec_")
    detail = client.get(response["Location"]).content.decode()
    assert endpoint.secret in detail
    assert AuditEvent.objects.filter(
        stream=f"merchant-{merchant.pk}", kind="webhook.endpoint_created"
    ).exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://erp.example.test/odr",  # plain http to another machine: never
        "ftp://erp.example.test/odr",
        "https://",
    ],
)
def test_only_https_addresses_are_accepted(client, owner, merchant, url):
    client.force_login(owner)
    client.post(reverse("webhooks:list", args=[merchant.pk]), {"url": url, "events": ["complaint.filed"]})
    assert not WebhookEndpoint.objects.exists()


def test_http_localhost_needs_debug_or_the_test_setting(client, owner, merchant, settings):
    settings.ODR_WEBHOOKS_ALLOW_HTTP_LOCALHOST = False
    client.force_login(owner)
    data = {"url": "http://127.0.0.1:9/hooks", "events": ["complaint.filed"]}
    client.post(reverse("webhooks:list", args=[merchant.pk]), data)
    assert not WebhookEndpoint.objects.exists()
    page = client.get(reverse("webhooks:list", args=[merchant.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert "http://localhost" not in page.content.decode()
    settings.ODR_WEBHOOKS_ALLOW_HTTP_LOCALHOST = True
    page = client.get(reverse("webhooks:list", args=[merchant.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert (
        "http://localhost and http://127.0.0.1 are accepted too" in page.content.decode()
    )  # said on the form
    client.post(reverse("webhooks:list", args=[merchant.pk]), data)
    assert WebhookEndpoint.objects.count() == 1


def test_an_endpoint_needs_an_event_from_the_catalogue(client, owner, merchant):
    client.force_login(owner)
    for events in ([], ["complaint.eaten"]):
        client.post(
            reverse("webhooks:list", args=[merchant.pk]), {"url": "https://a.test/", "events": events}
        )
    assert not WebhookEndpoint.objects.exists()


def test_owner_edits_rotates_and_deletes(client, owner, endpoint, delivered):
    client.force_login(owner)
    m, e = endpoint.merchant_id, endpoint.pk
    client.post(
        reverse("webhooks:detail", args=[m, e]),
        {"url": "https://erp.example.test/v2", "events": ["case.closed"], "description": "ERP"},
    )
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.active) == (
        "https://erp.example.test/v2",
        ["case.closed"],
        False,
    )
    old = endpoint.secret
    client.post(reverse("webhooks:rotate", args=[m, e]))
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    earlier = OutboxMessage.objects.create(  # a dead letter of this endpoint from before
        channel=Channel.WEBHOOK,
        template=delivered.template,
        idempotency_key="earlier-dead",
        to_address=delivered.to_address,
        context=delivered.context,
        created_at=delivered.created_at,
        status=OutboxStatus.DEAD,
    )
    response = client.post(reverse("webhooks:delete", args=[m, e]))
    assert response["Location"] == reverse("webhooks:list", args=[m])
    earlier.refresh_from_db()
    assert earlier.dead_acknowledged_at is not None and earlier.dead_acknowledged_by == owner
    assert not WebhookEndpoint.objects.exists()
    delivered.refresh_from_db()
    assert delivered.status == OutboxStatus.DEAD and "deleted" in delivered.last_error
    # The merchant chose this: nobody has to act on these dead letters (metrics, readiness).
    assert delivered.dead_acknowledged_at is not None and delivered.dead_acknowledged_by == owner
    assert outbox_status(clock.now()).channel(Channel.WEBHOOK).dead == 0
    kinds = set(AuditEvent.objects.filter(stream=f"merchant-{m}").values_list("kind", flat=True))
    assert {"webhook.endpoint_updated", "webhook.secret_rotated", "webhook.endpoint_deleted"} <= kinds
    deleted = AuditEvent.objects.get(stream=f"merchant-{m}", kind="webhook.endpoint_deleted")
    assert deleted.payload["deliveries_acknowledged"] == 2  # the one made dead, the earlier one


def test_the_log_shows_failures_and_resend_redelivers(client, owner, endpoint, delivered, receiver, settings):
    settings.ODR_OUTBOX_MAX_ATTEMPTS = 1
    receiver.status = 503
    assert outbox_deliver(delivered.pk).status == "dead"
    client.force_login(owner)
    detail_url = reverse("webhooks:detail", args=[endpoint.merchant_id, endpoint.pk])
    page = client.get(detail_url).content.decode()
    resend_url = reverse("webhooks:resend", args=[endpoint.merchant_id, endpoint.pk, delivered.pk])
    assert "complaint.filed" in page and "HTTP 503" in page and resend_url in page

    receiver.status = 200
    response = client.post(resend_url)
    assert response.status_code == 302 and response["Location"] == detail_url
    delivered.refresh_from_db()
    assert delivered.status == OutboxStatus.PENDING and delivered.attempts == 0
    assert outbox_deliver(delivered.pk).status == "sent"  # what the worker does after commit
    assert [r.headers["Webhook-Id"] for r in receiver.requests] == [delivered.idempotency_key] * 2
    assert receiver.requests[0].body == receiver.requests[1].body
    page = client.get(detail_url).content.decode()
    assert resend_url not in page  # a delivered row has nothing to resend


def test_a_delivery_of_another_endpoint_cannot_be_resent_through_this_one(
    client, owner, endpoint, delivered, merchant
):
    from odr.webhooks.services import webhook_endpoint_create

    second = webhook_endpoint_create(
        merchant=merchant, by=owner, url="https://b.test/", events=["case.closed"]
    )
    client.force_login(owner)
    url = reverse("webhooks:resend", args=[merchant.pk, second.pk, delivered.pk])
    assert client.post(url).status_code == 404
