"""The compliance dashboard read from its day buckets (issue 14; mediation/case_figures.py).

Cases in every state are moved through the real services, each step at its moment, the sweep run when
time has passed; then the buckets, refreshed as the worker does, must give exactly what a recount over
the raw cases and deadlines gives (`dashboard_figures_recount`, built on the annual report's own
`period_report_figures`), for a year, a date range and a range across two years.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mediation.case_figures import case_figures_rebuild, case_figures_refresh
from mediation.dashboard import (
    dashboard_figures,
    dashboard_figures_recount,
    date_range_period,
    figures_as_of,
    year_period,
)
from mediation.models import CaseFiguresChange, CaseFiguresDay, CaseState, MediationCase, RefusalReason
from mediation.services import (
    case_close_without_agreement,
    case_extend,
    case_merchant_decline,
    case_refer,
    case_request_documents,
    case_withdraw,
)
from mediation.tasks import refresh_case_figures
from odr.accounts.models import Role
from odr.deadlines.models import Deadline, DeadlineKind, DeadlineStatus
from tests.complaints.test_portal import portal_for
from tests.factories import MembershipFactory, MerchantFactory
from tests.helpers import file_complaint, travel
from tests.mediation.test_compliance_views import Cases, sweep_at

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 1, 20, 10, 0, tzinfo=PARIS)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"


def at(*args):
    return datetime(*args, tzinfo=PARIS)


def build_mix(c: Cases, *, rounds: int, first_month: int = 1) -> None:
    """`rounds` × 10 cases, then 5 more, in every state and situation, referred over 2025 (one on New
    Year's Eve at 23:30 local: 22:30 UTC, still the 31st in Paris)."""
    consumer, agent, mediator = c.consumer, c.agent, c.mediator
    for index in range(rounds):
        month = first_month + index % (12 - first_month)
        day = 1 + index % 20
        # Settled, merchant complied; and a settled case whose compliance is not known yet.
        settled = c.settle(
            c.refer(at(2025, month, day, 9)),
            at(2025, month, day + 1, 10),
            at(2025, month, day + 2, 10),
            at(2025, month, day + 8, 10),
        )
        c.complied(settled, at(2025, month, day + 8, 12), index % 2 == 0)
        c.settle(
            c.refer(at(2025, month, day, 14)),
            at(2025, month, day + 1, 10),
            at(2025, month, day + 2, 10),
            at(2025, month, day + 5, 10),
        )
        # Refused on time, with a reason; refused late after the sweep recorded the D12 lapse.
        c.reject(c.refer(at(2025, month, day, 10)), at(2025, month, day + 3, 9), RefusalReason.TIME_BARRED)
        late = c.refer(at(2025, month, day, 11))
        sweep_at(at(2025, month + 1, day + 3, 0, 5))
        c.reject(late, at(2025, month + 1, day + 4, 9), RefusalReason.ALREADY_EXAMINED)
        # No agreement: the merchant refused the proposal; another closed by the mediator, extended (D17).
        no_deal = c.open(c.refer(at(2025, month, day, 12)), at(2025, month, day + 1, 10))
        c.answer(
            c.propose(no_deal, at(2025, month, day + 4, 10)), at(2025, month, day + 6, 10), merchant=False
        )
        extended = c.open(c.refer(at(2025, month, day, 13)), at(2025, month, day + 1, 10))
        with travel(at(2025, month, day + 3, 10)):
            case_extend(
                case=extended,
                by=mediator,
                reason="Expertise en cours.",
                new_due_date=date(2025, month, day) + timedelta(days=120),
            )
        with travel(at(2025, month, day + 9, 10)):
            case_close_without_agreement(case=extended, by=mediator, grounds="Aucune solution trouvée.")
        # Withdrawn by the consumer after the saisine; declined by the merchant before it.
        withdrawn = c.open(c.refer(at(2025, month, day, 15)), at(2025, month, day + 1, 10))
        with travel(at(2025, month, day + 2, 10)):
            case_withdraw(case=withdrawn, by=consumer, reason="Accord trouvé.")
        declined = c.refer(at(2025, month, day, 16))
        with travel(at(2025, month, day + 1, 10)):
            case_merchant_decline(case=declined, by=agent, reason="Hors champ.")
        # Waiting for documents (the D12 clock stopped); and one never decided: a D12 breach still open.
        waiting = c.refer(at(2025, month, day, 17))
        with travel(at(2025, month, day + 2, 10)):
            case_request_documents(case=waiting, by=mediator, text="La facture, s'il vous plaît.")
        c.refer(at(2025, month, day, 18))
    # The merchant never answered the complaint (D3): referred after the lapse, its breach is the body's.
    with travel(at(2025, 10, 1, 10)):
        complaint = file_complaint(consumer, c.merchant)
    sweep_at(at(2025, 11, 1, 0, 5))
    with travel(at(2025, 11, 3, 9)):
        case_refer(complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)
    c.refer(datetime(2025, 12, 31, 22, 30, tzinfo=ZoneInfo("UTC")))
    # Open since December, outcome due in March 2026: in progress, in time; a proposal awaiting answers.
    c.propose(c.open(c.refer(at(2025, 12, 15, 9)), at(2025, 12, 16, 10)), at(2025, 12, 30, 10))
    c.open(c.refer(at(2025, 12, 10, 9)), at(2025, 12, 11, 10))
    # Open since August, never closed: past its outcome date (D16), the sweep records the breach (D18).
    c.open(c.refer(at(2025, 8, 4, 9)), at(2025, 8, 5, 10))
    sweep_at(at(2026, 1, 5, 0, 5))


@pytest.fixture
def mix(consumer, merchant, agent, mediator, other_body):
    c = Cases(consumer, merchant, agent, mediator)
    build_mix(c, rounds=2)
    # Another body's cases: never in this body's buckets.
    foreign_merchant = MerchantFactory(mediation_body=other_body)
    foreign_agent = MembershipFactory(role=Role.MERCHANT_AGENT, merchant=foreign_merchant).user
    Cases(consumer, foreign_merchant, foreign_agent, None).refer(at(2025, 6, 3, 9))
    return c


PERIODS = [
    lambda body: year_period(body, 2025),
    lambda body: date_range_period(body, date(2025, 3, 2), date(2025, 8, 11)),
    lambda body: date_range_period(body, date(2025, 11, 15), date(2026, 2, 28)),
    lambda body: year_period(body, 2024),  # nothing: zeros, not an error
]


def test_d36_buckets_equal_the_recount_of_the_raw_cases_after_every_kind_of_change(mix, body):
    report = case_figures_refresh()
    assert report.changes > 0 and not report.left
    assert not CaseFiguresChange.objects.exists()
    with travel(NOW):
        for make in PERIODS:
            period = make(body)
            assert dashboard_figures(body=body, period=period, now=NOW) == dashboard_figures_recount(
                body=body, period=period, now=NOW
            ), period
        figures = dashboard_figures(body=body, period=year_period(body, 2025), now=NOW)
    # The mix reaches every state, outcome and kind of breach: the comparison above compared something.
    assert all(figures["by_state"][state] for state in CaseState.values), figures["by_state"]
    assert figures["received"] == 2 * 10 + 5
    assert figures["compliance"]["complied"] == 1 and figures["compliance"]["not_complied"] == 1
    assert figures["duration"]["extended"] == 2 and figures["duration"]["average_days"] is not None
    assert all(figures["breaches"]["by_kind"].values()), figures["breaches"]
    assert figures["breaches"]["open_by_kind"][DeadlineKind.ADMISSIBILITY] >= 2
    assert figures["by_month"][11] == 3  # December: the New Year's Eve case counts in its local day


def test_d36_a_change_shows_after_the_refresh_and_until_then_the_page_says_as_of_when(
    mix, body, compliance_officer
):
    case_figures_refresh()
    case = (
        MediationCase.objects.filter(mediation_body=body, state=CaseState.RECEIVED)
        .order_by("referred_at")
        .first()
    )
    period = year_period(body, 2025)
    with travel(at(2026, 1, 20, 9, 30)):
        case_withdraw(case=case, by=case.complaint.consumer, reason="")
    with travel(NOW):
        before = dashboard_figures(body=body, period=period, now=NOW)
        recount = dashboard_figures_recount(body=body, period=period, now=NOW)
        assert before != recount  # the withdrawal is not counted yet...
        assert figures_as_of(body) == at(2026, 1, 20, 9, 30)  # ...and the page says since when
        page = portal_for(compliance_officer).get(f"/compliance/{body.slug}/", {"year": 2025})
    assert 'data-figure="as_of"' in page.content.decode()
    # When, in the body's time zone (D38): 9:30 in Paris, 8:30 UTC.
    assert "Figures as of 01/20/2026 9:30 a.m.: the changes made since then" in page.content.decode()
    assert refresh_case_figures() == {"changes": 1, "days": 2, "busy": False, "left": False}
    with travel(NOW):
        assert dashboard_figures(body=body, period=period, now=NOW) == recount
        assert figures_as_of(body) is None
        assert (
            'data-figure="as_of"'
            not in portal_for(compliance_officer)
            .get(f"/compliance/{body.slug}/", {"year": 2025})
            .content.decode()
        )


def test_d12_a_breach_not_recorded_yet_is_counted_live_and_once_recorded_from_its_bucket(
    consumer, merchant, agent, mediator, body
):
    c = Cases(consumer, merchant, agent, mediator)
    case = c.refer(at(2025, 3, 3, 9))  # decision due 24 March
    case_figures_refresh()
    period = year_period(body, 2025)
    moment = at(2025, 4, 1, 9)  # past due, the sweep has not run: the deadline is still pending
    assert (
        Deadline.objects.get(case_reference=case.reference, kind=DeadlineKind.ADMISSIBILITY).status
        == "pending"
    )
    with travel(moment):
        live = dashboard_figures(body=body, period=period, now=moment)
        assert live == dashboard_figures_recount(body=body, period=period, now=moment)
    assert live["breaches"]["open_by_kind"][DeadlineKind.ADMISSIBILITY] == 1
    assert live["breaches"]["by_kind_month"][DeadlineKind.ADMISSIBILITY][2] == 1
    sweep_at(moment)
    assert Deadline.objects.get(case_reference=case.reference, kind=DeadlineKind.ADMISSIBILITY).status == (
        DeadlineStatus.BREACHED
    )
    case_figures_refresh()
    with travel(moment):
        assert dashboard_figures(body=body, period=period, now=moment) == live
    c.reject(case, at(2025, 4, 2, 9), RefusalReason.TIME_BARRED)  # the duty ends: no longer open
    case_figures_refresh()
    later = at(2025, 4, 3, 9)
    with travel(later):
        ended = dashboard_figures(body=body, period=period, now=later)
        assert ended == dashboard_figures_recount(body=body, period=period, now=later)
    assert ended["breaches"]["open"] == 0 and ended["breaches"]["total"] == 1


def test_d36_the_dashboard_takes_three_queries_whatever_the_number_of_cases(
    consumer, merchant, agent, mediator, body, compliance_officer, django_assert_num_queries
):
    c = Cases(consumer, merchant, agent, mediator)
    client = portal_for(compliance_officer)

    def page_queries():
        with travel(NOW), CaptureQueriesContext(connection) as captured:
            assert client.get(f"/compliance/{body.slug}/", {"year": 2025}).status_code == 200
        return len(captured.captured_queries)

    build_mix(c, rounds=1, first_month=10)
    case_figures_refresh()
    few = page_queries()
    with travel(NOW), django_assert_num_queries(3):
        dashboard_figures(body=body, period=year_period(body, 2025), now=NOW)
    build_mix(c, rounds=3)
    case_figures_refresh()
    assert MediationCase.objects.count() > 30
    assert page_queries() == few
    with travel(NOW), django_assert_num_queries(3):
        figures = dashboard_figures(body=body, period=year_period(body, 2025), now=NOW)
    period = year_period(body, 2025)
    assert figures["received"] == (
        MediationCase.objects.filter(referred_at__gte=period.start, referred_at__lt=period.end).count()
    )


def test_d36_the_refresh_recounts_only_the_days_that_changed(consumer, merchant, agent, mediator, body):
    c = Cases(consumer, merchant, agent, mediator)
    for month in range(1, 13):
        c.refer(at(2025, month, 10, 9))
    assert case_figures_refresh().days == 12
    assert CaseFiguresDay.objects.filter(mediation_body=body).count() == 12
    with CaptureQueriesContext(connection) as idle:
        report = case_figures_refresh()
    assert report.changes == 0 and report.days == 0
    # Nothing waiting: a look for bodies never counted, at the change table (and the lock, on
    # PostgreSQL), no recount.
    statements = [q["sql"] for q in idle.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) <= 3 and not any("COUNT(" in sql.upper() for sql in statements), statements
    case = MediationCase.objects.get(referred_at=at(2025, 6, 10, 9))
    with travel(at(2025, 6, 12, 9)):
        case_withdraw(case=case, by=consumer, reason="")
    before = dict(CaseFiguresDay.objects.values_list("day", "refreshed_at"))
    with travel(at(2025, 6, 12, 9, 1)):
        report = case_figures_refresh()
    assert (report.changes, report.days) == (1, 1)
    after = dict(CaseFiguresDay.objects.values_list("day", "refreshed_at"))
    assert [day for day in after if after[day] != before[day]] == [date(2025, 6, 10)]


def test_d36_a_backlog_drains_in_bounded_batches(consumer, merchant, agent, mediator, body):
    c = Cases(consumer, merchant, agent, mediator)
    for day in range(1, 8):
        c.refer(at(2025, 5, day, 9))
    waiting = CaseFiguresChange.objects.count()
    assert waiting == 7  # one audited change per referral
    report = case_figures_refresh(batch_size=2, max_batches=2)
    assert (report.changes, report.left) == (4, True)
    assert CaseFiguresChange.objects.count() == 3
    report = case_figures_refresh(batch_size=2, max_batches=2)
    assert (report.changes, report.left) == (3, False)


def test_d36_existing_data_is_counted_by_the_worker_itself_after_the_upgrade(mix, body, other_body):
    # Existing cases, no buckets and no change rows (as right after the migration on a running
    # installation): the next refresh rebuilds each body, one a run, with no manual step.
    CaseFiguresChange.objects.all().delete()
    CaseFiguresDay.objects.all().delete()
    first, second, third = case_figures_refresh(), case_figures_refresh(), case_figures_refresh()
    assert {first.rebuilt, second.rebuilt} == {body.slug, other_body.slug} and third.rebuilt == ""
    assert third.days == 0
    with travel(NOW):
        for make in PERIODS:
            period = make(body)
            assert dashboard_figures(body=body, period=period, now=NOW) == dashboard_figures_recount(
                body=body, period=period, now=NOW
            ), period


def test_d36_backfill_command_rebuilds_the_buckets_from_existing_data(mix, body, other_body):
    # Existing data, no buckets yet (as right after the migration): the command counts everything.
    CaseFiguresChange.objects.all().delete()
    assert not CaseFiguresDay.objects.exists()
    call_command("case_figures", "--rebuild")
    assert CaseFiguresDay.objects.filter(mediation_body=other_body).count() == 1
    with travel(NOW):
        for make in PERIODS:
            period = make(body)
            assert dashboard_figures(body=body, period=period, now=NOW) == dashboard_figures_recount(
                body=body, period=period, now=NOW
            )
    # A wrong bucket (say, after a time zone change) is repaired by the rebuild of that body.
    CaseFiguresDay.objects.filter(mediation_body=body).update(cases={"received": 1000})
    call_command("case_figures", "--rebuild", "--body", body.slug)
    with travel(NOW):
        period = year_period(body, 2025)
        assert dashboard_figures(body=body, period=period, now=NOW) == dashboard_figures_recount(
            body=body, period=period, now=NOW
        )
    # Every day from the first referral or breach to the last is recounted, a month a transaction.
    days = CaseFiguresDay.objects.filter(mediation_body=body).values_list("day", flat=True)
    assert case_figures_rebuild(body=body) == (max(days) - min(days)).days + 1


def test_d36_backfill_command_refuses_an_unknown_body_and_refresh_counts_what_waits(
    consumer, merchant, agent, body
):
    with pytest.raises(CommandError, match="No mediation body 'nobody'"):
        call_command("case_figures", "--rebuild", "--body", "nobody")
    with pytest.raises(CommandError, match="--body goes with --rebuild"):
        call_command("case_figures", "--body", body.slug)
    Cases(consumer, merchant, agent, None).refer(at(2025, 2, 2, 9))
    call_command("case_figures")
    assert not CaseFiguresChange.objects.exists()
    assert CaseFiguresDay.objects.get(mediation_body=body).cases["received"] == 1
