"""Benchmark: the paged lists at national scale, against the queries the unpaged pages ran, in one run.

Run on demand, never in the test suite (PostgreSQL only):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_lists .venv/bin/python bench/lists.py
    … bench/lists.py --cases 20000 --open 2000 --rounds 5     (a quicker run while developing)
    … bench/lists.py --explain                                  (also: each list query's plan)

Creates its own database (`<DATABASE_URL's name>_bench`, dropped first), migrates it and bulk-seeds
with SQL: one mediation body with --cases cases (default 100,000; a tenth new, 5 % waiting for
documents, 30 % open, 5 % awaiting answers to a proposal, the rest closed; assigned over 20
mediators), each with its complaint and its admissibility and outcome deadlines (a tenth of them
breached); one merchant with --open open complaints (default 5,000: overdue, due within 7 days,
waiting, answered) and a share of the referred ones. Then, through Django's test client with DEBUG
off (the whole middleware stack, no network), times each page --rounds times (median):
- the merchant dashboard, its overdue list (first page, and a page 2,000 rows deep);
- the mediator's workspace, its "outcome due" queue (first and deep page);
- the compliance cases list and breaches list (first and deep page), the body's documents.
Each line: median ms, queries, HTML size. Baseline, in the same run: the query each unpaged page ran
before issue 14 (the merchant's open complaints, the mediator's active cases with their annotations,
Paginator's COUNT(*) + OFFSET for the compliance lists' deep page), timed alone.
With --explain: EXPLAIN (ANALYZE, BUFFERS) of each list query of the first and deep pages: the plan's
node lines, to check each is an index scan reading about a page of rows.
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

MEDIATORS = 20
DEEP = 2_000  # rows before the deep page


def bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/h_lists")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/lists.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}_bench"))


def create_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)


def seed(*, cases: int, open_complaints: int) -> dict:
    """The organisations through the ORM, the rows with INSERT … SELECT generate_series."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from mediation.models import MediationCase
    from odr import clock
    from odr.accounts.models import MediationBody, Membership, Merchant, Role, User

    body = MediationBody.objects.create(
        name="Médiateur national",
        slug="national",
        website="https://mediateur.example.test",
        time_zone="Europe/Paris",
        listing_number="CECMC-0001",
    )
    merchants = [
        Merchant.objects.create(
            legal_name=f"Enseigne {n} SAS",
            registration_number=f"{500000000 + n:09d}",
            website=f"https://enseigne{n}.example.test",
            mediation_body=body,
        )
        for n in range(10)
    ]
    user = lambda email: User.objects.create_user(email=email, password="x", first_name="A", last_name=email)  # noqa: E731
    consumer = user("consumer@example.test")
    agent = user("agent@example.test")
    Membership.objects.create(user=agent, merchant=merchants[0], role=Role.MERCHANT_OWNER)
    mediators = [user(f"mediator{n}@example.test") for n in range(MEDIATORS)]
    for mediator in mediators:
        Membership.objects.create(user=mediator, mediation_body=body, role=Role.MEDIATOR)
    officer = user("officer@example.test")
    Membership.objects.create(user=officer, mediation_body=body, role=Role.COMPLIANCE_OFFICER)

    now = clock.now()
    mediator_ids = "ARRAY[" + ",".join(str(m.pk) for m in mediators) + "]::bigint[]"
    case_type = ContentType.objects.get_for_model(MediationCase).pk
    with connection.cursor() as cursor:
        # The merchant's open complaints: a quarter each overdue, due within 7 days, waiting, answered.
        cursor.execute(
            """
            INSERT INTO complaints_complaint (reference, state, category, order_reference, currency,
              description, desired_outcome, consumer_country, filed_at, written_complaint_at,
              response_due_at, referral_window_ends_at, answered_at, answer_decision, answer_text,
              withdrawal_reason, consumer_id, merchant_id)
            SELECT 'C-2026-O' || lpad(n::text, 7, '0'), CASE WHEN n %% 4 = 3 THEN 'answered' ELSE 'filed' END,
              'non_delivery', 'CMD-' || n, 'EUR', 'Colis jamais livré.', 'Remboursement.', 'FR',
              f, f, f + interval '30 days', f + interval '1 year',
              CASE WHEN n %% 4 = 3 THEN f + interval '1 day' END,
              CASE WHEN n %% 4 = 3 THEN 'offer' ELSE '' END,
              '', '', %(consumer)s, %(merchant)s
            FROM (SELECT n, %(now)s::timestamptz
                    - (CASE n %% 4 WHEN 0 THEN 40 WHEN 1 THEN 26 WHEN 2 THEN 2 ELSE 10 END)
                    * interval '1 day' - n * interval '1 second' AS f
                  FROM generate_series(1, %(open)s) n) s
            """,
            {"consumer": consumer.pk, "merchant": merchants[0].pk, "now": now, "open": open_complaints},
        )
        # The body's cases, each with its referred complaint (a tenth of them the first merchant's).
        cursor.execute(
            """
            INSERT INTO complaints_complaint (reference, state, category, order_reference, currency,
              description, desired_outcome, consumer_country, filed_at, written_complaint_at,
              response_due_at, referral_window_ends_at, answered_at, answer_decision, answer_text,
              withdrawal_reason, consumer_id, merchant_id, closed_at)
            SELECT 'C-2026-R' || lpad(n::text, 7, '0'), 'referred', 'non_delivery', 'CMD-' || n, 'EUR',
              'Colis jamais livré.', 'Remboursement.', 'FR', f, f, f + interval '30 days',
              f + interval '1 year',
              f + interval '2 days', 'reject', 'Non.', '', %(consumer)s,
              (%(merchants)s::bigint[])[1 + n %% 10],
              f + interval '3 days'
            FROM (SELECT n,
                    %(now)s::timestamptz - (n %% 397) * interval '1 day' - n * interval '1 second' AS f
                  FROM generate_series(1, %(cases)s) n) s
            """,
            {"consumer": consumer.pk, "merchants": [m.pk for m in merchants], "now": now, "cases": cases},
        )
        cursor.execute(
            f"""
            INSERT INTO mediation_mediationcase (reference, state, referred_at, other_proceedings,
              acting_as_consumer, excluded_subject, rejection_reason, rejection_reasoning, outcome_grounds,
              closed_by_side, closure_reason, complaint_id, mediation_body_id, mediator_id,
              admissibility_due_at, saisine_at, outcome_due_at, proposal_due_at, closed_at)
            SELECT 'M-2026-' || lpad(k::text, 7, '0'), st, r, false, true, '', '', '', '', '', '',
              c.id, %(body)s,
              CASE WHEN st = 'received' AND k %% 2 = 0 THEN NULL
                   ELSE ({mediator_ids})[1 + (k / 20) %% {MEDIATORS}] END,
              CASE WHEN st = 'received' THEN r + interval '21 days' END,
              CASE WHEN st IN ('open', 'proposal_issued', 'settled', 'no_agreement')
                   THEN r + interval '5 days' END,
              CASE WHEN st IN ('open', 'proposal_issued', 'settled', 'no_agreement')
                   THEN r + interval '95 days' END,
              CASE WHEN st = 'proposal_issued' THEN r + interval '80 days' END,
              CASE WHEN st IN ('settled', 'no_agreement') THEN r + interval '60 days' END
            FROM (SELECT c.id, substr(c.reference, 9)::int AS k, c.filed_at + interval '3 days' AS r,
                    CASE WHEN substr(c.reference, 9)::int %% 20 < 2 THEN 'received'
                         WHEN substr(c.reference, 9)::int %% 20 = 2 THEN 'awaiting_documents'
                         WHEN substr(c.reference, 9)::int %% 20 < 9 THEN 'open'
                         WHEN substr(c.reference, 9)::int %% 20 = 9 THEN 'proposal_issued'
                         WHEN substr(c.reference, 9)::int %% 20 < 15 THEN 'settled'
                         ELSE 'no_agreement' END AS st
                  FROM complaints_complaint c WHERE c.reference LIKE 'C-2026-R%%') c
            """,
            {"body": body.pk},
        )
        # Two duties a case: admissibility (met, a tenth breached) and outcome (pending while open).
        cursor.execute(
            """
            INSERT INTO deadlines_deadline (object_id, case_reference, kind, due_at, status, legal_basis,
              opened_at, closed_at, content_type_id)
            SELECT id, reference, 'admissibility', referred_at + interval '21 days',
              CASE WHEN id %% 10 = 0 THEN 'breached' ELSE 'met' END, 'D12', referred_at,
              referred_at + interval '5 days', %(ct)s
            FROM mediation_mediationcase
            UNION ALL
            SELECT id, reference, 'outcome', outcome_due_at,
              CASE WHEN closed_at IS NOT NULL THEN 'met' ELSE 'pending' END, 'D16', saisine_at, closed_at,
              %(ct)s
            FROM mediation_mediationcase WHERE outcome_due_at IS NOT NULL
            """,
            {"ct": case_type},
        )
        cursor.execute("ANALYZE")
    return {"body": body, "agent": agent, "mediator": mediators[1], "officer": officer, "now": now}


