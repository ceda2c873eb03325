"""Benchmark: `verify_audit` on 1,000,000 events, full and incremental, with the signed checkpoint.

Run on demand, never in the test suite (PostgreSQL only):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/verify.py [--keep]

Creates its own database (odr_bench_verify), migrates it, seeds 33,334 chains of 30 events
(1,000,020 events, realistic payloads, valid hashes computed with the writer's own chain.canonical_hash,
loaded with COPY), then, each measured in a fresh process (so the peak RSS growth is the check's own):
  1. the full check with 1 job and with 2 jobs (events/s, seconds per 1M, peak RSS growth);
  2. the daily signed checkpoint of every head (first run: every chain is new);
  3. a day's events added (1,000,000 cases a year × 30 events ÷ 365 ≈ 82,000 events over 16,400 chains),
     then `--since-checkpoint` (the day's events only) and the full check for comparison;
  4. the checkpoint files verified with the public JWK Set alone, then one chain rewritten consistently
     from genesis: the full check still passes, the checkpoint check fails naming it.
Prints the load average beside each figure. `--keep` reuses a seeded database (skips 0 and seeding).
Target: ≤ 10 s per 1,000,000 events on one core, peak memory growth < 50 MB.
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE = "odr_bench_verify"
CHAINS, PER_CHAIN = int(os.environ.get("BENCH_CHAINS", 33_334)), 30  # BENCH_CHAINS: a smaller trial run
DAY_CHAINS, DAY_EVENTS_PER_CHAIN = (
    min(16_400, CHAINS),
    5,
)  # ≈ 82,000 events: one day at 1,000,000 cases a year
KINDS = [
    "complaint.filed",
    "consent.given",
    "consent.given",
    "complaint.viewed",
    "complaint.answered",
    "message.posted",
    "complaint.referred",
    "case.received",
    "case.opened",
    "document.uploaded",
    "message.posted",
    "deadline.reminded",
    "proposal.issued",
    "proposal.accepted",
    "case.closed",
]


def bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/verify.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    return urlunsplit(parts._replace(path=f"/{DATABASE}"))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def payload_for(kind: str, rng: random.Random, number: int) -> dict:
    """What the services write: amounts, references, short texts, ids, with accents."""
    base = {"actor_display": rng.choice(["Camille Martin", "Léa Dubois", "Service client Lumière"])}
    if kind == "complaint.filed":
        base |= {
            "amount_cents": rng.randint(500, 250_000),
            "category": rng.choice(["non_delivery", "defective", "refund"]),
            "order_reference": f"CMD-{rng.randint(1000, 999_999)}",
            "merchant": f"M{rng.randint(1, 5000)}",
        }
    elif kind.startswith("consent."):
        base |= {
            "purpose": rng.choice(["complaint_processing", "share_with_merchant_and_mediator"]),
            "receipt_id": f"{rng.getrandbits(128):032x}",
            "notice_version": "2026-01",
        }
    elif kind == "message.posted":
        base |= {
            "message_id": rng.randint(1, 10**8),
            "length": rng.randint(20, 4000),
            "attachments": rng.randint(0, 3),
        }
    elif kind == "proposal.issued":
        base |= {
            "amount_cents": rng.randint(500, 250_000),
            "due": "2026-05-12",
            "text_sha256": f"{rng.getrandbits(256):064x}",
        }
    elif kind in ("complaint.answered", "case.closed"):
        base |= {
            "decision": rng.choice(["reject", "accept", "partial"]),
            "note": "Décision motivée transmise aux parties.",
        }
    else:
        base |= {"case": f"M-2026-{number:06d}", "step": kind}
    return base


def seed(url: str) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        users = [
            conn.execute(
                "INSERT INTO accounts_user (password, is_superuser, email, first_name, last_name, is_staff, "
                "is_active, date_joined, preferred_language) "
                "VALUES ('!', false, %s, '', '', false, true, now(), "
                "'fr') RETURNING id",
                [f"bench{n}@example.test"],
            ).fetchone()[0]
            for n in range(20)
        ]
        conn.commit()
        events, heads = append_events(
            conn, users, range(1, CHAINS + 1), PER_CHAIN, start=datetime(2021, 1, 4, tzinfo=UTC), heads={}
        )
        write_heads(conn, heads, new=True)
        conn.execute("ANALYZE audit_auditevent; ANALYZE audit_auditstreamhead")
        conn.commit()
    print(
        f"seeded {events:,} events in {CHAINS:,} chains in {time.perf_counter() - started:.1f} s ({load()})",
        flush=True,
    )


def append_events(conn, users, numbers, count, *, start, heads):
    """COPY `count` events onto each chain `numbers` (from its head in `heads`, or from genesis)."""
    from odr.audit.chain import canonical_hash, canonical_json, canonical_time
    from odr.audit.models import GENESIS_HASH

    rng = random.Random(14)
    written = 0
    columns = "stream, seq, kind, occurred_at, actor_id, actor_role, payload, prev_hash, hash"
    with conn.cursor().copy(f"COPY audit_auditevent ({columns}) FROM STDIN") as copy:
        for number in numbers:
            stream = f"C-2026-{number:06d}"
            seq, previous = heads.get(stream, (0, GENESIS_HASH))
            moment = start + timedelta(minutes=number % 1440)
            for _ in range(count):
                seq += 1
                kind = KINDS[(seq - 1) % len(KINDS)]
                moment += timedelta(seconds=rng.randint(60, 86_400), microseconds=rng.randint(0, 999_999))
                actor = rng.choice(users) if seq % 4 else None
                role = rng.choice(["consumer", "merchant_agent", "mediator"]) if actor else ""
                payload = payload_for(kind, rng, number)
                digest = canonical_hash(
                    stream, seq, kind, canonical_time(moment), actor, role, canonical_json(payload), previous
                )
                copy.write_row(
                    (
                        stream,
                        seq,
                        kind,
                        moment,
                        actor,
                        role,
                        json.dumps(payload, ensure_ascii=False),
                        previous,
                        digest,
                    )
                )
                previous = digest
                written += 1
            heads[stream] = (seq, previous)
    return written, heads


def write_heads(conn, heads, *, new: bool):
    if new:
        with conn.cursor().copy(
            "COPY audit_auditstreamhead "
            "(stream, last_seq, last_hash, checkpointed_seq, checkpointed_hash) FROM STDIN"
        ) as copy:
            for stream, (seq, digest) in heads.items():
                copy.write_row((stream, seq, digest, 0, "0" * 64))
        return
    with conn.cursor() as cursor:
        cursor.executemany(
            "UPDATE audit_auditstreamhead SET last_seq = %s, last_hash = %s WHERE stream = %s",
            [(seq, digest, stream) for stream, (seq, digest) in heads.items()],
        )


def measured(label: str, code: str) -> dict:
    """Run `code` in a fresh Django process; it sets `result` (a dict). Adds seconds and RSS growth."""
    script = f"""
