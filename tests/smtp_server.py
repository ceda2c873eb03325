"""A real SMTP server for tests (aiosmtpd, in a thread, on 127.0.0.1 and a spare port).

A message counts as delivered only once the server has answered 250 to its DATA, as for any mail
server: `messages` holds exactly those. A test can make the server hold the next message before that
answer (`hold_next`), to catch a sender in the middle of a delivery; a message whose client goes away
while it is held is never delivered (it lands in `dropped`, for the test to see what happened).

Usage: `with SmtpServer() as smtp: ... EMAIL_URL=smtp.url ... smtp.keys()`.
"""

import asyncio
import email
import email.policy
import logging
import threading
import time
from collections import Counter

from aiosmtpd.controller import Controller

from tests.processes import free_port

# aiosmtpd logs every SMTP command at INFO: keep failures' output readable.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_DATA(self, smtp, session, envelope):
        message = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        if self.server._take_hold():
            self.server.held.append(message)
            self.server.holding.set()
            try:
                # aiosmtpd cancels this coroutine when the client's connection is lost.
                while not self.server._release.is_set():
                    await asyncio.sleep(0.02)
            except asyncio.CancelledError:
                with self.server._lock:
                    self.server.dropped.append(message)
                raise
        with self.server._lock:
            self.server.messages.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, header: str = "X-ODR-Message"):
        self.port = free_port()
        self.header = header
        self.messages: list[email.message.EmailMessage] = []  # answered 250
        self.dropped: list[email.message.EmailMessage] = []  # client gone while held: not delivered
        self.held: list[email.message.EmailMessage] = []
        self.holding = threading.Event()  # set while a message is being held
        self._release = threading.Event()
        self._holds_left = 0
        self._let_through = 0
        self._lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        """For django-environ's EMAIL_URL: plain SMTP, no authentication."""
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "SmtpServer":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._controller.stop()

    def __enter__(self) -> "SmtpServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def hold_next(self, *, after: int = 0) -> None:
        """Deliver `after` more messages, then hold the next one's DATA (no answer) until `release()`
        or the client disconnects."""
        with self._lock:
            self._holds_left = 1
            self._let_through = after
            self._release.clear()
            self.holding.clear()

    def release(self) -> None:
        self._release.set()

    def _take_hold(self) -> bool:
        with self._lock:
            if self._holds_left and self._let_through:
                self._let_through -= 1
            elif self._holds_left:
                self._holds_left -= 1
                return True
            return False

    def keys(self) -> Counter:
        """How many times each value of `header` was delivered."""
        with self._lock:
            return Counter(m[self.header] for m in self.messages)

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until at least `count` messages were delivered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return True
            time.sleep(0.05)
        return False
