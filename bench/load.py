"""Benchmark: the web tier under an open-loop load — gunicorn with the shipped gunicorn.conf.py on
PostgreSQL, 10,000 complaints.

Run on demand, never in the test suite (127.0.0.1 only, bounded: about 5–8 minutes in all):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/4 \\
        .venv/bin/python bench/load.py [--reseed] [--duration 20] [--rates 50,100,200]
        [--worker-class gthread|sync] [--workers 2] [--threads 4]

1. Its own database (odr_bench_load, next to DATABASE_URL's), migrated. Seeded once (reused while it
   holds the expected data; --reseed starts again): 300 complaints through the services for 3
   merchants and 20 consumers (a third answered, one in ten referred to mediation and opened, with
   messages on both stages), then copies of the filed/answered/resolved ones in bulk (SQL) up to
   10,000 complaints, so that lists and counts see the full volume. A merchant API key, and a session
   (cookie) per consumer and per merchant agent, created in the database.
2. gunicorn -c gunicorn.conf.py on a free port, DEBUG off, a SECRET_KEY, ALLOWED_HOSTS=127.0.0.1,
   static files collected, the cache (API throttle) in Redis when REDIS_URL is set.
3. An open-loop generator (asyncio + aiohttp): requests leave on schedule at a constant rate whether
   or not earlier ones have answered; latency is measured from the scheduled instant (no coordinated
   omission); 10 s timeout. Mix: consumer complaint page 30 %, consumer mediation case page 10 %,
   merchant dashboard 20 %, API complaint list (Bearer key) 20 %, home page 20 %.
   Per rate: sent, answered, errors/timeouts, p50/p95/p99, achieved throughput, load average.
4. The rate where p95 crosses 100 ms: bisection between the fixed rates, 4 short steps.
5. Each page's CPU cost per request: sequential requests, CPU time of the gunicorn workers and of the
   PostgreSQL backends of the bench database read from /proc before and after.
The load generator, PostgreSQL and gunicorn share the machine's cores: the figures include that.
"""

