"""Benchmark: the sweep's due selection against the same query with a sequential scan forced.

Run on demand, never in the test suite:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/sweep.py

Creates its own database (odr_bench_sweep), migrates it, seeds 5,000,000 deadlines of which 1,000,000
pending and 1,000 due, then times the sweep's claim query (the ORM's SQL, FOR UPDATE SKIP LOCKED,
through the partial index) and the same query with index scans disabled, in one run. Prints both
medians, the ratio and the plan. Target: ≤ 5 ms, ≥ 100× faster than the scan.
"""

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


def bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/sweep.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    return urlunsplit(parts._replace(path="/odr_bench_sweep"))


def main() -> None:
    url = bench_database_url()
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    os.environ.update(DATABASE_URL=url, DEBUG="1", DJANGO_SETTINGS_MODULE="odr.settings")
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS odr_bench_sweep")
        conn.execute("CREATE DATABASE odr_bench_sweep")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)

    import django

    django.setup()
    from django.db import connection, transaction

    from odr import clock
    from odr.deadlines.models import Deadline, DeadlineStatus

    print(f"seeding {TOTAL:,} deadlines ({PENDING:,} pending, {DUE:,} due)…", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM django_content_type WHERE model = 'complaint'")
        content_type = cursor.fetchone()[0]
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
            [content_type, DUE, PENDING, PENDING, PENDING, TOTAL],
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
    print(f"ratio: {scan_ms / index_ms:.0f}× faster (target ≥ 100×; ≤ 5 ms)")
    print("plan:\n" + plan)


if __name__ == "__main__":
    main()
