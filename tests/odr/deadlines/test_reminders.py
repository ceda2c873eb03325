"""Reminders are due instants of their own: a sweep reads what is due, never every pending deadline.

The regression these tests pin: the sweep used to re-read every pending deadline inside the reminder
horizon on every run (and try to insert its reminder effect again), so its cost grew with what was
pending. Now a sweep with nothing due costs the same few queries whatever is pending.
"""

import json
import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from odr.deadlines.models import Deadline, DeadlineEffect, DeadlineKind, DeadlineStatus
from odr.deadlines.reminders import next_reminder_from_effects, reminder_instant
from odr.deadlines.services import deadline_close, deadline_move, deadline_reminders_reschedule
from odr.deadlines.sweep import sweep_deadlines
from odr.deadlines.tasks import sweep as sweep_task
from tests.helpers import file_complaint, open_case, outbox, travel

PARIS = ZoneInfo("Europe/Paris")
FILED = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)  # merchant's answer due 1 April 23:59:59
DUE = datetime(2026, 4, 1, 23, 59, 59, tzinfo=PARIS)
SEVEN_DAYS_BEFORE = datetime(2026, 3, 25, 0, 0, tzinfo=PARIS)  # the 7-day reminder is due from then
TWO_DAYS_BEFORE = datetime(2026, 3, 30, 0, 0, tzinfo=PARIS)


@pytest.fixture
def complaint(consumer, merchant, agent):
    with travel(FILED):
        return file_complaint(consumer, merchant)


def sweep_at(moment, **kwargs):
    with travel(moment):
        return sweep_deadlines(**kwargs)


def response_deadline(complaint):
    return Deadline.objects.get(object_id=complaint.pk, kind=DeadlineKind.MERCHANT_RESPONSE)


def test_opening_a_duty_schedules_its_farthest_reminder(complaint):
    assert response_deadline(complaint).next_reminder_at == SEVEN_DAYS_BEFORE
    # A window without reminders (D8) has none.
    assert Deadline.objects.get(kind=DeadlineKind.REFERRAL_WINDOW).next_reminder_at is None


def test_d3_a_reminder_fires_once_and_the_schedule_moves_on(complaint, agent):
    assert sweep_at(SEVEN_DAYS_BEFORE - timedelta(seconds=1)).reminders == []
    assert len(sweep_at(SEVEN_DAYS_BEFORE).reminders) == 1
    assert response_deadline(complaint).next_reminder_at == TWO_DAYS_BEFORE
    # Later the same day and the days after: already sent, never read again.
    for moment in (SEVEN_DAYS_BEFORE + timedelta(hours=9), datetime(2026, 3, 28, tzinfo=PARIS)):
        report = sweep_at(moment)
        assert (report.reminders, report.skipped, report.lag_seconds) == ([], 0, None)
    assert outbox("complaint_response_reminder", to_user=agent).count() == 1
    assert list(DeadlineEffect.objects.values_list("effect", flat=True)) == ["remind:7:20260401"]


def test_closing_a_deadline_clears_its_reminders(complaint, agent):
    from complaints.services import complaint_answer

    with travel(datetime(2026, 3, 10, tzinfo=PARIS)):
        complaint_answer(complaint=complaint, by=agent, decision="accept", text="Oui.")
    deadline = response_deadline(complaint)
    assert (deadline.status, deadline.next_reminder_at) == (DeadlineStatus.MET, None)
    assert sweep_at(TWO_DAYS_BEFORE).reminders == []


def test_d17_a_move_to_another_day_restarts_the_reminders_a_move_within_the_day_does_not(
    consumer, merchant, agent, mediator
):
    with travel(datetime(2026, 1, 31, 10, 0, tzinfo=PARIS)):
        case = open_case(consumer, merchant, agent, mediator)  # outcome due 1 May, reminders 14 and 3
    sweep_at(datetime(2026, 4, 28, 8, 0, tzinfo=PARIS))  # 3 days left: the 3-day reminder, 14 skipped
    deadline = Deadline.objects.get(kind=DeadlineKind.OUTCOME)
    assert deadline.next_reminder_at is None  # none left for 1 May
    with travel(datetime(2026, 4, 29, 9, 0, tzinfo=PARIS)):
        deadline_move(subject=case, kind=DeadlineKind.OUTCOME, due_at=deadline.due_at - timedelta(hours=3))
        assert Deadline.objects.get(pk=deadline.pk).next_reminder_at is None  # same day: already reminded
        new_due = datetime.combine(date(2026, 6, 30), datetime.max.time(), tzinfo=PARIS)
        deadline_move(subject=case, kind=DeadlineKind.OUTCOME, due_at=new_due)
    assert Deadline.objects.get(pk=deadline.pk).next_reminder_at == datetime(2026, 6, 16, tzinfo=PARIS)


