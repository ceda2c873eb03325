"""Benchmark: each case page's time, queries and size on a case with 10 messages and one with 500.

Run on demand, never in the test suite:
    .venv/bin/python bench/case_pages.py                 (a scratch SQLite database in a temporary folder)
    DATABASE_URL=postgres://…/scratch .venv/bin/python bench/case_pages.py
                                                          (PostgreSQL: a scratch database, migrated and
                                                          filled here; its data is left in place)
    .venv/bin/python bench/case_pages.py --rounds 50 --messages 10,500

Builds, through the services, two mediation cases of the same parties in the same state (open, with a
proposal, files and comments, a representative, a disclosure, an extension) that differ only in their
number of messages (every channel in turn: joint, and each party's private one with the mediator),
then requests each case page through Django's test client (the whole middleware stack, no network,
DEBUG off) for each reader: the complaint page (consumer, merchant agent), the parties' case page
(consumer, agent), the mediator's case page, the compliance case audit page. Each page is requested
in turn (first, second, …) for `--rounds` rounds after a warm-up. Prints, per page and size, the
median and p90 time, the queries and the HTML size, the ratio large/small, and the load average.

The same script runs on the code before paging (the landed code): check out that commit in a scratch
folder and run it there to get the baseline in the same conditions.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WARMUP = 5
SPEAKERS = (
    ("consumer", "everyone"),
    ("agent", "everyone"),
    ("mediator", "consumer"),
    ("mediator", "merchant"),
    ("consumer", "consumer"),
    ("agent", "merchant"),
    ("mediator", "everyone"),
)


def build(people: dict, *, messages: int):
    """A case with every kind of record and `messages` messages, built as the platform does."""
    from django.core.files.base import ContentFile

    from mediation.case_documents import case_document_add, case_document_comment
    from mediation.services import (
        case_add_representative,
        case_disclose_conflict,
        case_extend,
        case_open,
        case_post_message,
        proposal_issue,
    )
    from tests.helpers import pdf_bytes, referred_case

    consumer, agent, mediator = people["consumer"], people["agent"], people["mediator"]
    case = case_open(case=referred_case(consumer, people["merchant"], agent), by=mediator)
    case_add_representative(case=case, by=consumer, name="Me Durand", email="durand@example.test")
    case_disclose_conflict(case=case, by=mediator, text="J'ai été client de ce marchand.")
    case_extend(case=case, by=mediator, reason="Expertise.", new_due_date=date.today() + timedelta(days=200))
    for n, by in enumerate((consumer, agent)):
        file = case_document_add(
            case=case, by=by, file=ContentFile(pdf_bytes(f"Pièce {n}"), name=f"p{n}.pdf")
        )
        case_document_comment(case=case, by=consumer if n else agent, evidence=file, body=f"Vu {n}")
    for n in range(messages):
        role, audience = SPEAKERS[n % len(SPEAKERS)]
        case_post_message(
            case=case, by=people[role], body=f"Message {n} au sujet du dossier.", audience=audience
        )
    proposal_issue(case=case, by=mediator, solution="Remboursement de 60 €.")
    return case


def seed() -> dict:
    from odr.accounts.models import Role
    from odr.consent.keys import signing_key_create
    from tests.factories import MediationBodyFactory, MembershipFactory, MerchantFactory, UserFactory

    signing_key_create()  # filing signs a consent receipt; with DEBUG off nothing makes the key for us
    body = MediationBodyFactory()
    merchant = MerchantFactory(mediation_body=body)
    people = {
        "body": body,
        "merchant": merchant,
        "consumer": UserFactory(),
        "agent": MembershipFactory(role=Role.MERCHANT_AGENT, merchant=merchant).user,
        "mediator": MembershipFactory(role=Role.MEDIATOR, mediation_body=body, merchant=None).user,
        "compliance_officer": MembershipFactory(
            role=Role.COMPLIANCE_OFFICER, mediation_body=body, merchant=None
        ).user,
    }
    MembershipFactory(role=Role.MEDIATOR, mediation_body=body, merchant=None)  # a colleague to hand over to
    return people


def pages(case, body) -> dict[str, tuple[str, str]]:
    """{label: (reader, url)} of every case page."""
    from django.urls import reverse

    complaint = reverse("complaints:detail", args=[case.complaint.reference])
    parties = reverse("parties:case", args=[case.reference])
    return {
        "complaint page / consumer": ("consumer", complaint),
        "complaint page / agent": ("agent", complaint),
        "parties' case page / consumer": ("consumer", parties),
        "parties' case page / agent": ("agent", parties),
        "mediator's case page": ("mediator", reverse("mediator:case", args=[case.reference])),
        "case audit page / compliance": (
            "compliance_officer",
            reverse("compliance:audit", args=[body.slug, case.reference]),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--messages", default="10,500", help="the two sizes, comma-separated")
    args = parser.parse_args()
    sizes = [int(n) for n in args.messages.split(",")]

    scratch = tempfile.mkdtemp(prefix="odr-bench-case-pages-")
    database = os.environ.get("DATABASE_URL") or f"sqlite:///{scratch}/bench.sqlite3"
    os.environ.update(
        DATABASE_URL=database,
        DEBUG="0",
        DJANGO_SETTINGS_MODULE="odr.settings",
        MEDIA_ROOT=f"{scratch}/media",
        ODR_SIGNING_KEYS_DIR=f"{scratch}/keys",
        ODR_BROKER_DIR=f"{scratch}/broker",
        STATIC_ROOT=f"{scratch}/static",
    )
    os.environ.pop("REDIS_URL", None)
    os.makedirs(f"{scratch}/static")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    # DEBUG off serves hashed static names from a manifest, as in production.
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    started = time.perf_counter()
    people = seed()
    cases = {size: build(people, messages=size) for size in sizes}
    print(
        f"database: {connection.vendor}; cases of {sizes} messages built in "
        f"{time.perf_counter() - started:.1f} s"
    )
    clients = {}
    for reader in ("consumer", "agent", "mediator", "compliance_officer"):
        clients[reader] = Client(HTTP_ACCEPT_LANGUAGE="en")
        clients[reader].force_login(people[reader])

    calls = {}  # (label, size) -> a call returning the response
    for size, case in cases.items():
        for label, (reader, url) in pages(case, people["body"]).items():
            calls[(label, size)] = partial(clients[reader].get, url)

    queries, sizes_kb = {}, {}
    for key, call in calls.items():
        call()
        with CaptureQueriesContext(connection) as captured:
            response = call()
        assert response.status_code == 200, key
        queries[key], sizes_kb[key] = len(captured), len(response.content) / 1024

    times: dict = {key: [] for key in calls}
    keys = list(calls)
    for round_ in range(WARMUP + args.rounds):
        shift = round_ % len(keys)
        for key in keys[shift:] + keys[:shift]:  # each page first, second, … in turn
            begin = time.perf_counter()
            calls[key]()
            if round_ >= WARMUP:
                times[key].append(time.perf_counter() - begin)

    small, large = sizes[0], sizes[-1]
    print(f"{'page':<32} {'messages':>8} {'median ms':>10} {'p90 ms':>8} {'queries':>8} {'KB':>7}")
    for label in pages(cases[small], people["body"]):
        for size in sizes:
            values = times[(label, size)]
            p90 = statistics.quantiles(values, n=10)[-1] * 1000
            print(
                f"{label:<32} {size:>8} {statistics.median(values) * 1000:>10.1f} {p90:>8.1f} "
                f"{queries[(label, size)]:>8} {sizes_kb[(label, size)]:>7.1f}"
            )
        ratio = statistics.median(times[(label, large)]) / statistics.median(times[(label, small)])
        print(f"{'':<32} {'':>8} large/small: {ratio:.2f}×")
    print(f"{args.rounds} rounds after {WARMUP} of warm-up; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
