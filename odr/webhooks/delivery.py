"""Delivering one webhook outbox row: a signed JSON POST to the endpoint, 2xx or it failed.

The relay (`odr.notifications.relay.outbox_deliver`) calls `webhook_send` under the row's lock and
does the rest: an exception counts an attempt and backs off, the last attempt makes a dead letter.
The endpoint is read at delivery time, so a corrected address or a rotated secret applies to the
retries and resends of older events too. Redirects are not followed (a 3xx is a failure). The
connection goes only to a public address (`addresses.connect_vetted`), never through a proxy of the
environment (the check would then be on the proxy).
"""

import http.client
import json
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.exceptions import ValidationError

from odr.notifications.models import OutboxMessage

from .addresses import AddressNotAllowed, connect_vetted
from .models import WebhookEndpoint, validate_webhook_url
from .signing import sign_headers

USER_AGENT = "ODR-Webhooks/1"


class WebhookDeliveryError(Exception):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


class _VettedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = self._connect

    def _connect(self, address, timeout, source_address=None):
        host, port = address
        return connect_vetted(host, port, timeout, source_address)


class _VettedHTTPSConnection(_VettedHTTPConnection, http.client.HTTPSConnection):
    """TLS over the vetted socket: the certificate is still checked against the host's name."""


class _VettedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_VettedHTTPConnection, req)


class _VettedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_VettedHTTPSConnection, req, context=self._context)


_opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), _NoRedirect, _VettedHTTPHandler, _VettedHTTPSHandler
)


def webhook_body(message: OutboxMessage) -> bytes:
    """The exact bytes sent: the payload stored with the row, as compact JSON with sorted keys."""
    payload = message.context["payload"]
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def timeout_seconds() -> float:
    return float(getattr(settings, "ODR_WEBHOOK_TIMEOUT_SECONDS", 5))


def webhook_send(message: OutboxMessage) -> None:
    endpoint = WebhookEndpoint.objects.filter(pk=message.context.get("endpoint_id")).first()
    if endpoint is None:
        raise WebhookDeliveryError("the endpoint has been deleted")
    if not endpoint.active:
        raise WebhookDeliveryError("the endpoint is disabled")
    try:
        validate_webhook_url(endpoint.url)
    except ValidationError:
        raise WebhookDeliveryError("the endpoint's address is not allowed (https only)") from None
    body = webhook_body(message)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **sign_headers(
            secret=endpoint.secret, message_id=message.idempotency_key, body=body, timestamp=int(time.time())
        ),
    }
    request = urllib.request.Request(endpoint.url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout_seconds()) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        detail = error.read(300).decode("utf-8", "replace").strip()
        error.close()
        raise WebhookDeliveryError(f"HTTP {error.code}" + (f": {detail}" if detail else "")) from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, AddressNotAllowed):
            raise WebhookDeliveryError(str(error.reason)) from None
        raise
    if not 200 <= status < 300:
        raise WebhookDeliveryError(f"HTTP {status}")
