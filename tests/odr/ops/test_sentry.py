"""Error reporting (issue 15): with SENTRY_DSN set, an exception in a view reaches the Sentry server
(here a local HTTP server of the test's own, on 127.0.0.1) and the envelope holds no e-mail address,
name, cookie, query string or form field of the consumer."""

import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk
from django.test import Client

from odr.ops.sentry import init_sentry


class _Collector(BaseHTTPRequestHandler):
    received: list[bytes]

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        self.server.received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    init_sentry(
        dsn=f"http://publickey@127.0.0.1:{server.server_port}/1",
        release="odr@test",
        environment="test",
        traces_sample_rate=0.0,
    )
    yield server
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.init()  # no DSN: nothing is sent by the tests that follow
    server.shutdown()
    server.server_close()


def events(server) -> list[dict]:
    found = []
    for envelope in server.received:
        lines = envelope.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


@pytest.mark.urls("tests.odr.ops.sentry_urls")
def test_a_view_error_reaches_sentry_without_personal_data(sentry_server, consumer):
    client = Client(raise_request_exception=False)
    client.force_login(consumer)
    session_cookie = client.cookies["sessionid"].value
    client.cookies["odr_pref"] = consumer.email
    response = client.post(
        f"/complaints/C-2026-000777/broken/?email={consumer.email}&q={consumer.last_name}",
        {
            "email": consumer.email,
            "name": f"{consumer.first_name} {consumer.last_name}",
            "note": "secret-note",
        },
        HTTP_X_REQUEST_ID="req-sentry-0001",
    )
    assert response.status_code == 500
    assert sentry_sdk.flush(timeout=5) is not False

    found = events(sentry_server)
    assert len(found) == 1
    event = found[0]
    exception = event["exception"]["values"][-1]
    assert exception["type"] == "RuntimeError"
    assert event["release"] == "odr@test" and event["environment"] == "test"
    assert event["tags"]["request_id"] == "req-sentry-0001"
    assert event["tags"]["case_reference"] == "C-2026-000777"
    assert event.get("user", {}) in ({}, {"id": str(consumer.pk)}, {"id": consumer.pk})
    text = b"\n".join(sentry_server.received).decode()
    for personal in (consumer.email, consumer.first_name, consumer.last_name, session_cookie, "secret-note"):
        assert personal not in text, personal
    assert "query_string" not in event.get("request", {})
    assert "data" not in event.get("request", {})