import json, os, resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
import django
django.setup()
from django.db import connection
connection.ensure_connection()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cpu = lambda who: (lambda u: u.ru_utime + u.ru_stime)(resource.getrusage(who))
cpu_base = cpu(resource.RUSAGE_SELF)
started = time.perf_counter()
{code}
seconds = time.perf_counter() - started
cpu_seconds = cpu(resource.RUSAGE_SELF) - cpu_base + cpu(resource.RUSAGE_CHILDREN)
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
figures = dict(seconds=seconds, cpu_seconds=cpu_seconds, rss_growth_kb=own, worker_peak_rss_kb=workers)
print(json.dumps(dict(result, **figures)))
"""
    output = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, check=True, capture_output=True, text=True
    )
    figures = json.loads(output.stdout.strip().splitlines()[-1])
    figures["load"] = load()
    return figures


def report(label: str, figures: dict, events: int | None = None) -> None:
    events = figures.get("checked", events)
    line = f"{label:<44} {figures['seconds']:7.2f} s"
    if events:
        rate, per_million = events / figures["seconds"], figures["seconds"] * 1e6 / events
        line += f"  {events:>9,} events  {rate:>9,.0f} events/s  {per_million:6.2f} s per 1M"
    line += f"  verifier CPU {figures['cpu_seconds']:6.2f} s"
    if events:
        line += f" ({figures['cpu_seconds'] * 1e6 / events:5.2f} s per 1M)"
    line += f"  peak RSS growth {figures['rss_growth_kb'] / 1024:5.1f} MB"
    if figures.get("worker_peak_rss_kb"):
        line += f" (largest worker peak RSS {figures['worker_peak_rss_kb'] / 1024:.0f} MB)"
    if "ok" in figures:
        line += "  OK" if figures["ok"] else f"  BROKEN: {figures.get('problem')}"
    print(f"{line}  [{figures['load']}]", flush=True)


VERIFY = """
from odr.audit.services import audit_verify
r = audit_verify(jobs={jobs}, since_checkpoint={since})
result = dict(ok=r.ok, checked=r.checked, streams=r.streams, problem=r.problem)
"""


def main() -> None:
    url = bench_database_url()
    keys_dir = Path(tempfile.mkdtemp(prefix="odr-bench-keys-"))
    os.environ.update(
        DATABASE_URL=url, DEBUG="1", DJANGO_SETTINGS_MODULE="odr.settings", ODR_SIGNING_KEYS_DIR=str(keys_dir)
    )
    print(f"bench/verify.py on {os.cpu_count()} CPU(s), {load()}", flush=True)
    import django

    django.setup()
    if "--keep" not in sys.argv:
        print(f"seeding {CHAINS * PER_CHAIN:,} events ({CHAINS:,} chains of {PER_CHAIN})…", flush=True)
        seed(url)
    import psycopg

    full1 = measured("full", VERIFY.format(jobs=1, since=False))
    report("full check, 1 job", full1)
    full2 = measured("full", VERIFY.format(jobs=2, since=False))
    report("full check, 2 jobs", full2)
    print(f"  2 jobs vs 1: {full1['seconds'] / full2['seconds']:.2f}× faster", flush=True)

    checkpoint = measured(
        "checkpoint",
        """