def test_a_backlog_drains_across_runs_within_the_cap(consumer, merchant):
    """After an outage: each run stops at its cap and says so; the next runs continue; nothing twice."""
    with travel(FILED):
        complaints = [file_complaint(consumer, merchant) for _ in range(5)]
    after_outage = datetime(2026, 4, 3, 9, 0, tzinfo=PARIS)  # all five answers overdue since 1 April
    first = sweep_at(after_outage, max_items=2, batch_size=1)
    second = sweep_at(after_outage + timedelta(minutes=1), max_items=2, batch_size=1)
    third = sweep_at(after_outage + timedelta(minutes=2), max_items=2, batch_size=1)
    assert [len(r.due) for r in (first, second, third)] == [2, 2, 1]
    assert [r.capped for r in (first, second, third)] == [True, True, False]
    # Lag: how late the oldest due item was when the run reached it (about 33 hours here).
    assert first.lag_seconds == pytest.approx(after_outage.timestamp() - DUE.timestamp(), abs=1)
    assert sorted(first.due + second.due + third.due) == sorted(
        f"{c.reference} merchant_response" for c in complaints
    )
    assert outbox("complaint_lapsed_d4").count() == 5
    assert sweep_at(after_outage + timedelta(minutes=3)).due == []


def test_a_reminder_backlog_drains_across_runs_within_the_cap(consumer, merchant, agent):
    with travel(FILED):
        for _ in range(3):
            file_complaint(consumer, merchant)
    reports = [sweep_at(SEVEN_DAYS_BEFORE + timedelta(minutes=m), max_items=2) for m in range(3)]
    assert [len(r.reminders) for r in reports] == [2, 1, 0]
    assert [r.capped for r in reports] == [True, False, False]
    assert outbox("complaint_response_reminder").count() == 3


def _pending_with_reminder_sent(complaint, count):
    """`count` more pending answers due on 1 April, their 7-day reminder already sent (bulk, as data)."""
    template = response_deadline(complaint)
    rows = Deadline.objects.bulk_create(
        Deadline(
            content_type_id=template.content_type_id,
            object_id=10_000 + n,
            case_reference=f"C-2026-9{n:05d}",
            kind=template.kind,
            due_at=template.due_at,
            legal_basis=template.legal_basis,
            opened_at=template.opened_at,
            next_reminder_at=template.next_reminder_at,
        )
        for n in range(count)
    )
    DeadlineEffect.objects.bulk_create(
        DeadlineEffect(deadline=row, effect="remind:7:20260401", fired_at=SEVEN_DAYS_BEFORE) for row in rows
    )


def _queries_of_a_sweep_at(moment) -> int:
    with travel(moment), CaptureQueriesContext(connection) as queries:
        report = sweep_deadlines()
    assert (report.due, report.reminders, report.failed, report.skipped) == ([], [], [], 0)
    return len(queries)


def test_a_sweep_with_nothing_due_costs_the_same_few_queries_whatever_is_pending(complaint):
    """The regression: pending deadlines inside the reminder horizon whose reminders were sent used to
    be re-read (and their reminder re-inserted, refused) on every run."""
    sweep_at(SEVEN_DAYS_BEFORE)  # the 7-day reminder: sent
    quiet = datetime(2026, 3, 27, 12, 0, tzinfo=PARIS)  # 5 days left: inside the horizon, nothing due
    few = _queries_of_a_sweep_at(quiet)
    _pending_with_reminder_sent(complaint, 300)
    many = _queries_of_a_sweep_at(quiet)
    # One claim per pass (each in its own transaction: a savepoint and its release inside the test's).
    assert few == many == 6


