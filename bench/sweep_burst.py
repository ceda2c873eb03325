"""Benchmark: the deadline sweep at the midnight burst, at the design volume, on PostgreSQL + Redis.

Run on demand, never in the test suite:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/sweep_burst.py [--per-day 2740] [--base 300]

Every legal due date ends at 23:59:59 local (odr/deadlines/calendar.py) and every reminder is due at
local midnight (odr/deadlines/reminders.py). At 1,000,000 cases a year, ~2,740 merchant-response
periods lapse each night and ~2,740 merchants reach their 7-day and ~2,740 their 2-day reminder: 8,220
items due within one second. A run of the sweep is capped (ODR_SWEEP_MAX_ITEMS, ODR_SWEEP_MAX_SECONDS)
and /readyz fails when the sweep lag exceeds 2 minutes (ODR_READY_SWEEP_LAG_SECONDS).

1. Its own database (odr_bench_burst), migrated. `--base` complaints filed through the services
   (3 merchants with one owner each, 20 consumers), then copied in bulk SQL up to 3 × `--per-day`
   filed complaints, each with its audit chain head (as filing leaves one) and one pending
   merchant-response deadline: a third due at T0 − 1 s (23:59:59, lapsing), a third due in 2 days
   and a third in 7 days at 23:59:59, their next reminder at T0 (local midnight). The seeded
   database is kept as a template so that each scenario starts from the same burst.
2. Scenarios, each a sequence of runs of the beat task itself (odr.deadlines.tasks.sweep: the sweep,
   its heartbeat, and the continuation it sends when capped), each run played at its own simulated
   instant (odr.clock.at) rather than sleeping: the figures are real durations, the minute gaps are
   computed. Beat's first tick after midnight is taken at T0 + 60 s (the worst phase: beat's interval
   is not aligned on the minute); the lag with the best phase is 60 s less.
   - "beat": ODR_SWEEP_CONTINUE off, one run per beat tick (what the code did before);
   - "continue": a capped run sends the next one at once (the default); the next run is played at
     the end of the previous one.
   The worst lag is what /readyz computes (now − the oldest due instant still pending), at its
   highest: just before the run that drains the oldest remaining item ends.
3. Per-item firing cost, by pass (due effects, reminders): milliseconds and queries (counted with a
   query wrapper on the connection), from the runs of the first scenario.
The e-mails (and the continuation) are published to the broker (REDIS_URL; its "notifications" and
"default" lists and their bindings are deleted at the end). Prints the load average before and after
each scenario.
"""

import argparse
import contextlib
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = "odr_bench_burst"
TEMPLATE = "odr_bench_burst_seed"
BEAT_SECONDS = 60.0
READY_LAG_SECONDS = 120.0


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def urls() -> tuple[str, str]:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/sweep_burst.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    if not os.environ.get("REDIS_URL"):
        sys.exit("bench/sweep_burst.py publishes to a real broker: set REDIS_URL=redis://…/<db>")
    return urlunsplit(parts._replace(path=f"/{DB_NAME}")), urlunsplit(parts._replace(path="/postgres"))


def midnight_after(days: int) -> datetime:
    """Local midnight (the platform's time zone) `days` days from today."""
    from odr.deadlines.calendar import local_date, zone

    tz = zone(None)
    day = local_date(datetime.now(tz), tz) + timedelta(days=days)
    return datetime.combine(day, datetime.min.time(), tzinfo=tz)


