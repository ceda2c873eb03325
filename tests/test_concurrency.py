"""Two people acting on the same case at the same instant: exactly one succeeds (PostgreSQL)."""

import threading
import time

import pytest
from django.db import connection, transaction

from complaints.models import Complaint, ComplaintState
from complaints.services import complaint_answer
from mediation.models import MediationCase
from mediation.services import case_refer
from odr.audit.models import AuditEvent
from odr.audit.services import audit_verify
from odr.errors import TransitionRefused
from tests.helpers import file_complaint, rejected_complaint

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(row, *attempts):
    """Run `attempts` in threads that all start while `row` is locked, then release the lock.

    Holding the lock first makes the threads really overlap: each one is already inside its service,
    waiting on the row, when the lock is released. Returns each attempt's result or exception.
    """
    results = [None] * len(attempts)
    started = threading.Barrier(len(attempts) + 1)

    def run(index, attempt):
        try:
            started.wait()
            results[index] = attempt()
        except Exception as exc:  # the test inspects what each attempt raised
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(attempts)]
    with transaction.atomic():
        type(row).objects.select_for_update().get(pk=row.pk)
        for thread in threads:
            thread.start()
        started.wait()
        time.sleep(0.5)  # let every attempt reach the lock and wait on it
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_agents_answering_at_once_exactly_one_succeeds(consumer, merchant, agent, owner):
    complaint = file_complaint(consumer, merchant)
    results = race(
        complaint,
        lambda: complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non."),
        lambda: complaint_answer(complaint=complaint, by=owner, decision="accept", text="Oui."),
    )
    successes = [r for r in results if isinstance(r, Complaint)]
    refusals = [r for r in results if isinstance(r, TransitionRefused)]
    assert (len(successes), len(refusals)) == (1, 1), results
    complaint.refresh_from_db()
    assert complaint.state == ComplaintState.ANSWERED
    assert complaint.answer_decision == successes[0].answer_decision
    assert AuditEvent.objects.filter(kind="complaint.answered").count() == 1
    assert audit_verify().ok


def test_double_click_on_refer_opens_exactly_one_case(consumer, merchant, agent):
    complaint = rejected_complaint(consumer, merchant, agent)

    def refer():
        return case_refer(complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)

    results = race(complaint, refer, refer)
    assert sum(isinstance(r, MediationCase) for r in results) == 1, results
    assert sum(isinstance(r, TransitionRefused) for r in results) == 1, results
    assert MediationCase.objects.count() == 1
    assert audit_verify().ok


def test_complaints_filed_at_once_get_distinct_consecutive_references(consumer, merchant, other_consumer):
    # Create this year's counter first, then race on it.
    first = file_complaint(consumer, merchant)
    from odr.references.models import ReferenceSequence

    counter = ReferenceSequence.objects.get()
    results = race(
        counter,
        *[lambda user=user: file_complaint(user, merchant) for user in (consumer, other_consumer) * 3],
    )
    references = sorted(r.reference for r in results)
    year = first.reference.split("-")[1]
    assert references == [f"C-{year}-{n:06d}" for n in range(2, 8)], results


def test_two_sweeps_at_the_same_moment_fire_each_deadline_once(consumer, other_consumer, merchant, agent):
    from datetime import timedelta

    from odr import clock
    from odr.deadlines.models import DeadlineEffect
    from odr.deadlines.sweep import sweep_deadlines
    from odr.notifications.models import OutboxMessage

    with clock.at(clock.now() - timedelta(days=40)):
        complaints = [file_complaint(user, merchant) for user in (consumer, other_consumer) * 5]
    results = [None, None]
    started = threading.Barrier(2)

    def run(index):
        try:
            started.wait()
            results[index] = sweep_deadlines(batch_size=3)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    fired = sorted(results[0].due + results[1].due)
    assert fired == sorted(f"{c.reference} merchant_response" for c in complaints)
    assert results[0].failed == results[1].failed == []
    assert DeadlineEffect.objects.filter(effect="due").count() == 10
    assert OutboxMessage.objects.filter(template="complaint_lapsed_d4").count() == 10
    assert AuditEvent.objects.filter(kind="complaint.response_period_lapsed").count() == 10
    assert audit_verify().ok


def test_two_sweeps_at_the_same_moment_send_each_reminder_once(consumer, other_consumer, merchant, agent):
    from datetime import timedelta

    from odr import clock
    from odr.deadlines.models import Deadline, DeadlineEffect
    from odr.deadlines.sweep import sweep_deadlines
    from odr.notifications.models import OutboxMessage

    with clock.at(clock.now() - timedelta(days=25)):  # 5 days left to answer: the 7-day reminder is due
        complaints = [file_complaint(user, merchant) for user in (consumer, other_consumer) * 5]
    results = [None, None]
    started = threading.Barrier(2)

    def run(index):
        try:
            started.wait()
            results[index] = sweep_deadlines(batch_size=3)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    sent = sorted(results[0].reminders + results[1].reminders)
    assert sent == sorted(f"{c.reference} merchant_response (7 d)" for c in complaints)
    assert results[0].failed == results[1].failed == []
    assert DeadlineEffect.objects.filter(effect__startswith="remind:7:").count() == 10
    assert OutboxMessage.objects.filter(template="complaint_response_reminder").count() == 10
    # Each deadline's schedule moved on to its 2-day reminder, in the future.
    assert not Deadline.objects.filter(kind="merchant_response", next_reminder_at__lte=clock.now()).exists()
    assert audit_verify().ok


def test_sweep_racing_merchant_answers_neither_deadlocks_nor_loses_an_answer(consumer, merchant, agent):
    """The sweep must not hold deadline locks while a handler waits for a case that a service holds
    (which then updates those deadlines): that order deadlocks, and PostgreSQL aborts one side."""
    from datetime import timedelta

    from odr import clock
    from odr.deadlines.sweep import sweep_deadlines

    with clock.at(clock.now() - timedelta(days=31)):
        complaints = [file_complaint(consumer, merchant) for _ in range(12)]
    errors, started = [], threading.Barrier(2)

    def answer_all():
        try:
            started.wait()
            for complaint in complaints:  # a lapsed complaint can still be answered (state stays filed)
                complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non.")
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def sweep():
        try:
            started.wait()
            report = sweep_deadlines(batch_size=4)
            errors.extend(report.failed)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=answer_all), threading.Thread(target=sweep)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert set(Complaint.objects.values_list("state", flat=True)) == {ComplaintState.ANSWERED}
    assert audit_verify().ok
