"""Benchmark: the compliance dashboard from its day buckets against the recount it replaced.

Run on demand, never in the test suite (PostgreSQL only):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/dashboard.py \
        [--cases 1000000] [--runs 20] [--old-runs 3] [--keep]

Creates its own database (odr_bench_dashboard), migrates it and seeds, with bulk SQL, one body with
N cases referred over 2025 (default 1,000,000) in a realistic spread of states, categories, outcomes
and durations, with their complaints, proposals and answers, extensions, requests for documents and
deadlines (the merchant's answer D3, admissibility D12, outcome D16: met, breached and still open, and
a few not swept yet). Then builds the buckets with the backfill (`case_figures_rebuild`, timed), and
in one run times:

- the dashboard page (Django's test client, whole page rendered, DEBUG off, a compliance officer
  logged in), median of --runs, with its query count;
- the figures alone from the buckets (`dashboard_figures`);
- the recount it replaced (`dashboard_figures_recount`: `period_report_figures` over the raw rows plus
  the grouped breach queries), median of --old-runs, and `period_report_figures` alone;
- one worker refresh after 100 cases changed (`case_figures_refresh`).

It checks that the buckets equal the recount, prints every figure, the ratios, the query counts, the
load average before and after, and the plans of the queries that do not read buckets. Target: the page
under 200 ms at 1,000,000 cases. --keep leaves the database for another run (skips the seeding).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = "odr_bench_dashboard"


def bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres") or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("bench/dashboard.py needs a local PostgreSQL: set DATABASE_URL=postgres://…@127.0.0.1/…")
    return urlunsplit(parts._replace(path=f"/{DB_NAME}"))


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def median_ms(call, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        call()
        times.append((time.perf_counter() - begin) * 1000)
    return statistics.median(times), times


# The seed: one row per case n in 1..N, everything derived from n (b = n % 100 picks the state).
# Dates: referred evenly over 2025 (Paris); the sweep has run, so past-due deadlines are recorded as
# breached, except every 10,000th case's D12 (pending past due: counted live by the dashboard).
SEED_SQL = [
    # Complaints: half of the merchants never answered (D3 breached, referred after the lapse).
    """
    INSERT INTO complaints_complaint
        (id, reference, consumer_id, merchant_id, state, category, order_reference, currency,
         description, desired_outcome, consumer_country, filed_at, written_complaint_at, response_due_at,
         referral_window_ends_at, answered_at, answer_decision, answer_text, withdrawal_reason)
    SELECT n, 'C-2025-' || lpad(n::text, 7, '0'), %(consumer)s, %(merchant)s, 'referred',
           (ARRAY['delivery_delay','non_delivery','non_conformity','withdrawal_refund','guarantee',
                  'billing','other'])[1 + (n * 7 / 11) %% 7],
           'CMD-' || n, 'EUR', 'Commande non livrée.', 'Remboursement.',
           CASE WHEN n %% 10 = 0 THEN 'BE' ELSE 'FR' END,
           r - interval '40 days', r - interval '40 days', r - interval '5 days', r + interval '325 days',
           CASE WHEN n %% 2 = 0 THEN NULL ELSE r - interval '37 days' END,
           CASE WHEN n %% 2 = 0 THEN '' ELSE 'reject' END, '', ''
    FROM (SELECT n, timestamptz '2025-01-01 00:00:00+01'
                    + make_interval(secs => n::bigint * 31535000 / %(N)s) AS r
          FROM generate_series(1, %(N)s) AS n) AS s
    """,
    # Cases. b: 0 received, 1 awaiting documents, 2 open, 3 proposal issued, 4–28 refused, 29–63 settled,
    # 64–83 no agreement, 84–93 discontinued, 94–99 merchant declined.
    """
    INSERT INTO mediation_mediationcase
        (id, reference, complaint_id, mediation_body_id, mediator_id, state, referred_at, other_proceedings,
         acting_as_consumer, excluded_subject, file_completed_at, admissibility_due_at, rejection_reason,
         rejection_reasoning, saisine_at, outcome_due_at, overdue_since, closed_at, outcome_grounds,
         closed_by_side, closure_reason, merchant_complied, compliance_answered_at)
    SELECT n, 'M-2025-' || lpad(n::text, 7, '0'), n, %(body)s, %(mediator)s,
           CASE WHEN b = 0 THEN 'received' WHEN b = 1 THEN 'awaiting_documents' WHEN b = 2 THEN 'open'
                WHEN b = 3 THEN 'proposal_issued' WHEN b <= 28 THEN 'rejected' WHEN b <= 63 THEN 'settled'
                WHEN b <= 83 THEN 'no_agreement' WHEN b <= 93 THEN 'discontinued'
                ELSE 'merchant_declined' END,
           r, false, true, '', r, r + interval '21 days',
           CASE WHEN b BETWEEN 4 AND 28 THEN (ARRAY['no_prior_complaint','unfounded_or_abusive',
                'already_examined','time_barred','out_of_competence'])[1 + n %% 5] ELSE '' END,
           CASE WHEN b BETWEEN 4 AND 28 THEN 'Motif.' ELSE '' END,
           CASE WHEN o THEN r + interval '7 days' END,
           CASE WHEN o THEN r + interval '7 days' + interval '90 days' + CASE WHEN n %% 20 = 0
                THEN interval '60 days' ELSE interval '0 days' END END,
           CASE WHEN b IN (2, 3) THEN r + interval '98 days' END,
           CASE WHEN b BETWEEN 4 AND 28 THEN r + make_interval(days => 3 + n %% 30)
                WHEN b >= 29 AND o THEN r + interval '7 days' + make_interval(days => (n * 13) %% 130)
                WHEN b >= 29 THEN r + make_interval(days => 2 + n %% 10) END,
           '', CASE WHEN b BETWEEN 84 AND 93 THEN
                    CASE WHEN n %% 2 = 0 THEN 'consumer' ELSE 'merchant' END ELSE '' END, '',
           CASE WHEN b BETWEEN 29 AND 63 THEN CASE n %% 3 WHEN 0 THEN true WHEN 1 THEN false END END,
           CASE WHEN b BETWEEN 29 AND 63 AND n %% 3 < 2 THEN r + interval '150 days' END
    FROM (SELECT n, n %% 100 AS b, (n %% 100 BETWEEN 2 AND 3 OR n %% 100 BETWEEN 29 AND 83
                 OR (n %% 100 >= 84 AND n %% 2 = 0)) AS o,
                 timestamptz '2025-01-01 00:00:00+01'
                    + make_interval(secs => n::bigint * 31535000 / %(N)s) AS r
          FROM generate_series(1, %(N)s) AS n) AS s
    """,
    # Proposals for the cases that reached one (proposal issued, settled, no agreement), two answers each.
    """
    INSERT INTO mediation_proposal
        (id, case_id, issued_by_id, solution, statements, issued_at, acceptance_due_at)
    SELECT id, id, %(mediator)s, 'Remboursement.', '{}'::jsonb, saisine_at + interval '5 days',
           saisine_at + interval '26 days'
    FROM mediation_mediationcase WHERE state IN ('proposal_issued', 'settled')
       OR (state = 'no_agreement' AND id %% 5 <> 0)
    """,
    """
    INSERT INTO mediation_proposalresponse (proposal_id, side, decision, deemed, responded_at)
    SELECT p.id, side.name,
           CASE WHEN c.state = 'settled' THEN 'accepted'
                WHEN c.state = 'no_agreement' AND (side.name = 'merchant') = (c.id %% 3 <> 0) THEN 'refused'
                WHEN c.state = 'no_agreement' AND c.id %% 7 = 0 THEN 'refused'
                WHEN c.state = 'no_agreement' THEN 'accepted'
                ELSE 'pending' END,
           false, CASE WHEN c.state <> 'proposal_issued' THEN c.closed_at END
    FROM mediation_proposal p JOIN mediation_mediationcase c ON c.id = p.case_id
    CROSS JOIN (VALUES ('consumer'), ('merchant')) AS side(name)
    """,
    """
    INSERT INTO mediation_deadlineextension
        (case_id, extended_by_id, reason, previous_due_at, new_due_at, extended_at)
    SELECT id, %(mediator)s, 'Expertise.', outcome_due_at - interval '60 days', outcome_due_at,
           saisine_at + interval '30 days'
    FROM mediation_mediationcase WHERE saisine_at IS NOT NULL AND id %% 20 = 0
    """,
    """
    INSERT INTO mediation_documentrequest (case_id, requested_by_id, text, requested_at)
    SELECT id, %(mediator)s, 'La facture.', referred_at + make_interval(days => CASE WHEN id %% 2 = 0
           THEN 5 ELSE 25 END)
    FROM mediation_mediationcase WHERE state = 'awaiting_documents'
    """,
    # D3: the merchant's answer, due 5 days before the referral; breached when never answered.
    """
    INSERT INTO deadlines_deadline
        (content_type_id, object_id, case_reference, kind, due_at, status, legal_basis, opened_at, closed_at)
    SELECT %(complaint_type)s, id, reference, 'merchant_response', response_due_at,
           CASE WHEN answered_at IS NULL THEN 'breached' ELSE 'met' END, 'bench', filed_at,
           COALESCE(answered_at, response_due_at + interval '1 day')
    FROM complaints_complaint
    """,
    # D12: admissibility, due 21 days after the referral; late decisions and undecided cases breached.
    """
    INSERT INTO deadlines_deadline
        (content_type_id, object_id, case_reference, kind, due_at, status, legal_basis, opened_at, closed_at)
    SELECT %(case_type)s, id, reference, 'admissibility', admissibility_due_at,
           CASE WHEN state = 'received' AND id %% 10000 = 0 THEN 'pending'
                WHEN state = 'received' THEN 'breached'
                WHEN state = 'awaiting_documents' THEN 'cancelled'
                WHEN state = 'rejected' AND closed_at > admissibility_due_at THEN 'breached'
                ELSE 'met' END, 'bench', referred_at,
           CASE WHEN state = 'received' AND id %% 10000 = 0 THEN NULL
                WHEN state = 'received' THEN admissibility_due_at + interval '1 minute'
                ELSE LEAST(COALESCE(saisine_at, closed_at, referred_at + interval '5 days'),
                           admissibility_due_at + interval '1 minute') END
    FROM mediation_mediationcase
    """,
    # D16: the outcome, due 90 days (or the extension) after the saisine; overdue or closed late: breached.
    """
    INSERT INTO deadlines_deadline
        (content_type_id, object_id, case_reference, kind, due_at, status, legal_basis, opened_at, closed_at)
    SELECT %(case_type)s, id, reference, 'outcome', outcome_due_at,
           CASE WHEN closed_at IS NULL OR closed_at > outcome_due_at THEN 'breached' ELSE 'met' END,
           'bench', saisine_at, COALESCE(LEAST(closed_at, outcome_due_at + interval '1 minute'),
                                         outcome_due_at + interval '1 minute')
    FROM mediation_mediationcase WHERE saisine_at IS NOT NULL
    """,
]


def seed(cases: int) -> dict:
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from complaints.models import Complaint
    from mediation.models import MediationCase
    from odr.accounts.models import Role
    from tests.factories import MediationBodyFactory, MembershipFactory, MerchantFactory, UserFactory

    body = MediationBodyFactory(slug="bench-body", time_zone="Europe/Paris")
    merchant = MerchantFactory(mediation_body=body, country="FR")
    consumer = UserFactory()
    mediator = MembershipFactory(role=Role.MEDIATOR, mediation_body=body, merchant=None).user
    officer = MembershipFactory(role=Role.COMPLIANCE_OFFICER, mediation_body=body, merchant=None).user
    parameters = {
        "N": cases,
        "consumer": consumer.pk,
        "merchant": merchant.pk,
        "body": body.pk,
        "mediator": mediator.pk,
        "complaint_type": ContentType.objects.get_for_model(Complaint).pk,
        "case_type": ContentType.objects.get_for_model(MediationCase).pk,
    }
    with connection.cursor() as cursor:
        for statement in SEED_SQL:
            started = time.perf_counter()
            cursor.execute(statement, parameters)
            print(
                f"  {cursor.rowcount:>9,} rows in {time.perf_counter() - started:6.1f} s: "
                f"{' '.join(statement.split()[:3])}",
                flush=True,
            )
        for table in ("complaints_complaint", "mediation_mediationcase", "mediation_proposal"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        cursor.execute("VACUUM ANALYZE")
    return {"body": body.pk, "officer": officer.pk}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--old-runs", type=int, default=1)
    parser.add_argument("--old-timeout", type=int, default=600, help="seconds per query of the recount")
    parser.add_argument("--keep", action="store_true", help="reuse the database of a previous --keep run")
    args = parser.parse_args()

    url = bench_database_url()
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    scratch = tempfile.mkdtemp(prefix="odr-bench-dashboard-")
    # DEBUG off, as in production: hashed static names from a manifest, so collectstatic first.
    os.environ.update(
        DATABASE_URL=url, DEBUG="0", DJANGO_SETTINGS_MODULE="odr.settings", STATIC_ROOT=f"{scratch}/static"
    )
    os.environ.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, check=True)
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        fresh = not (args.keep and exists)
        if fresh:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
            conn.execute(f"CREATE DATABASE {DB_NAME}")
    if fresh:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)

    import django

    django.setup()
    from django.db import OperationalError, connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from mediation.case_figures import case_figures_changed, case_figures_rebuild, case_figures_refresh
    from mediation.dashboard import (
        breaches_of,
        dashboard_figures,
        dashboard_figures_recount,
        year_period,
    )
    from mediation.models import MediationCase
    from mediation.reports import period_report_figures
    from odr import clock
    from odr.accounts.models import MediationBody, User
    from odr.deadlines.models import DeadlineStatus

    print(load(), flush=True)
    if fresh:
        print(f"seeding {args.cases:,} cases referred in 2025…", flush=True)
        started = time.perf_counter()
        ids = seed(args.cases)
        print(f"seeded in {time.perf_counter() - started:.0f} s; {load()}", flush=True)
        body = MediationBody.objects.get(pk=ids["body"])
        started = time.perf_counter()
        days = case_figures_rebuild(body=body)
        print(
            f"backfill (case_figures_rebuild): {days} days in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    body = MediationBody.objects.get(slug="bench-body")
    officer = User.objects.filter(
        memberships__mediation_body=body, memberships__role="compliance_officer"
    ).get()
    total = MediationCase.objects.filter(mediation_body=body).count()
    period = year_period(body, 2025)
    now = clock.now()

    new = dashboard_figures(body=body, period=period, now=now)
    print(
        f"\n{total:,} cases: received {new['received']:,}, breaches {new['breaches']['total']:,} "
        f"({new['breaches']['open']:,} still open), states {new['by_state']}",
        flush=True,
    )

    client = Client()
    client.force_login(officer)
    url = f"/compliance/{body.slug}/"

    def page():
        response = client.get(url, {"year": 2025})
        assert response.status_code == 200, response.status_code
        return response

    size = len(page().content)
    with CaptureQueriesContext(connection) as captured:
        page()
    page_queries = len(captured)
    with CaptureQueriesContext(connection) as captured:
        dashboard_figures(body=body, period=period, now=now)
    figure_queries = len(captured)

    print(f"\n{load()} (before timing the page)")
    page_ms, page_times = median_ms(page, args.runs)
    figures_ms, _ = median_ms(lambda: dashboard_figures(body=body, period=period, now=now), args.runs)
    print(f"{load()} (after)")
    print(
        f"dashboard page (buckets), whole page {size:,} B: median {page_ms:7.1f} ms over {args.runs} "
        f"(min {min(page_times):.1f}, max {max(page_times):.1f}), {page_queries} queries"
    )
    print(f"dashboard_figures (buckets):            median {figures_ms:7.1f} ms, {figure_queries} queries")
    print(f"target: page < 200 ms -> {'met' if page_ms < 200 else 'NOT met'}", flush=True)

    # The worker's refresh after 100 cases changed (spread over the year, as services would mark them).
    from django.db import transaction

    changed = list(MediationCase.objects.filter(mediation_body=body).order_by("?")[:100])
    with transaction.atomic():
        for case in changed:
            case_figures_changed(case)
    started = time.perf_counter()
    report = case_figures_refresh()
    print(
        f"\nrefresh after 100 changed cases: {report.days} days recounted in "
        f"{(time.perf_counter() - started) * 1000:.0f} ms ({report.changes} changes); {load()}",
        flush=True,
    )
    assert dashboard_figures(body=body, period=period, now=now) == new  # a recount changes nothing

    # Plans of what the dashboard reads outside its buckets: the breaches not recorded yet (live).
    live = (
        breaches_of(body, now=now, few=True)
        .filter(status=DeadlineStatus.PENDING)
        .values_list("kind", "due_at")
    )
    print("\nplan: breaches not recorded yet (live, through the sweep's partial index)")
    print(live.explain(analyze=True), flush=True)

    # The recount it replaced, each call under a statement timeout (at 1,000,000 cases its breach
    # queries may not finish at all). The annual report's part first: also an equality check.
    def timed(call, runs: int):
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {args.old_timeout * 1000}")
        try:
            return median_ms(call, runs)
        except OperationalError as error:
            print(f"  stopped after {args.old_timeout} s: {str(error).splitlines()[0]}")
            return None, []
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET statement_timeout = 0")

    print(f"\n{load()} (before timing the recount)", flush=True)
    report_ms, _ = timed(lambda: period_report_figures(body=body, start=period.start, end=period.end), 1)
    if report_ms is not None:
        report = period_report_figures(body=body, start=period.start, end=period.end)
        from_buckets = {key: new[key] for key in report}
        # The dashboard adds "unknown" (settled, compliance not known yet) to the report's figures.
        from_buckets["compliance"] = {k: v for k, v in new["compliance"].items() if k != "unknown"}
        assert from_buckets == report, "the buckets differ from the report's recount"
        print(f"period_report_figures (recount of the cases): {report_ms:7.1f} ms; equal to the buckets")
    with CaptureQueriesContext(connection) as captured:
        old_ms, _times = timed(
            lambda: dashboard_figures_recount(body=body, period=period, now=now), args.old_runs
        )
    if old_ms is not None:
        assert dashboard_figures_recount(body=body, period=period, now=now) == new
        print(
            f"old dashboard recount (dashboard_figures_recount): median {old_ms:7.1f} ms over "
            f"{args.old_runs}, {len(captured) // args.old_runs} queries; equal to the buckets"
        )
        print(
            f"ratio old recount / new page: {old_ms / page_ms:,.1f}x; / figures: {old_ms / figures_ms:,.0f}x"
        )
    elif report_ms is not None:
        print(f"ratio period_report_figures alone / new page: {report_ms / page_ms:,.1f}x")
    print(f"{load()}")


if __name__ == "__main__":
    main()
