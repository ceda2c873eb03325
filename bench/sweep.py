"""Benchmark: the deadline sweep at the design volume, on PostgreSQL.

Run on demand, never in the test suite:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/sweep.py
    … bench/sweep.py --only reminders      (the reminder case alone, about a minute)
    … bench/sweep.py --only due            (the due selection alone)

Creates its own database (odr_bench_sweep) and migrates it. Two parts, each measured in one run:

1. Reminders (issue 14): one `sweep_deadlines()` with 20,000 and with 200,000 pending deadlines inside
   the reminder horizon whose reminders due so far were already sent (the 14-day reminder of an outcome
   deadline due in 4 to 13 days: recorded in DeadlineEffect, `next_reminder_at` on the 3-day one).
   Nothing is due, so every run reads the same: median time of several sweeps, and the number of
   queries of one. Targets: < 50 ms at both sizes, the same query count. For comparison, the rows the
   former reminder pass read on every run (every pending deadline due within the horizon, each one then
   refused an insert: ≈ 1.5 ms each measured before, 29.6 s at 20,000) and the time of reading them.
2. Due selection: 5,000,000 deadlines of which 1,000,000 pending and 1,000 due; the sweep's claim query
   (the ORM's SQL, FOR UPDATE SKIP LOCKED, through the partial index) against the same query with index
   scans disabled. Target: ≤ 5 ms, ≥ 100× faster than the scan.

Prints the load average (os.getloadavg) before and after each part: figures are claims only beside it.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOTAL, PENDING, DUE = 5_000_000, 1_000_000, 1_000
RUNS = 30
REMINDER_SIZES = (20_000, 200_000)
REMINDER_RUNS = 15


def bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/sweep.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    return urlunsplit(parts._replace(path="/odr_bench_sweep"))


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def content_type_id(cursor, model: str) -> int:
    cursor.execute("SELECT id FROM django_content_type WHERE model = %s", [model])
    return cursor.fetchone()[0]


def seed_reminders_sent(count: int) -> None:
    """`count` pending outcome deadlines due in 4–13 days, their 14-day reminder sent, the 3-day one next.

    The reminder instants follow odr.deadlines.reminders: local midnight (the platform's time zone)
    of the due day minus the reminder's days.
    """
    from django.conf import settings
    from django.db import connection

    tz = settings.ODR_DEFAULT_TIME_ZONE
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE deadlines_deadline, deadlines_deadlineeffect RESTART IDENTITY")
        cursor.execute(
            """
            INSERT INTO deadlines_deadline
                (content_type_id, object_id, case_reference, kind, due_at, status, legal_basis,
                 opened_at, closed_at, next_reminder_at)
            SELECT %(ct)s, n, 'M-2026-' || lpad(n::text, 7, '0'), 'outcome', due, 'pending', 'bench',
                   now() - interval '80 days', NULL,
                   (date_trunc('day', due AT TIME ZONE %(tz)s) - interval '3 days') AT TIME ZONE %(tz)s
            FROM (
                SELECT n,
                       (date_trunc('day', now() AT TIME ZONE %(tz)s)
                        + ((4 + n %% 10) || ' days')::interval + interval '23:59:59') AT TIME ZONE %(tz)s
                       AS due
                FROM generate_series(1, %(count)s) AS n
            ) AS rows
            """,
            {"ct": content_type_id(cursor, "mediationcase"), "tz": tz, "count": count},
        )
        cursor.execute(
            """
            INSERT INTO deadlines_deadlineeffect (deadline_id, effect, fired_at)
            SELECT id, 'remind:14:' || to_char(due_at AT TIME ZONE 'UTC', 'YYYYMMDD'),
                   now() - interval '1 day'
            FROM deadlines_deadline
            """
        )
        cursor.execute("VACUUM ANALYZE deadlines_deadline")
        cursor.execute("VACUUM ANALYZE deadlines_deadlineeffect")


def old_reminder_rows() -> tuple[int, float]:
    """The rows the former reminder pass read on every run, and the time of reading their ids once."""
    from datetime import timedelta

    from odr import clock
    from odr.deadlines.calendar import end_of_local_day, local_date, zone
    from odr.deadlines.models import Deadline, DeadlineStatus
    from odr.deadlines.registry import remind_days_for

    now = clock.now()
    kinds = [k for k in ("merchant_response", "admissibility", "outcome") if remind_days_for(k)]
    horizon = max(max(remind_days_for(k)) for k in kinds)
    last_day = end_of_local_day(local_date(now, zone(None)) + timedelta(days=horizon), zone(None))
    t0 = time.perf_counter()
    ids = list(
        Deadline.objects.filter(
            status=DeadlineStatus.PENDING, kind__in=kinds, due_at__gte=now, due_at__lte=last_day
        ).values_list("pk", flat=True)
    )
    return len(ids), (time.perf_counter() - t0) * 1000


def bench_reminders() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from odr.deadlines.sweep import sweep_deadlines

    print(f"\n== reminders: one sweep, pending deadlines in the horizon, reminders already sent ({load()})")
    results = []
    for count in REMINDER_SIZES:
        started = time.perf_counter()
        seed_reminders_sent(count)
        seeded = time.perf_counter() - started
        sweep_deadlines()  # warm-up (connection, caches)
        samples = []
        for _ in range(REMINDER_RUNS):
            t0 = time.perf_counter()
            report = sweep_deadlines()
            samples.append((time.perf_counter() - t0) * 1000)
            assert (report.due, report.reminders, report.failed, report.skipped) == ([], [], [], 0), report
        with CaptureQueriesContext(connection) as queries:
            sweep_deadlines()
        rows, read_ms = old_reminder_rows()
        median = statistics.median(samples)
        results.append((count, median, len(queries)))
        print(
            f"{count:>8,} pending in the horizon (seeded in {seeded:.1f} s): sweep median {median:.2f} ms "
            f"(min {min(samples):.2f}, max {max(samples):.2f}, {REMINDER_RUNS} runs), {len(queries)} queries"
        )
        print(
            f"          former reminder pass: read {rows:,} rows every run "
            f"(their ids alone: {read_ms:.0f} ms), "
            f"then one refused insert each (≈ 1.5 ms each: ≈ {rows * 1.5 / 1000:.0f} s)"
        )
    (small, small_ms, small_q), (large, large_ms, large_q) = results[0], results[-1]
    print(
        f"ratio {large:,}/{small:,}: time ×{large_ms / small_ms:.2f}, queries {small_q} → {large_q} "
        f"({'same' if small_q == large_q else 'DIFFERENT'}); target < 50 ms: "
        f"{'met' if max(small_ms, large_ms) < 50 else 'NOT met'} ({load()})"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT id FROM deadlines_deadline WHERE status = 'pending' "
            "AND next_reminder_at <= now() ORDER BY next_reminder_at, id LIMIT 200 FOR UPDATE SKIP LOCKED"
        )
        print("reminder claim plan:\n" + "\n".join(row[0] for row in cursor.fetchall()))


def bench_due() -> None:
    from django.db import connection, transaction

    from odr import clock
    from odr.deadlines.models import Deadline, DeadlineStatus

    print(f"\n== due selection ({load()})")
    print(f"seeding {TOTAL:,} deadlines ({PENDING:,} pending, {DUE:,} due)…", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE deadlines_deadline, deadlines_deadlineeffect RESTART IDENTITY")
        # Closed rows in the past; pending rows in the future except the first DUE of them.
        cursor.execute(
            """
            INSERT INTO deadlines_deadline
                (content_type_id, object_id, case_reference, kind, due_at, status, legal_basis,
                 opened_at, closed_at)
            SELECT %s, n, 'C-2026-' || lpad(n::text, 7, '0'), 'merchant_response',
                   CASE WHEN n <= %s THEN now() - (n || ' minutes')::interval
                        WHEN n <= %s THEN now() + ((1 + n %% 90000) || ' minutes')::interval
                        ELSE now() - ((n %% 500000) || ' minutes')::interval END,
                   CASE WHEN n <= %s THEN 'pending' ELSE 'met' END,
                   'bench', now() - interval '100 days',
                   CASE WHEN n <= %s THEN NULL ELSE now() END
            FROM generate_series(1, %s) AS n
            """,
            [content_type_id(cursor, "complaint"), DUE, PENDING, PENDING, PENDING, TOTAL],
        )
        cursor.execute("VACUUM ANALYZE deadlines_deadline")  # Django's cursor is in autocommit here
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)

    now = clock.now()
    query = (
        Deadline.objects.filter(status=DeadlineStatus.PENDING, due_at__lt=now)
        .select_for_update(skip_locked=True)
        .order_by("due_at", "pk")[:200]
    )
    with transaction.atomic():  # Django compiles FOR UPDATE only inside a transaction
        sql, params = query.query.sql_with_params()

    def timed(force_scan: bool) -> float:
        samples = []
        for _ in range(RUNS):
            with transaction.atomic(), connection.cursor() as cursor:
                if force_scan:
                    cursor.execute("SET LOCAL enable_indexscan = off")
                    cursor.execute("SET LOCAL enable_bitmapscan = off")
                t0 = time.perf_counter()
                cursor.execute(sql, params)
                rows = cursor.fetchall()
                samples.append(time.perf_counter() - t0)
            assert len(rows) == 200
        return statistics.median(samples) * 1000

    index_ms = timed(force_scan=False)
    scan_ms = timed(force_scan=True)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print(f"due selection through the partial index: {index_ms:.2f} ms (median of {RUNS})")
    print(f"same query, sequential scan forced:     {scan_ms:.2f} ms (median of {RUNS})")
    print(f"ratio: {scan_ms / index_ms:.0f}× faster (target ≥ 100×; ≤ 5 ms) ({load()})")
    print("plan:\n" + plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["reminders", "due"], help="run one part only")
    args = parser.parse_args()
    url = bench_database_url()
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    # DEBUG off, as in production (CaptureQueriesContext counts queries regardless).
    os.environ.update(DATABASE_URL=url, DEBUG="0", DJANGO_SETTINGS_MODULE="odr.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret-" + "x" * 40)
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS odr_bench_sweep")
        conn.execute("CREATE DATABASE odr_bench_sweep")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)

    import django

    django.setup()
    import logging

    logging.getLogger("odr.deadlines.sweep").setLevel(logging.WARNING)  # one report line per run otherwise
    print(f"bench/sweep.py, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} cores, {load()}")
    if args.only in (None, "reminders"):
        bench_reminders()
    if args.only in (None, "due"):
        bench_due()


if __name__ == "__main__":
    main()