import argparse
import asyncio
import contextlib
import math
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = "odr_bench_load"
TOTAL = 10_000
BASE = 300  # complaints filed through the services; the rest are bulk copies
CONSUMERS, MERCHANTS = 20, 3
TIMEOUT = 10.0
TARGET_P95_MS = 100.0
CPU_SECONDS_PER_PAGE = 20.0
MIX = [
    ("consumer_complaint", 30),
    ("consumer_case", 10),
    ("merchant_list", 20),
    ("api_list", 20),
    ("home", 20),
]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def load() -> str:
    return "load avg {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/load.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("bench/load.py runs on 127.0.0.1 only")
    return urlunsplit(parts._replace(path=f"/{DB_NAME}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- 1. The data ----------------------------------------------------------------------------------


def seeded() -> bool:
    from complaints.models import Complaint
    from mediation.models import MediationCase

    try:
        return Complaint.objects.count() == TOTAL and MediationCase.objects.exists()
    except Exception:
        return False


def seed() -> None:
    from django.db import connection

    from complaints.models import Complaint, ComplaintState
    from complaints.services import complaint_answer, complaint_post_message
    from mediation.services import case_open, case_post_message, case_refer
    from odr.accounts.models import Role
    from odr.consent.keys import signing_key_create
    from tests.factories import MediationBodyFactory, MembershipFactory, MerchantFactory, UserFactory
    from tests.helpers import file_complaint

    signing_key_create()
    body = MediationBodyFactory()
    mediator = MembershipFactory(role=Role.MEDIATOR, mediation_body=body, merchant=None).user
    merchants = [MerchantFactory(mediation_body=body) for _ in range(MERCHANTS)]
    agents = [MembershipFactory(role=Role.MERCHANT_OWNER, merchant=m).user for m in merchants]
    consumers = [UserFactory() for _ in range(CONSUMERS)]
    started = time.perf_counter()
    for index in range(BASE):
        consumer, m = consumers[index % CONSUMERS], index % MERCHANTS
        complaint = file_complaint(consumer, merchants[m])
        complaint_post_message(complaint=complaint, by=consumer, body="Avez-vous reçu ma réclamation ?")
        if (index // CONSUMERS) % 10 == 0:  # two cases per consumer
            complaint = complaint_answer(complaint=complaint, by=agents[m], decision="reject", text="Non.")
            case = case_refer(
                complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True
            )
            case = case_open(case=case, by=mediator)
            for n in range(5):
                case_post_message(case=case, by=mediator, body=f"Message {n} du médiateur aux parties.")
                case_post_message(case=case, by=consumer, body=f"Réponse {n} du consommateur.")
        elif index % 3 == 0:
            complaint_answer(complaint=complaint, by=agents[m], decision="accept", text="Nous remboursons.")
        if index % 50 == 49:
            print(f"  {index + 1} complaints through the services ({time.perf_counter() - started:.0f} s)")
    # Bulk copies of the complaints still with the merchant or closed without mediation (a referred
    # copy without its case would be inconsistent), spread over the same merchants and consumers.
    columns = [f.column for f in Complaint._meta.concrete_fields if f.column not in ("id", "reference")]
    listed = ", ".join(columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO complaints_complaint (reference, {listed})
            SELECT 'C-2025-' || lpad(row_number() OVER ()::text, 7, '0'), {listed}
            FROM complaints_complaint, generate_series(1, %s)
            WHERE state IN (%s, %s, %s)
            LIMIT %s
            """,
            [
                math.ceil(TOTAL / BASE) * 2,
                ComplaintState.FILED,
                ComplaintState.ANSWERED,
                ComplaintState.RESOLVED,
                TOTAL - BASE,
            ],
        )
        cursor.execute("ANALYZE")


def sessions_and_key() -> dict:
    """A session cookie per consumer and per merchant agent (as a login leaves), and an API key."""
    from django.test import Client

    from complaints.models import Complaint
    from mediation.models import MediationCase
    from odr.accounts.models import Membership, Role
    from odr.api.keys import api_key_create
    from odr.api.models import ApiKeyScope

    def cookie(user) -> str:
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    consumers = {}
    for case in MediationCase.objects.select_related("complaint__consumer"):
        consumers.setdefault(case.complaint.consumer, {"complaints": [], "cases": []})["cases"].append(
            case.reference
        )
    if not consumers:
        sys.exit("no mediation case in the bench database: rerun with --reseed")
    for consumer, data in consumers.items():
        data["complaints"] = list(
            Complaint.objects.filter(consumer=consumer)
            .exclude(reference__startswith="C-2025-")
            .values_list("reference", flat=True)
        )
    owners = Membership.objects.filter(role=Role.MERCHANT_OWNER).select_related("user", "merchant")
    _key, full_key = api_key_create(
        merchant=owners[0].merchant,
        by=owners[0].user,
        name=f"bench {secrets.token_hex(3)}",
        scopes=ApiKeyScope.READ_WRITE,
    )
    return {
        "consumers": [
            {"cookie": cookie(user), "complaints": d["complaints"], "cases": d["cases"]}
            for user, d in consumers.items()
        ],
        "agents": [cookie(m.user) for m in owners],
        "api_key": full_key,
    }


# --- 2. gunicorn ----------------------------------------------------------------------------------


def start_gunicorn(env: dict, port: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn exited: see {log_path}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.2)
    process.terminate()
    sys.exit("gunicorn did not start within 60 s")


class Server:
    """gunicorn on a free port, restartable (a fresh start after an overloaded step)."""

    def __init__(self, env: dict, log_path: Path, data: dict):
        self.env, self.log_path, self.data = env, log_path, data
        self.process = None
        self.base = ""

    def start(self) -> None:
        import urllib.request

        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.process = start_gunicorn(self.env, port, self.log_path)
        time.sleep(1)
        # Warm up: every page a few times, one at a time (imports, templates, connections).
        warm = Requests(self.base, self.data, seed=3)
        for kind in sorted(self.data["pages"]):
            for _ in range(4):
                _k, path, headers = warm.one(kind)
                request = urllib.request.Request(self.base + path, headers=headers)
                urllib.request.urlopen(request, timeout=60).read()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # quick shutdown: abandon the backlog
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                for pid in children(self.process.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        self.stop()
        print(f"  (gunicorn restarted: {load()})", flush=True)
        self.start()


def passed(result: dict) -> bool:
    return result["p95"] < TARGET_P95_MS and result["errors"] + result["timeouts"] == 0


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


# --- 3. The open-loop generator -------------------------------------------------------------------


class Requests:
    def __init__(self, base: str, data: dict, seed: int = 1):
        self.base, self.data = base, data
        self.random = random.Random(seed)
        self.kinds = [kind for kind, weight in MIX if kind in data["pages"] for _ in range(weight)]

    def one(self, kind: str | None = None) -> tuple[str, str, dict]:
        r = self.random
        kind = kind or r.choice(self.kinds)
        consumer = r.choice(self.data["consumers"])
        if kind == "consumer_complaint":
            return (
                kind,
                f"/complaints/{r.choice(consumer['complaints'])}/",
                {"Cookie": f"sessionid={consumer['cookie']}"},
            )
        if kind == "consumer_case":
            return (
                kind,
                f"/cases/{r.choice(consumer['cases'])}/",
                {"Cookie": f"sessionid={consumer['cookie']}"},
            )
        if kind == "merchant_list":
            return kind, "/merchant/", {"Cookie": f"sessionid={r.choice(self.data['agents'])}"}
        if kind == "api_list":
            return kind, "/api/v1/complaints/", {"Authorization": f"Bearer {self.data['api_key']}"}
        return "home", "/", {}


async def run_rate(base: str, data: dict, rate: float, duration: float) -> dict:
    import aiohttp

    requests = Requests(base, data, seed=int(rate))
    count = int(rate * duration)
    latencies, errors, timeouts, statuses = [], 0, 0, {}
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def fire(scheduled: float, path: str, headers: dict):
            nonlocal errors, timeouts
            try:
                async with session.get(base + path, headers=headers, allow_redirects=False) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                    if response.status != 200:
                        errors += 1
                        return
            except TimeoutError:
                timeouts += 1
                return
            except aiohttp.ClientError:
                errors += 1
                return
            latencies.append(time.monotonic() - scheduled)

        loop_start = time.monotonic() + 0.2
        tasks = []
        for i in range(count):
            scheduled = loop_start + i / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            _kind, path, headers = requests.one()
            tasks.append(asyncio.create_task(fire(scheduled, path, headers)))
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - loop_start
    # Percentiles over every request sent: a timeout or an error counts as infinitely slow, so that a
    # server that answers only a few requests cannot show a good p95.
    ranked = sorted(latencies) + [math.inf] * (errors + timeouts)

    def pct(p):
        return ranked[min(len(ranked) - 1, int(p * len(ranked)))] * 1000 if ranked else math.nan

    return {
        "rate": rate,
        "sent": count,
        "answered": len(latencies),
        "errors": errors,
        "timeouts": timeouts,
        "statuses": statuses,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "throughput": len(latencies) / elapsed,
        "load": load(),
    }


def ms(value: float) -> str:
    return f"{value:>8.1f}" if math.isfinite(value) else "  failed"


def report(result: dict) -> None:
    print(
        f"| {result['rate']:>5.0f} | {result['sent']:>5} | {result['answered']:>5} | "
        f"{result['errors']:>4} / {result['timeouts']:<4} | {ms(result['p50'])} | {ms(result['p95'])} | "
        f"{ms(result['p99'])} | {result['throughput']:>6.1f} | {result['load']} |",
        flush=True,
    )
    odd = {k: v for k, v in result["statuses"].items() if k != 200}
    if odd:
        print(f"  non-200 statuses: {odd}", flush=True)


# --- 5. CPU per page ------------------------------------------------------------------------------


def cpu_per_page(base: str, data: dict, workers: list[int], db_backends, samples: int) -> None:
    import urllib.request

    requests = Requests(base, data, seed=7)
    print(
        f"\nCPU per request: {samples} sequential requests per page (at least 3, at most "
        f"{CPU_SECONDS_PER_PAGE:.0f} s), no other load from this bench ({load()})"
    )
    print("| page | wall ms (median) | gunicorn CPU ms/req | PostgreSQL CPU ms/req | requests |")
    print("|---|---|---|---|---|")
    for kind, _weight in MIX:
        if kind not in data["pages"]:
            continue
        walls = []
        for _ in range(2):  # warm-up
            _k, path, headers = requests.one(kind)
            urllib.request.urlopen(urllib.request.Request(base + path, headers=headers), timeout=60).read()
        backends = db_backends()
        web0, db0 = cpu_seconds(workers), cpu_seconds(backends)
        bound = time.monotonic() + CPU_SECONDS_PER_PAGE  # a slow page gets fewer samples, not hours
        while len(walls) < samples and (len(walls) < 3 or time.monotonic() < bound):
            _k, path, headers = requests.one(kind)
            started = time.perf_counter()
            request = urllib.request.Request(base + path, headers=headers)
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
            walls.append(time.perf_counter() - started)
        web1, db1 = cpu_seconds(workers), cpu_seconds(backends)
        print(
            f"| {kind} | {statistics.median(walls) * 1000:.1f} | {(web1 - web0) / len(walls) * 1000:.1f} | "
            f"{(db1 - db0) / len(walls) * 1000:.1f} | {len(walls)} |",
            flush=True,
        )


# --- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per fixed rate")
    parser.add_argument("--rates", default="50,100,200")
    parser.add_argument("--bisect-steps", type=int, default=4)
    parser.add_argument("--bisect-duration", type=float, default=10.0)
    parser.add_argument("--cpu-samples", type=int, default=60)
    parser.add_argument(
        "--pages", default=",".join(kind for kind, _ in MIX), help="the mix's pages to send (default: all)"
    )
    parser.add_argument("--workers", default=os.environ.get("GUNICORN_WORKERS", "2"))
    parser.add_argument("--worker-class", default=os.environ.get("GUNICORN_WORKER_CLASS", "gthread"))
    parser.add_argument("--threads", default=os.environ.get("GUNICORN_THREADS", "4"))
    args = parser.parse_args()

    url = bench_database_url()
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    scratch = Path(tempfile.mkdtemp(prefix="odr-bench-load-"))
    keys = Path(tempfile.gettempdir()) / "odr-bench-load-keys"  # kept with the database between runs
    env = dict(
        os.environ,
        DATABASE_URL=url,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        EMAIL_URL="smtp://127.0.0.1:9",  # nothing is sent by these pages; production refuses no EMAIL_URL
        DJANGO_SETTINGS_MODULE="odr.settings",
        ODR_ENV_FILE=os.devnull,
        MEDIA_ROOT=str(scratch / "media"),
        STATIC_ROOT=str(scratch / "static"),
        ODR_SIGNING_KEYS_DIR=str(keys),
        ODR_BROKER_DIR=str(scratch / "broker"),
        ODR_API_RATE="100000000/minute",  # the throttle runs (cache read and write), never refuses
        GUNICORN_WORKERS=str(args.workers),
        GUNICORN_WORKER_CLASS=args.worker_class,
        GUNICORN_THREADS=str(args.threads),
        GUNICORN_LOG_LEVEL="warning",
    )
    os.environ.update(env)
    # This process only seeds and creates sessions: its broker is the filesystem one of the scratch
    # folder (nothing consumes it), whereas gunicorn gets REDIS_URL for its cache, as in production.
    os.environ.pop("REDIS_URL", None)
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if args.reseed and exists:
            conn.execute(f"DROP DATABASE {DB_NAME} WITH (FORCE)")
            exists = None
        if not exists:
            conn.execute(f"CREATE DATABASE {DB_NAME}")
            shutil.rmtree(keys, ignore_errors=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True, env=env)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, check=True, env=env
    )
    import django

    django.setup()

    print(f"bench/load.py — {load()}, {os.cpu_count()} CPUs, cache: {env.get('REDIS_URL') or 'local memory'}")
    if not seeded():
        if exists:
            sys.exit(f"{DB_NAME} holds other data: rerun with --reseed")
        started = time.perf_counter()
        print(f"seeding {TOTAL:,} complaints ({BASE} through the services)…", flush=True)
        seed()
        print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)
    else:
        print(f"reusing {DB_NAME} ({TOTAL:,} complaints; --reseed to start again)")
    data = sessions_and_key()
    data["pages"] = set(args.pages.split(","))
    from django.db import connections

    connections.close_all()

    print(
        f"gunicorn -c gunicorn.conf.py: {args.workers} workers, {args.worker_class}"
        + (f" × {args.threads} threads" if args.worker_class == "gthread" else "")
        + f", DEBUG off; access log in {scratch / 'gunicorn.log'}",
        flush=True,
    )

    def db_backends() -> list[int]:
        with psycopg.connect(admin, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [DB_NAME]
            ).fetchall()
        return [row[0] for row in rows]

    server = Server(env, scratch / "gunicorn.log", data)
    try:
        server.start()
        mix = {kind: weight for kind, weight in MIX if kind in data["pages"]}
        print(f"\nOpen loop, {args.duration:.0f} s per rate, mix {mix} (weights), timeout {TIMEOUT:.0f} s")
        print("|  rate |  sent | answ. | err / timeout |  p50 ms |  p95 ms |  p99 ms | req/s | load |")
        print("|---|---|---|---|---|---|---|---|---|")

        def step(rate: float, duration: float) -> dict:
            result = asyncio.run(run_rate(server.base, data, rate, duration))
            report(result)
            if not passed(result):
                # An overloaded server keeps working through requests whose clients gave up: start
                # afresh so that the next step does not inherit that backlog.
                server.restart()
            return result

        results = [step(float(rate), args.duration) for rate in args.rates.split(",")]
        below = [r["rate"] for r in results if passed(r)]
        above = [r["rate"] for r in results if not passed(r)]
        low = max(below, default=0.0)
        high = min([r for r in above if r > low], default=None)
        print(
            f"\nWhere p95 crosses {TARGET_P95_MS:.0f} ms (bisection, {args.bisect_duration:.0f} s per step):"
        )
        if high is None:
            print(f"p95 < {TARGET_P95_MS:.0f} ms at every rate tried (up to {low:.0f} req/s)")
        else:
            for _ in range(args.bisect_steps):
                rate = round((low + high) / 2)
                if rate in (low, high) or rate < 1:
                    break
                if passed(step(rate, args.bisect_duration)):
                    low = rate
                else:
                    high = rate
            print(f"p95 < {TARGET_P95_MS:.0f} ms at {low:.0f} req/s, not at {high:.0f} req/s")

        cpu_per_page(server.base, data, children(server.process.pid), db_backends, args.cpu_samples)
    finally:
        server.stop()
        for folder in ("static", "broker", "media"):  # the access log stays, for a look afterwards
            shutil.rmtree(scratch / folder, ignore_errors=True)
    print(f"\ndone — {load()}")


if __name__ == "__main__":
    main()
