"""A worker SIGKILLed while the SMTP server has not yet answered one e-mail's DATA, then restarted:
every e-mail arrives exactly once, every row ends `sent`, none dead.

Why it holds: the relay sends a row inside the transaction that locks it and marks it sent
(odr/notifications/relay.py). The killed worker's connection drops, PostgreSQL rolls that transaction
back, so the row is pending again with its attempt uncounted; the message the server never accepted
is not delivered; the task Redis still holds unacknowledged is not needed: the periodic relay that
beat sends at start-up picks the row up.
"""

import pytest
from django.db import OperationalError, transaction

from odr.notifications.models import OutboxMessage, OutboxStatus
from tests.factories import UserFactory
from tests.helpers import file_complaint
from tests.processes import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def lock_free(pk: int) -> bool:
    """Whether the row lock the killed worker held is gone (its transaction ended, not just hidden)."""
    try:
        with transaction.atomic():
            OutboxMessage.objects.select_for_update(nowait=True).get(pk=pk)
    except OperationalError:  # "could not obtain lock": the dead worker's backend still holds it
        return False
    return True


def test_worker_killed_mid_delivery_sends_every_email_once(celery, smtp, merchant):
    complaints = [file_complaint(UserFactory(), merchant) for _ in range(3)]  # tasks wait in Redis
    rows = OutboxMessage.objects.filter(case_reference__in=[c.reference for c in complaints])
    keys = set(rows.values_list("idempotency_key", flat=True))
    assert len(keys) >= 6 and set(rows.values_list("status", flat=True)) == {OutboxStatus.PENDING}

    smtp.hold_next(after=2)  # two go through, the third hangs before the server's "250"
    celery.worker("w1")
    assert smtp.holding.wait(timeout=30), celery.log("w1")
    held_key = smtp.held[0]["X-ODR-Message"]
    celery.kill("w1")

    # The server never accepted the held message; its row is pending again, attempt not counted.
    wait_until(lambda: len(smtp.dropped) == 1, timeout=10, what="the SMTP server to see the client go")
    held_row = rows.get(idempotency_key=held_key)
    wait_until(
        lambda: lock_free(held_row.pk), timeout=10, what="PostgreSQL to roll the worker's transaction back"
    )
    held_row.refresh_from_db()
    assert held_row.status == OutboxStatus.PENDING and held_row.attempts == 0
    delivered_before = smtp.keys()
    assert sum(delivered_before.values()) == 2 and held_key not in delivered_before
    assert rows.filter(status=OutboxStatus.SENT).count() == 2

    celery.worker("w2")
    celery.beat("beat")  # its periodic relay (every 2 s here) picks up the held row
    wait_until(lambda: not rows.exclude(status=OutboxStatus.SENT).exists(), timeout=60, what="every row sent")
    smtp.wait_for(len(keys), timeout=10)
    delivered = smtp.keys()
    assert set(delivered) == keys
    assert all(count == 1 for count in delivered.values()), delivered
    assert not rows.filter(status=OutboxStatus.DEAD).exists()
