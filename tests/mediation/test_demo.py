"""`seed_demo`: every state of both machines, built through the services, idempotent, verifiable."""

from django.core.management import call_command

from complaints.models import Complaint, ComplaintState
from mediation.models import CaseState, MediationCase
from odr.accounts.models import User
from odr.audit.services import audit_verify


def test_seed_demo_covers_every_state_and_its_trails_verify(db, capsys):
    call_command("seed_demo")
    output = capsys.readouterr().out
    assert "Demo data created." in output
    assert "mediator@demo.test" in output and "demo-odr-2026" in output
    assert set(Complaint.objects.values_list("state", flat=True)) == set(ComplaintState.values)
    assert set(MediationCase.objects.values_list("state", flat=True)) == set(CaseState.values)
    assert 18 <= Complaint.objects.count() <= 25
    result = audit_verify()
    assert result.ok and result.checked > 100
    assert User.objects.get(email="camille@demo.test").check_password("demo-odr-2026")


def test_demo_keeps_every_state_after_the_sweep_runs_on_it(db):
    """`make demo` starts beat at once: the seeded history must already be consistent with today."""
    from odr.deadlines.sweep import sweep_deadlines

    call_command("seed_demo")
    report = sweep_deadlines()
    assert report.failed == []
    assert set(Complaint.objects.values_list("state", flat=True)) == set(ComplaintState.values)
    assert set(MediationCase.objects.values_list("state", flat=True)) == set(CaseState.values)
    assert audit_verify().ok


def test_seed_demo_is_idempotent(db, capsys):
    call_command("seed_demo")
    counts = (Complaint.objects.count(), MediationCase.objects.count(), User.objects.count())
    call_command("seed_demo")
    assert "already present" in capsys.readouterr().out
    assert (Complaint.objects.count(), MediationCase.objects.count(), User.objects.count()) == counts
