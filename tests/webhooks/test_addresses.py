"""Webhooks go to public addresses only (odr/webhooks/addresses.py): a merchant must not be able to
make the platform call its own private network and read the answers in the delivery log (SSRF).
The DNS is the one thing faked here (`addresses.resolve`): the receiver and the connections are real."""

import socket
import ssl
from datetime import timedelta

import pytest
import trustme
from django.core.exceptions import ValidationError
from django.urls import reverse

from odr import clock
from odr.notifications.models import Channel, OutboxMessage
from odr.notifications.relay import outbox_deliver
from odr.webhooks import addresses
from odr.webhooks.addresses import AddressNotAllowed, connect_vetted
from odr.webhooks.models import WebhookEndpoint, validate_webhook_url
from odr.webhooks.services import webhook_endpoint_update
from tests.helpers import file_complaint, travel

from .conftest import run_receiver

REFUSED_AS_WRITTEN = [
    "https://10.0.0.5/hooks",
    "https://192.168.1.20/hooks",
    "https://172.16.0.1/hooks",
    "https://169.254.169.254/latest/meta-data/",  # a cloud metadata service
    "https://100.64.0.1/hooks",  # carrier-grade NAT
    "https://0.0.0.0/hooks",
    "https://[fd00::1]/hooks",
    "https://[fe80::1]/hooks",
    "https://[::ffff:10.0.0.5]/hooks",
    "https://224.0.0.1/hooks",
    "https://localhost/hooks",
    "https://api.localhost/hooks",
]


@pytest.fixture
def fake_dns(monkeypatch):
    """Names of our choosing resolve to addresses of our choosing, and each lookup is counted."""
    table: dict[str, list[str]] = {}
    lookups: list[str] = []

    def resolve(host, port):
        lookups.append(host)
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in table[host]
        ]

    monkeypatch.setattr(addresses, "resolve", resolve)
    return table, lookups


@pytest.mark.parametrize("url", REFUSED_AS_WRITTEN)
def test_private_loopback_and_reserved_hosts_are_refused_at_registration(url, settings):
    settings.DEBUG = False
    settings.ODR_WEBHOOKS_ALLOW_HTTP_LOCALHOST = False
    with pytest.raises(ValidationError) as refused:
        validate_webhook_url(url)
    assert refused.value.code == "private_address"


@pytest.mark.parametrize(
    "url", ["https://hooks.shop.example/odr", "https://93.184.215.14/odr", "https://[2606:4700::1]/"]
)
def test_public_addresses_and_names_are_accepted_at_registration(url):
    validate_webhook_url(url)  # names are not resolved here: their DNS may come later


def test_an_installation_on_its_own_network_may_allow_private_addresses(settings):
    settings.ODR_WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    validate_webhook_url("https://10.0.0.5/hooks")


@pytest.mark.django_db
def test_the_portal_says_why_a_private_address_is_refused(client, owner, merchant):
    client.force_login(owner)
    response = client.post(
        reverse("webhooks:list", args=[merchant.pk]),
        {"url": "https://192.168.1.20/hooks", "events": ["complaint.filed"]},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "private or reserved network" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.fixture
def filed(endpoint, consumer, merchant):
    file_complaint(consumer, merchant)
    return OutboxMessage.objects.get(channel=Channel.WEBHOOK, template="complaint.filed")


@pytest.mark.django_db
@pytest.mark.parametrize("answers", [["127.0.0.1"], ["93.184.215.14", "10.1.2.3"], ["::1"]])
def test_a_name_that_resolves_to_a_private_address_is_not_called(
    filed, endpoint, owner, receiver, fake_dns, answers
):
    """DNS rebinding: the name passed at registration; at delivery it points inside (or half inside)."""
    table, _lookups = fake_dns
    table["hooks.shop.example"] = answers
    port = receiver.server.server_address[1]
    webhook_endpoint_update(endpoint=endpoint, by=owner, url=f"https://hooks.shop.example:{port}/hooks/odr")
    assert outbox_deliver(filed.pk).status == "retry"
    filed.refresh_from_db()
    assert "only sent to public addresses" in filed.last_error
    assert receiver.requests == []


@pytest.mark.django_db
def test_the_connection_goes_to_the_address_that_was_checked(receiver, fake_dns, settings):
    """One lookup, then a connection to that very address: no second resolution to race."""
    table, lookups = fake_dns
    host, port = receiver.server.server_address
    table["hooks.shop.example"] = [host]
    with pytest.raises(AddressNotAllowed):
        connect_vetted("hooks.shop.example", port, 2)
    settings.ODR_WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    lookups.clear()
    with connect_vetted("hooks.shop.example", port, 2) as sock:
        assert sock.getpeername()[:2] == (host, port)
    assert lookups == ["hooks.shop.example"]


@pytest.mark.django_db
def test_localhost_receivers_still_work_in_development(filed, receiver):
    """The tests' and the demo's receivers: http://127.0.0.1 with the development allowance."""
    assert outbox_deliver(filed.pk).status == "sent"
    assert len(receiver.requests) == 1


@pytest.fixture
def certificate_authority(monkeypatch):
    """A test CA (trustme) that the platform's HTTPS connections trust, as they trust the public CAs."""
    authority = trustme.CA()

    def trusting_context():
        context = ssl.create_default_context()
        authority.configure_trust(context)
        return context

    monkeypatch.setattr(ssl, "_create_default_https_context", trusting_context)
    return authority


@pytest.fixture
def tls_receiver(certificate_authority):
    """A real HTTPS receiver on 127.0.0.1 whose certificate names hooks.shop.example."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate_authority.issue_cert("hooks.shop.example").configure_cert(context)
    yield from run_receiver(context)


@pytest.mark.django_db
def test_https_goes_over_the_checked_socket_and_checks_the_certificate_against_the_name(
    filed, endpoint, owner, tls_receiver, fake_dns, settings
):
    """An installation allowing its private network: the POST is made over TLS to the address that
    was checked, and the certificate is still verified against the endpoint's host name."""
    settings.ODR_WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    table, _lookups = fake_dns
    host, port = tls_receiver.server.server_address[:2]
    table["hooks.shop.example"] = [host]
    table["other.shop.example"] = [host]
    webhook_endpoint_update(endpoint=endpoint, by=owner, url=f"https://other.shop.example:{port}/hooks/odr")
    assert outbox_deliver(filed.pk).status == "retry"  # the certificate names another host
    filed.refresh_from_db()
    assert "certificate" in filed.last_error.lower() and tls_receiver.requests == []

    webhook_endpoint_update(endpoint=endpoint, by=owner, url=f"https://hooks.shop.example:{port}/hooks/odr")
    with travel(clock.now() + timedelta(minutes=1)):  # the retry is due
        assert outbox_deliver(filed.pk).status == "sent"
    [request] = tls_receiver.requests
    assert request.path == "/hooks/odr" and request.headers["Host"] == f"hooks.shop.example:{port}"