from odr.audit.checkpoints import checkpoint_record
made = checkpoint_record()
result = dict(checkpoints=len(made), heads=sum(c.heads for c in made))
""",
    )
    report(
        f"signed checkpoint ({checkpoint['checkpoints']} file(s), {checkpoint['heads']:,} heads)", checkpoint
    )

    with psycopg.connect(url) as conn:
        cursor = conn.execute(
            "SELECT stream, last_seq, last_hash FROM audit_auditstreamhead ORDER BY stream LIMIT %s",
            [DAY_CHAINS],
        )
        heads = {stream: (seq, digest) for stream, seq, digest in cursor.fetchall()}
        users = [row[0] for row in conn.execute("SELECT id FROM accounts_user").fetchall()]
        numbers = [int(stream.rsplit("-", 1)[1]) for stream in heads]
        started = time.perf_counter()
        day, heads = append_events(
            conn, users, numbers, DAY_EVENTS_PER_CHAIN, start=datetime(2026, 12, 7, tzinfo=UTC), heads=heads
        )
        write_heads(conn, heads, new=False)
        conn.commit()
    print(
        f"added a day: {day:,} events on {len(heads):,} chains in {time.perf_counter() - started:.1f} s",
        flush=True,
    )

    with psycopg.connect(url) as conn:
        for label, sql in (
            (
                "changed heads (checkpoint, --since-checkpoint)",
                "SELECT stream FROM audit_auditstreamhead "
                "WHERE NOT (last_seq = checkpointed_seq) ORDER BY stream LIMIT 20000",
            ),
            (
                "events in chain order (full check)",
                'SELECT stream, seq FROM audit_auditevent ORDER BY stream COLLATE "C", seq',
            ),
            (
                "the day's events (--since-checkpoint)",
                "SELECT e.seq FROM (SELECT h.stream, h.checkpointed_seq FROM audit_auditstreamhead h "
                'WHERE NOT (h.last_seq = h.checkpointed_seq) ORDER BY h.stream COLLATE "C") h '
                "CROSS JOIN LATERAL (SELECT * FROM audit_auditevent e WHERE e.stream = h.stream "
                "AND e.seq >= h.checkpointed_seq ORDER BY e.seq OFFSET 0) e "
                'ORDER BY h.stream COLLATE "C", e.seq',
            ),
        ):
            plan = [row[0] for row in conn.execute(f"EXPLAIN {sql}").fetchall()]
            print(
                f"plan, {label}: "
                + " → ".join(line.strip() for line in plan if "->" in line or line == plan[0]),
                flush=True,
            )

    since = measured("since", VERIFY.format(jobs=1, since=True))
    report("--since-checkpoint (the day's events), 1 job", since)
    full_after = measured("full", VERIFY.format(jobs=1, since=False))
    report("full check after the day, 1 job", full_after)
    print(f"  incremental vs full: {full_after['seconds'] / since['seconds']:.0f}× less time", flush=True)

    published = Path(tempfile.mkdtemp(prefix="odr-bench-checkpoints-"))
    exported = measured(
        "export",
        f"""
