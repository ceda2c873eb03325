"""Two beats running by mistake (each with its own schedule file) and two workers: every due
deadline's effect and every due reminder fires once, counted in the trail and at the SMTP server.

Each beat sends the sweep every 2 s here, so sweeps overlap on the two workers for the whole test;
batches of 2 make them interleave inside a run. What keeps it right is in odr/deadlines/sweep.py: rows
claimed with SKIP LOCKED, re-read still due, and each effect recorded under a unique constraint in
the transaction that performs it.
"""

from collections import Counter
from datetime import timedelta

import pytest

from odr import clock
from odr.audit.models import AuditEvent
from odr.deadlines.models import Deadline, DeadlineEffect, DeadlineKind
from odr.notifications.models import OutboxMessage, OutboxStatus
from tests.factories import UserFactory
from tests.helpers import file_complaint, travel
from tests.processes import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DUE, REMINDED = 6, 6


@pytest.fixture
def celery_env():
    return {"ODR_SWEEP_BATCH_SIZE": "2"}


def sweeps_done(celery, worker: str) -> int:
    lines = celery.log(worker).splitlines()
    return sum(1 for line in lines if "odr.deadlines.sweep[" in line and "succeeded" in line)


def test_two_beats_fire_each_deadline_and_reminder_once(celery, smtp, merchant, agent):
    now = clock.now()
    with travel(now - timedelta(days=31)):  # the merchant's 30 days are over: due
        lapsing = [file_complaint(UserFactory(), merchant) for _ in range(DUE)]
    with travel(now - timedelta(days=25)):  # five days left: the 7-day reminder is due
        reminded = [file_complaint(UserFactory(), merchant) for _ in range(REMINDED)]
    references = [c.reference for c in lapsing + reminded]
    assert (
        Deadline.objects.filter(
            case_reference__in=[c.reference for c in lapsing],
            kind=DeadlineKind.MERCHANT_RESPONSE,
            due_at__lt=now,
        ).count()
        == DUE
    )

    celery.worker("w1", queues="default,notifications")
    celery.worker("w2", queues="default,notifications")
    celery.beat("beat-a")
    celery.beat("beat-b")
    effects = DeadlineEffect.objects.filter(deadline__case_reference__in=references)
    wait_until(lambda: effects.count() >= DUE + REMINDED, timeout=60, what="the effects")
    # Let both beats go on sending sweeps that both workers run, after the work was done.
    done = sweeps_done(celery, "w1") + sweeps_done(celery, "w2")
    wait_until(
        lambda: sweeps_done(celery, "w1") + sweeps_done(celery, "w2") >= done + 4,
        timeout=30,
        what="more overlapping sweeps",
    )
    assert sweeps_done(celery, "w1") and sweeps_done(celery, "w2")  # both workers swept
    rows = OutboxMessage.objects.filter(case_reference__in=references)
    wait_until(lambda: not rows.exclude(status=OutboxStatus.SENT).exists(), timeout=60, what="every e-mail")

    assert effects.filter(effect="due").count() == DUE
    assert effects.filter(effect__startswith="remind:7:").count() == REMINDED
    trail = AuditEvent.objects.filter(stream__in=references)
    lapsed = Counter(trail.filter(kind="complaint.response_period_lapsed").values_list("stream", flat=True))
    assert lapsed == {c.reference: 1 for c in lapsing}
    reminders = Counter(trail.filter(kind="complaint.merchant_reminded").values_list("stream", flat=True))
    assert reminders == {c.reference: 1 for c in reminded}

    # At the SMTP server: each e-mail once, one D4 notice per lapsed complaint, one reminder per reminded one.
    keys = set(rows.values_list("idempotency_key", flat=True))
    assert smtp.wait_for(len(keys), timeout=10)
    delivered = smtp.keys()
    assert set(delivered) == keys and all(n == 1 for n in delivered.values()), delivered
    template_of = dict(rows.values_list("idempotency_key", "template"))
    by_template = Counter((template_of[m["X-ODR-Message"]], m["X-ODR-Case"]) for m in smtp.messages)
    assert {ref: n for (t, ref), n in by_template.items() if t == "complaint_lapsed_d4"} == {
        c.reference: 1 for c in lapsing
    }
    assert {ref: n for (t, ref), n in by_template.items() if t == "complaint_response_reminder"} == {
        c.reference: 1 for c in reminded
    }