def cursor_at(queryset, order, offset: int) -> tuple[str, int]:
    """The cursor of the row `offset` rows into the list (at most half-way), found with OFFSET once,
    for the bench; and that offset."""
    from odr.paging import _cursor_of

    offset = min(offset, queryset.count() // 2)
    rows = list(queryset.order_by(*order)[offset : offset + 1])
    return (_cursor_of(rows[0], order) if rows else ""), offset


class Recorder:
    """Every SQL statement a request runs, with its parameters (an execute wrapper: works with DEBUG
    off, and keeps the parameters for EXPLAIN)."""

    def __init__(self):
        self.statements = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append((sql, params))
        return execute(sql, params, many, context)


def timed(client, url: str, rounds: int) -> tuple[float, int, int, list]:
    from django.db import connection

    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    recorder = Recorder()
    with connection.execute_wrapper(recorder):
        client.get(url)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), len(recorder.statements), len(response.content), recorder.statements


def time_query(run, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def explain(sql: str, params) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql, params)
        return [row[0] for row in cursor.fetchall()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()

    url = bench_database_url()
    scratch = tempfile.mkdtemp(prefix="odr-bench-lists-")
    os.environ.update(
        DATABASE_URL=url, DEBUG="0", DJANGO_SETTINGS_MODULE="odr.settings", STATIC_ROOT=f"{scratch}/static"
    )
    os.environ.setdefault("SECRET_KEY", "bench-lists")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    create_database(url)
    # DEBUG off serves the static files' hashed names, from a manifest that collectstatic writes.
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, check=True)

    import django

    django.setup()
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import setup_test_environment

    from complaints.selectors import BY_DUE_DATE, merchant_open_complaints, merchant_sections
    from mediation.models import MediationCase
    from mediation.queues import mediator_cases, queue_querysets
    from mediation.views.compliance import PAGE_SIZE

    setup_test_environment()  # the test client's response.context and allowed host; DEBUG stays off
    started = time.perf_counter()
    world = seed(cases=args.cases, open_complaints=args.open)
    print(
        f"seeded in {time.perf_counter() - started:.0f} s: "
        f"{args.cases:,} cases, {args.open:,} open complaints"
    )
    states = dict(MediationCase.objects.values_list("state").annotate(n=Count("pk")).order_by())
    print("cases by state:", states)
    now, body = world["now"], world["body"]

    def client_for(user) -> Client:
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(user)
        return client

    agent, mediator, officer = (client_for(world[k]) for k in ("agent", "mediator", "officer"))
    merchant_id = world["agent"].memberships.get().merchant_id
    overdue, _order = merchant_sections(merchant_ids=[merchant_id], now=now)["overdue"]
    outcome, outcome_order = queue_querysets(world["mediator"], body_ids=[body.pk], now=now)["outcome"]
    body_cases = MediationCase.objects.filter(mediation_body=body)
    deep_overdue, overdue_offset = cursor_at(overdue, BY_DUE_DATE, DEEP)
    deep_outcome, outcome_offset = cursor_at(outcome, outcome_order, DEEP)
    deep_cases, cases_offset = cursor_at(body_cases, ("-referred_at", "-pk"), args.cases // 2)
    pages = [
        ("merchant dashboard", agent, "/merchant/"),
        ("merchant overdue, first page", agent, "/merchant/?section=overdue"),
        (
            f"merchant overdue, {overdue_offset:,} rows deep",
            agent,
            f"/merchant/?section=overdue&after={deep_overdue}",
        ),
        ("mediator workspace", mediator, "/mediator/"),
        ("mediator outcome queue, first page", mediator, "/mediator/?queue=outcome"),
        (
            f"mediator outcome queue, {outcome_offset:,} rows deep",
            mediator,
            f"/mediator/?queue=outcome&after={deep_outcome}",
        ),
        ("compliance cases, first page", officer, f"/compliance/{body.slug}/cases/"),
        (
            f"compliance cases, {cases_offset:,} rows deep",
            officer,
            f"/compliance/{body.slug}/cases/?after={deep_cases}",
        ),
        ("compliance breaches, first page", officer, f"/compliance/{body.slug}/breaches/"),
        ("compliance body documents", officer, f"/compliance/{body.slug}/documents/"),
    ]

    print(f"\nload average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'page':<44} {'median ms':>10} {'queries':>8} {'HTML KB':>8}")
    plans = []
    for title, client, page_url in pages:
        ms, queries, size, sqls = timed(client, page_url, args.rounds)
        print(f"{title:<44} {ms:>10.1f} {queries:>8} {size / 1024:>8.1f}")
        plans.append((title, sqls))

    # The baseline: what the unpaged pages read before issue 14, timed alone (the query, not the page).
    from django.core.paginator import Paginator

    print("\nbaseline, in the same run (the unpaged pages' queries alone):")
    old_dashboard = lambda: list(  # noqa: E731
        merchant_open_complaints(merchant_ids=[merchant_id])
        .select_related("merchant", "consumer")
        .order_by("response_due_at", "pk")
    )
    old_workspace = lambda: list(  # noqa: E731
        mediator_cases(world["mediator"]).filter(
            state__in=("received", "awaiting_documents", "open", "proposal_issued")
        )
    )
    deep_number = (args.cases // 2) // PAGE_SIZE + 1
    old_cases = lambda: list(  # noqa: E731
        Paginator(body_cases.select_related("complaint").order_by("-referred_at", "-pk"), PAGE_SIZE).page(
            deep_number
        )
    )
    for title, run in (
        (f"merchant's open complaints, all ({args.open:,})", old_dashboard),
        ("mediator's active cases, all", old_workspace),
        (f"compliance cases, Paginator page {deep_number:,} (COUNT + OFFSET)", old_cases),
    ):
        print(f"{title:<60} {time_query(run, max(3, args.rounds // 3)):>10.1f} ms")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    if args.explain:
        print("\nplans (EXPLAIN ANALYZE, BUFFERS) of each page's list queries:")
        for title, sqls in plans:
            print(f"\n== {title}")
            for sql, params in sqls:
                skip = ('"django_session"', 'FROM "accounts_user"', '"accounts_membership"."id"')
                if any(table in sql[:600] for table in skip):
                    continue
                print("-- " + sql[:160].replace("\n", " ") + " …")
                for line in explain(sql, params):
                    print("   " + line)


if __name__ == "__main__":
    main()