def test_the_run_report_is_logged_as_structured_data_and_returned_by_the_task(complaint, caplog):
    with (
        travel(datetime(2026, 3, 31, 9, 0, tzinfo=PARIS)),
        caplog.at_level(logging.INFO, "odr.deadlines.sweep"),
    ):
        result = sweep_task.apply().get()
    expected = {
        "due": 0,
        "reminders": 1,
        "failed": 0,
        "skipped": 1,
        # Real seconds (the clocks went forward on 29 March): 6 days and 8 hours.
        "lag_seconds": datetime(2026, 3, 31, 9, 0, tzinfo=PARIS).timestamp() - SEVEN_DAYS_BEFORE.timestamp(),
        "capped": False,
    }
    assert {k: v for k, v in result.items() if k not in ("elapsed_ms", "continued")} == expected
    assert result["continued"] is False  # not capped: nothing sent after it
    (record,) = [r for r in caplog.records if r.name == "odr.deadlines.sweep"]
    message = json.loads(record.getMessage())
    assert message["event"] == "deadline_sweep"
    assert {k: message[k] for k in expected} == expected
    assert {k: getattr(record, k) for k in expected} == expected  # extra= fields, for a JSON formatter


def test_reschedule_fills_the_next_reminder_from_the_recorded_effects(complaint):
    """What the data migration does for deadlines opened before `next_reminder_at` existed."""
    sweep_at(SEVEN_DAYS_BEFORE)
    deadline = response_deadline(complaint)
    Deadline.objects.update(next_reminder_at=None)  # as the schema migration leaves them
    with travel(datetime(2026, 3, 27, tzinfo=PARIS)):
        assert deadline_reminders_reschedule() == 1
    assert response_deadline(complaint).next_reminder_at == TWO_DAYS_BEFORE  # the 7-day one is not resent
    assert Deadline.objects.get(kind=DeadlineKind.REFERRAL_WINDOW).next_reminder_at is None
    # Nothing recorded: the farthest reminder is scheduled (the next sweep sends the closest one due).
    DeadlineEffect.objects.all().delete()
    with travel(datetime(2026, 3, 27, tzinfo=PARIS)):
        deadline_reminders_reschedule()
    assert response_deadline(complaint).next_reminder_at == SEVEN_DAYS_BEFORE
    assert sweep_at(datetime(2026, 3, 27, tzinfo=PARIS)).reminders == [
        f"{complaint.reference} merchant_response (7 d)"
    ]
    assert deadline.pk == response_deadline(complaint).pk


def test_the_fill_logic_respects_every_recorded_reminder():
    due = DUE
    days = [7, 2]
    now = datetime(2026, 3, 20, tzinfo=PARIS)
    fill = lambda effects, at=now: next_reminder_from_effects(  # noqa: E731
        due_at=due, remind_days=days, effects=effects, now=at
    )
    assert fill(set()) == reminder_instant(due, 7) == SEVEN_DAYS_BEFORE
    assert fill({"remind:7:20260401"}) == TWO_DAYS_BEFORE
    assert fill({"remind:2:20260401"}) is None  # sent at 2 days (the 7-day one skipped): none left
    assert fill({"remind:2:20260401", "remind:7:20260401"}) is None  # the old sweep recorded skips too
    assert fill({"remind:7:20260315"}) == SEVEN_DAYS_BEFORE  # sent for an earlier due date: starts again
    assert fill(set(), at=due + timedelta(seconds=1)) is None  # due: no reminder left


@override_settings(ODR_RESPONSE_REMINDER_DAYS=[10, 5, 1])
def test_a_changed_reminder_setting_applies_to_deadlines_opened_afterwards_and_on_reschedule(
    consumer, merchant, complaint
):
    assert response_deadline(complaint).next_reminder_at == SEVEN_DAYS_BEFORE  # scheduled before the change
    with travel(FILED):
        later = file_complaint(consumer, merchant)
    assert response_deadline(later).next_reminder_at == datetime(2026, 3, 22, tzinfo=PARIS)  # 10 days before
    with travel(datetime(2026, 3, 20, tzinfo=PARIS)):
        assert deadline_reminders_reschedule() == 1
    assert response_deadline(complaint).next_reminder_at == datetime(2026, 3, 22, tzinfo=PARIS)
    # The following reminders follow the setting read when each one is sent.
    sweep_at(datetime(2026, 3, 22, 8, 0, tzinfo=PARIS))
    assert response_deadline(complaint).next_reminder_at == datetime(2026, 3, 27, tzinfo=PARIS)