def seed(*, base: int, per_day: int, t0: datetime) -> None:
    from django.db import connection

    from complaints.models import Complaint, ComplaintState
    from odr.accounts.models import Role
    from odr.consent.keys import signing_key_create
    from tests.factories import MediationBodyFactory, MembershipFactory, MerchantFactory, UserFactory
    from tests.helpers import file_complaint

    signing_key_create()
    body = MediationBodyFactory()
    merchants = [MerchantFactory(mediation_body=body) for _ in range(3)]
    for merchant in merchants:
        MembershipFactory(role=Role.MERCHANT_OWNER, merchant=merchant)
    consumers = [UserFactory() for _ in range(20)]
    started = time.perf_counter()
    for index in range(base):
        file_complaint(consumers[index % len(consumers)], merchants[index % len(merchants)])
    print(f"{base} complaints filed through the services in {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    total = 3 * per_day
    columns = [f.column for f in Complaint._meta.concrete_fields if f.column not in ("id", "reference")]
    listed = ", ".join(columns)
    tz = str(t0.tzinfo)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO complaints_complaint (reference, {listed})
            SELECT 'C-2025-' || lpad(row_number() OVER ()::text, 7, '0'), {listed}
            FROM complaints_complaint, generate_series(1, %s)
            WHERE state = %s
            LIMIT %s
            """,
            [total // base + 1, ComplaintState.FILED, total - base],
        )
        # Filing leaves an audit chain head per complaint: the copies get one too.
        cursor.execute(
            """
            INSERT INTO audit_auditstreamhead
                (stream, last_seq, last_hash, checkpointed_seq, checkpointed_hash)
            SELECT c.reference, h.last_seq, h.last_hash, h.checkpointed_seq, h.checkpointed_hash
            FROM complaints_complaint c,
                 (SELECT * FROM audit_auditstreamhead WHERE stream LIKE 'C-%' LIMIT 1) h
            WHERE NOT EXISTS (SELECT 1 FROM audit_auditstreamhead x WHERE x.stream = c.reference)
            """
        )
        # One merchant-response deadline per complaint, in three groups: lapsing at T0 − 1 s, and
        # reminded at T0 for a due date 2 and 7 days on (23:59:59 local of that day).
        cursor.execute(
            "SELECT content_type_id, legal_basis FROM deadlines_deadline "
            "WHERE kind = 'merchant_response' LIMIT 1"
        )
        content_type_id, legal_basis = cursor.fetchone()
        cursor.execute("DELETE FROM deadlines_deadline WHERE kind = 'merchant_response'")
        cursor.execute(
            """
            WITH numbered AS (
                SELECT id, reference, (row_number() OVER (ORDER BY id) - 1) %% 3 AS grp
                FROM complaints_complaint
            ), planned AS (
                SELECT id, reference, grp,
                       CASE grp WHEN 0 THEN %(t0)s - interval '1 second'
                                WHEN 1 THEN ((%(t0)s AT TIME ZONE %(tz)s) + interval '2 days 23:59:59')
                                            AT TIME ZONE %(tz)s
                                ELSE ((%(t0)s AT TIME ZONE %(tz)s) + interval '7 days 23:59:59')
                                     AT TIME ZONE %(tz)s END AS due
                FROM numbered
            ), updated AS (
                UPDATE complaints_complaint c SET response_due_at = p.due FROM planned p WHERE c.id = p.id
            )
            INSERT INTO deadlines_deadline
                (content_type_id, object_id, case_reference, kind, due_at, status, legal_basis,
                 opened_at, closed_at, next_reminder_at)
            SELECT %(ct)s, id, reference, 'merchant_response', due, 'pending', %(basis)s,
                   %(t0)s - interval '25 days', NULL, CASE WHEN grp = 0 THEN NULL ELSE %(t0)s END
            FROM planned
            """,
            {"t0": t0, "tz": tz, "ct": content_type_id, "basis": legal_basis},
        )
        cursor.execute("SELECT count(*) FROM complaints_complaint")
        (complaints,) = cursor.fetchone()
        cursor.execute("VACUUM ANALYZE")
    print(
        f"copied up to {complaints:,} filed complaints, {total:,} deadlines due at T0 "
        f"in {time.perf_counter() - started:.0f} s"
    )


class QueryCounter:
    """Counts the queries of the connection, and notes where the reminder pass starts."""

    def __init__(self):
        self.count = 0
        self.reminders_at: tuple[float, int] | None = None

    def __call__(self, execute, sql, params, many, context):
        if self.reminders_at is None and "SKIP LOCKED" in sql and '"next_reminder_at" <=' in sql:
            self.reminders_at = (time.perf_counter(), self.count)
        self.count += 1
        return execute(sql, params, many, context)


def scenario(name: str, *, t0: datetime, oldest: datetime, continue_: bool) -> dict:
    """Runs of the beat task from T0 until nothing is due; returns the figures."""
    from django.conf import settings
    from django.db import connection

    from odr import clock
    from odr.deadlines.tasks import sweep
    from odr.ops.status import sweep_status

    settings.ODR_SWEEP_CONTINUE = continue_
    policy = "a capped run sends the next at once" if continue_ else "one run per beat tick"
    print(f"\n== {name}: {policy} ({load()})")
    start = t0 + timedelta(seconds=BEAT_SECONDS)  # beat's first tick after midnight, worst phase
    tick = start
    runs, worst_lag, items, counter = [], 0.0, 0, QueryCounter()
    pending_oldest = oldest
    with connection.execute_wrapper(counter):
        while True:
            counter.count, counter.reminders_at = 0, None
            t = time.perf_counter()
            with clock.at(start):
                summary = sweep()
            elapsed = time.perf_counter() - t
            end = start + timedelta(seconds=elapsed)
            done = summary["due"] + summary["reminders"] + summary["skipped"]
            items += done
            split = None
            if counter.reminders_at is not None:
                split = (counter.reminders_at[0] - t, counter.reminders_at[1])
            runs.append((start, elapsed, summary, counter.count, split))
            # /readyz during this run: highest just before it ends, from the oldest item it found.
            if pending_oldest is not None:
                worst_lag = max(worst_lag, (end - pending_oldest).total_seconds())
            with clock.at(end):
                status = sweep_status(end)
            pending_oldest = min(
                [at for at in (status.oldest_due_at, status.oldest_reminder_at) if at], default=None
            )
            print(
                f"run {len(runs)} at T0+{(start - t0).total_seconds():.0f} s: {elapsed:.1f} s, "
                f"{summary['due']} due, {summary['reminders']} reminders, {summary['skipped']} skipped, "
                f"{summary['failed']} failed, {counter.count:,} queries, capped {summary['capped']}, "
                f"continued {summary['continued']}",
                flush=True,
            )
            if pending_oldest is None:
                break
            # Until the next run starts, /readyz sees the oldest item still pending waiting.
            tick = tick + timedelta(seconds=BEAT_SECONDS)
            while tick < end:
                tick += timedelta(seconds=BEAT_SECONDS)  # beat's ticks during a run queue behind it
            start = end if summary["continued"] else tick
            worst_lag = max(worst_lag, (start - pending_oldest).total_seconds())
            if len(runs) > 50:
                sys.exit("more than 50 runs: giving up")
    drained = (runs[-1][0] + timedelta(seconds=runs[-1][1]) - t0).total_seconds()
    print(
        f"{name}: {items:,} items in {len(runs)} runs, {sum(r[1] for r in runs):.1f} s of sweeping; "
        f"drained at T0+{drained:.0f} s; worst /readyz lag {worst_lag:.0f} s "
        f"({worst_lag - BEAT_SECONDS:.0f} s with beat's best phase); limit {READY_LAG_SECONDS:.0f} s: "
        f"{'met' if worst_lag <= READY_LAG_SECONDS else 'NOT met'} ({load()})"
    )
    return {"runs": runs, "worst_lag": worst_lag, "items": items}


def per_item(runs: list) -> None:
    """Per-item cost by pass, from the runs of one scenario (the first run holds the whole due pass)."""
    due_s = due_q = due_n = rem_s = rem_q = rem_n = 0
    for _start, elapsed, summary, queries, split in runs:
        if split is None:  # the due pass only (capped in it)
            due_s, due_q, due_n = due_s + elapsed, due_q + queries, due_n + summary["due"]
        else:
            seconds, count = split
            due_s, due_q, due_n = due_s + seconds, due_q + count, due_n + summary["due"]
            rem_s += elapsed - seconds
            rem_q += queries - count
            rem_n += summary["reminders"] + summary["skipped"]
    if due_n:
        print(f"due effect (lapse, D3/D4): {due_s * 1000 / due_n:.2f} ms, {due_q / due_n:.1f} queries/item")
    if rem_n:
        print(f"reminder (D3):             {rem_s * 1000 / rem_n:.2f} ms, {rem_q / rem_n:.1f} queries/item")


def fresh_database(admin: str, *, template: str | None) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.execute(f"CREATE DATABASE {DB_NAME}" + (f" TEMPLATE {template}" if template else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-day", type=int, default=2740, help="lapses a night (and reminders of each day)"
    )
    parser.add_argument("--base", type=int, default=300, help="complaints filed through the services")
    parser.add_argument("--only", choices=["beat", "continue"], help="run one scenario only")
    args = parser.parse_args()
    url, admin = urls()
    import psycopg

    os.environ.update(DATABASE_URL=url, DEBUG="0", DJANGO_SETTINGS_MODULE="odr.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret-" + "x" * 40)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
    fresh_database(admin, template=None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)

    import django

    django.setup()
    import logging

    from django.db import connection

    logging.getLogger("odr.deadlines.sweep").setLevel(logging.WARNING)  # one line per run otherwise
    logging.getLogger("odr.tasks_enqueue").setLevel(logging.WARNING)
    print(f"bench/sweep_burst.py, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} cores, {load()}")
    t0 = midnight_after(2)
    print(f"T0 = {t0.isoformat()} (local midnight); {args.per_day:,} lapses + {2 * args.per_day:,} reminders")
    seed(base=args.base, per_day=args.per_day, t0=t0)
    connection.close()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE} TEMPLATE {DB_NAME}")
    oldest = t0 - timedelta(seconds=1)
    results = {}
    try:
        for name, continue_ in (("beat", False), ("continue", True)):
            if args.only not in (None, name):
                continue
            connection.close()
            fresh_database(admin, template=TEMPLATE)
            results[name] = scenario(name, t0=t0, oldest=oldest, continue_=continue_)
        first = next(iter(results))
        print(f"\n== per-item firing cost (scenario '{first}')")
        per_item(results[first]["runs"])
    finally:
        connection.close()
        import redis

        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        with contextlib.suppress(Exception):
            client.delete(
                "notifications",
                "default",
                *(f"_kombu.binding{p}.{q}" for p in ("", "_permanent") for q in ("default", "notifications")),
            )
        client.close()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")


if __name__ == "__main__":
    main()
