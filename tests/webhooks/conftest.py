"""A real HTTP receiver on 127.0.0.1 (http.server in a thread), and endpoints that point at it."""

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from odr.webhooks.services import webhook_endpoint_create


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """Records every POST; answers `status` (change it in a test to play a failing receiver)."""

    status: int = 204
    requests: list = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/odr"


def run_receiver(tls_context=None):
    """Serve a Receiver on 127.0.0.1 (over TLS with `tls_context`) until the generator is closed."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls_context is not None:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    state.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def receiver():
    yield from run_receiver()


@pytest.fixture(autouse=True)
def _http_localhost_allowed(settings):
    settings.ODR_WEBHOOKS_ALLOW_HTTP_LOCALHOST = True
    settings.ODR_WEBHOOK_TIMEOUT_SECONDS = 2


ALL_EVENTS = [
    "complaint.filed",
    "complaint.answered",
    "complaint.message",
    "complaint.deadline_soon",
    "complaint.closed",
    "complaint.referred",
    "mediation.received",
    "mediation.opened",
    "proposal.issued",
    "case.closed",
]


@pytest.fixture
def endpoint(merchant, owner, receiver):
    return webhook_endpoint_create(merchant=merchant, by=owner, url=receiver.url, events=ALL_EVENTS)