from pathlib import Path
import json
from odr.audit.models import AuditCheckpoint
from odr.consent.keys import public_jwks
for number, compact in AuditCheckpoint.objects.values_list("number", "compact"):
    Path({str(published)!r}, f"{{number:08d}}.jws").write_text(compact)
Path({str(published)!r}).parent.joinpath("odr-bench-jwks.json").write_text(json.dumps(public_jwks()))
result = dict(files=AuditCheckpoint.objects.count())
""",
    )
    keys_file = published.parent / "odr-bench-jwks.json"
    check = measured(
        "checkpoint check",
        f"""
from odr.audit.checkpoints import checkpoints_verify, load_public_keys
r = checkpoints_verify([{str(published)!r}], load_public_keys({str(keys_file)!r}))
result = dict(ok=True, heads=r.heads)
""",
    )
    report(f"checkpoint files ({exported['files']}) vs database, public key only", check, events=None)
    print(
        f"  {check['heads']:,} checkpointed heads looked up: "
        f"{check['heads'] / check['seconds']:,.0f} heads/s",
        flush=True,
    )

    rewrite = measured(
        "rewrite",
        """
import json
from django.db import connection
from odr.audit.chain import event_hash
from odr.audit.models import GENESIS_HASH, AuditEvent
stream = "C-2026-REWRITTEN"
previous = GENESIS_HASH
with connection.cursor() as cursor:
    cursor.execute("SET session_replication_role = replica")
    for event in AuditEvent.objects.filter(stream=stream).order_by("seq"):
        payload = dict(event.payload, rewritten=True)
        fields = dict(stream=stream, seq=event.seq, kind=event.kind, occurred_at=event.occurred_at,
                      actor_id=event.actor_id, actor_role=event.actor_role, payload=payload)
        digest = event_hash(**fields, prev_hash=previous)
        cursor.execute("UPDATE audit_auditevent SET payload = %s, prev_hash = %s, hash = %s WHERE id = %s",
                       [json.dumps(payload), previous, digest, event.pk])
        previous = digest
    cursor.execute("UPDATE audit_auditstreamhead SET last_hash = %s WHERE stream = %s", [previous, stream])
result = dict(stream=stream)
""".replace("REWRITTEN", f"{CHAINS // 2:06d}"),
    )
    after = measured("full", VERIFY.format(jobs=2, since=False))
    report(f"chain {rewrite['stream']} rewritten from genesis: full check", after)
    caught = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "verify_audit",
            "--checkpoint",
            str(published),
            "--keys",
            str(keys_file),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    said = (caught.stdout + caught.stderr).splitlines()
    verdict = next((line for line in said if line.startswith(("OK", "BROKEN", "CommandError"))), said[-1:])
    print(f"checkpoint check after the rewrite: exit {caught.returncode}: {verdict}", flush=True)
    print(f"done, {load()}", flush=True)


if __name__ == "__main__":
    main()