def test_a_reminder_whose_deadline_moved_meanwhile_is_rolled_back(complaint, monkeypatch):
    """The sweep read the row, then an extension moved it before the reminder's transaction: the
    reminder (for the old date) is not sent and the new schedule is kept."""
    from odr.deadlines import sweep as sweep_module

    original = sweep_module._remind

    def move_first(report, deadline, *, now):
        Deadline.objects.filter(pk=deadline.pk).update(
            due_at=deadline.due_at + timedelta(days=20), next_reminder_at=deadline.due_at + timedelta(days=6)
        )
        return original(report, deadline, now=now)

    monkeypatch.setattr(sweep_module, "_remind", move_first)
    report = sweep_at(SEVEN_DAYS_BEFORE + timedelta(hours=1))
    assert (report.reminders, report.failed, report.skipped) == ([], [], 1)
    assert not DeadlineEffect.objects.exists()
    assert not outbox("complaint_response_reminder").exists()
    assert response_deadline(complaint).next_reminder_at == DUE + timedelta(days=6)


def test_deadline_close_after_the_sweep_read_it_sends_nothing(complaint):
    with travel(datetime(2026, 3, 26, tzinfo=PARIS)):
        deadline_close(subject=complaint, kind=DeadlineKind.MERCHANT_RESPONSE)
    assert sweep_at(TWO_DAYS_BEFORE).reminders == []


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_fills_next_reminder_at_respecting_the_reminders_sent():
    from django.db.migrations.executor import MigrationExecutor

    before, after = (
        ("deadlines", "0002_deadline_next_reminder_at"),
        ("deadlines", "0003_fill_next_reminder_at"),
    )
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps
    content_type, _ = old.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="complaints", model="complaint"
    )
    Deadline_, Effect_ = old.get_model("deadlines", "Deadline"), old.get_model("deadlines", "DeadlineEffect")

    def pending(object_id, due_at, kind="merchant_response"):
        fields = {"case_reference": f"C-2026-{object_id:06d}", "legal_basis": "test", "opened_at": FILED}
        return Deadline_.objects.create(
            content_type=content_type, object_id=object_id, kind=kind, due_at=due_at, **fields
        )

    reminded = pending(1, DUE)  # its 7-day reminder was sent (and recorded) by the former sweep
    Effect_.objects.create(deadline=reminded, effect="remind:7:20260401", fired_at=SEVEN_DAYS_BEFORE)
    untouched = pending(2, DUE)
    window = pending(3, DUE, kind="referral_window")  # no reminders for this kind
    overdue = pending(4, datetime(2026, 3, 20, 23, 59, 59, tzinfo=PARIS))
    with travel(datetime(2026, 3, 27, tzinfo=PARIS)):
        executor = MigrationExecutor(connection)
        executor.migrate([after])
    filled = dict(Deadline.objects.values_list("pk", "next_reminder_at"))
    assert filled == {
        reminded.pk: TWO_DAYS_BEFORE,
        untouched.pk: SEVEN_DAYS_BEFORE,
        window.pk: None,
        overdue.pk: None,
    }


def test_a_deadline_moved_away_and_back_is_not_reminded_twice_for_the_same_date(complaint, agent):
    sweep_at(SEVEN_DAYS_BEFORE + timedelta(hours=8))  # the 7-day reminder for 1 April
    with travel(datetime(2026, 3, 26, tzinfo=PARIS)):
        deadline_move(subject=complaint, kind=DeadlineKind.MERCHANT_RESPONSE, due_at=DUE + timedelta(days=10))
        deadline_move(subject=complaint, kind=DeadlineKind.MERCHANT_RESPONSE, due_at=DUE)
    assert response_deadline(complaint).next_reminder_at == SEVEN_DAYS_BEFORE  # scheduled again
    report = sweep_at(datetime(2026, 3, 26, 8, 0, tzinfo=PARIS))
    assert (report.reminders, report.skipped, report.failed) == ([], 1, [])  # once per due date
    assert response_deadline(complaint).next_reminder_at == TWO_DAYS_BEFORE  # moved on, not stuck
    assert len(sweep_at(datetime(2026, 3, 30, 8, 0, tzinfo=PARIS)).reminders) == 1
    assert sorted(m.context["days_left"] for m in outbox("complaint_response_reminder", to_user=agent)) == [
        2,
        7,
    ]


def test_the_reschedule_command_applies_a_changed_setting_to_pending_deadlines(complaint, capsys):
    from django.core.management import call_command

    with override_settings(ODR_RESPONSE_REMINDER_DAYS=[3]), travel(datetime(2026, 3, 20, tzinfo=PARIS)):
        call_command("sweep_deadlines", "--reschedule-reminders")
    assert "1 deadline(s) rescheduled." in capsys.readouterr().out
    assert response_deadline(complaint).next_reminder_at == datetime(2026, 3, 29, tzinfo=PARIS)
