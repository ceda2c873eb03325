"""Soak: `make demo` for N minutes with synthetic activity, a killed worker and a killed beat.

    .venv/bin/python bench/soak.py [--minutes 30] [--seed 1]

Runs the real `make demo` (migrate, seed_demo, supervisor with the site, a worker and beat) on a
scratch copy: its own SQLite database, broker folders, media and signing keys in a temporary folder,
and a free port on 127.0.0.1 (never the user's db.sqlite3 or port 8000). Then, through HTTP against
the live site, as the demo users (mediation/demo.py, password demo-odr-2026):

- a consumer logs in and files a complaint to Librairie Lumière (the four steps of the form), posts a
  message, asks for the complaint's acknowledgement PDF (rendered by the worker);
- the merchant's agent rejects it; the consumer refers it to mediation; the mediator takes the case
  and requests documents;
- someone opens the dev mailbox and reads the newest e-mail.

Rounds come every few seconds in the first third, then the site is left idle for a long gap (8
minutes in a 30-minute run: the filesystem broker's crash came after 7 idle minutes), then rounds
again. The worker is SIGKILLed once a quarter of the way in, beat once three quarters of the way in.
At the end it waits for the outbox and the PDFs to settle (the periodic pick-ups run every minute),
stops the demo as Ctrl-C does, and prints: requests by kind, non-2xx/3xx answers, connection
failures, e-mails delivered vs queued, documents ready vs asked, restarts seen, Python tracebacks in
the output, orphan processes, load average. Exit status 1 if anything crashed, failed or was lost.
Bounded: one request at a time, 30-second timeouts, 127.0.0.1 only.
"""

import argparse
import collections
import os
import random
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.demo_processes import DemoProcesses, alive  # noqa: E402

PASSWORD = "demo-odr-2026"
CONSUMERS = ["camille@demo.test", "leo@demo.test", "ines@demo.test"]
AGENT = "agent@lumiere.demo"
MEDIATOR = "mediator@demo.test"
TIMEOUT = 30  # a loaded laptop can be slow; no answer in 30 s counts as a failure
SETTLE_SECONDS = 240  # the relay and render_pending run every minute; a retry waits 30 s


class Site:
    """HTTP against the live demo, one session per person, every answer counted."""

    def __init__(self, base: str):
        self.base = base
        self.sessions: dict[str, requests.Session] = {}
        self.counts: collections.Counter = collections.Counter()
        self.bad: list[str] = []  # non-2xx/3xx answers
        self.refused: list[str] = []  # connection failures and timeouts
        self.seconds: list[float] = []

    def request(self, kind: str, who: str, method: str, path: str, **kwargs) -> requests.Response | None:
        self.counts[kind] += 1
        session = self.sessions.setdefault(who, requests.Session())
        began = time.monotonic()
        try:
            response = session.request(method, self.base + path, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            self.refused.append(f"{kind} {method} {path}: {type(exc).__name__}")
            return None
        finally:
            self.seconds.append(time.monotonic() - began)
        if response.status_code >= 400:
            self.bad.append(f"{kind} {method} {path}: {response.status_code}")
            return None
        return response

    def post_form(self, kind: str, who: str, path: str, data: dict, form_page: str | None = None):
        """POST as the browser would: the CSRF token from the page that shows the form."""
        page = self.request(kind + " (form)", who, "GET", form_page or path)
        if page is None:
            return None
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if token is None:
            self.bad.append(f"{kind}: no form on {form_page or path} ({page.url})")
            return None
        return self.request(
            kind,
            who,
            "POST",
            path,
            data={"csrfmiddlewaretoken": token.group(1), **data},
            headers={"Referer": self.base + (form_page or path)},
        )

    def log_in(self, who: str) -> bool:
        self.sessions.pop(who, None)
        done = self.post_form("login", who, "/accounts/login/", {"login": who, "password": PASSWORD})
        return done is not None and "/accounts/login/" not in done.url


def one_round(site: Site, rng: random.Random, n: int, out: dict) -> None:
    """One complaint through its stages, each step as the person who takes it."""
    consumer = rng.choice(CONSUMERS)
    if not site.log_in(consumer):
        return
    search = site.request("file: merchant search", consumer, "GET", "/complaints/new/merchant/?q=Lumière")
    if search is None:
        return
    merchant = re.search(r'name="merchant" value="(\d+)"', search.text)
    if merchant is None:
        site.bad.append("file: Lumière not found in the merchant search")
        return
    step = "/complaints/new/{}/"
    if (
        site.post_form(
            "file: merchant",
            consumer,
            step.format("merchant"),
            {"merchant": merchant.group(1)},
            form_page=step.format("merchant") + "?q=Lumière",
        )
        is None
    ):
        return
    details = {
        "category": "non_delivery",
        "order_reference": f"SOAK-{n}",
        "amount": "42.50",
        "currency": "EUR",
        "description": f"Soak round {n}: paid, never delivered, two reminders unanswered.",
        "desired_outcome": "A refund.",
    }
    if site.post_form("file: details", consumer, step.format("details"), details) is None:
        return
    if site.post_form("file: evidence", consumer, step.format("evidence"), {"then": "review"}) is None:
        return
    filed = site.post_form(
        "file: review and send",
        consumer,
        step.format("review"),
        {"consent_processing": "on", "consent_sharing": "on"},
    )
    reference = re.search(r"/complaints/(C-\d{4}-\d+)/", filed.url) if filed is not None else None
    if reference is None:
        site.bad.append(f"file: no complaint reference after sending (round {n})")
        return
    ref = reference.group(1)
    out["complaints"].append(ref)
    page = f"/complaints/{ref}/"
    site.post_form("message", consumer, f"{page}messages/", {"body": f"Any news? (round {n})"}, page)
    if (
        site.post_form(
            "document asked", consumer, f"{page}documents/", {"kind": "complaint_acknowledgement"}, page
        )
        is not None
    ):
        out["documents_asked"] += 1

    if site.log_in(AGENT):
        site.request("merchant dashboard", AGENT, "GET", "/merchant/")
        site.post_form(
            "merchant answer",
            AGENT,
            f"{page}answer/",
            {"decision": "reject", "text": "Delivered on time: the tracking shows it."},
            page,
        )
    referred = site.post_form(
        "refer to mediation",
        consumer,
        f"{page}refer/",
        {"other_proceedings": "no", "acting_as_consumer": "yes", "excluded_subject": "", "consent": "on"},
    )
    case = re.search(r"\b(M-\d{4}-\d+)\b", referred.text) if referred is not None else None
    if case is None:
        site.bad.append(f"refer: no case reference (round {n}, {ref})")
        return
    case_page = f"/mediator/cases/{case.group(1)}/"
    if site.log_in(MEDIATOR):
        site.request("mediator workspace", MEDIATOR, "GET", "/mediator/")
        site.post_form("mediator takes case", MEDIATOR, f"{case_page}take/", {}, case_page)
        if (
            site.post_form(
                "documents requested",
                MEDIATOR,
                f"{case_page}request-documents/",
                {"text": "The order confirmation and the tracking page, please."},
                case_page,
            )
            is not None
        ):
            out["documents_requested"] += 1
    mailbox = site.request("dev mailbox", consumer, "GET", "/dev/mailbox/")
    newest = re.search(r'href="(/dev/mailbox/\d+/)"', mailbox.text) if mailbox is not None else None
    if newest:
        site.request("dev mailbox e-mail", consumer, "GET", newest.group(1))


def count(demo: DemoProcesses, table: str, status: str, first_id: int, extra: str = "") -> int:
    return demo.sql(f"SELECT count(*) FROM {table} WHERE id > ? AND status = ? {extra}", first_id, status)[0][
        0
    ]


def settled(demo, marks) -> bool:
    pending = count(demo, "notifications_outboxmessage", "pending", marks["outbox"], "AND channel = 'email'")
    rendering = sum(
        count(demo, "documents_generateddocument", s, marks["documents"]) for s in ("pending", "running")
    )
    return pending == 0 and rendering == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    total = args.minutes * 60
    idle_from, idle_to = total * 0.35, total * 0.35 + min(8 * 60, total * 0.3)
    kills = {"worker": total * 0.25, "beat": total * 0.75}
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="odr-soak-") as scratch:
        demo = DemoProcesses(Path(scratch))
        print(
            f"soak: {args.minutes} min on {demo.base_url}, scratch {scratch}; make demo starting", flush=True
        )
        site = Site(demo.base_url)
        out = {"complaints": [], "documents_asked": 0, "documents_requested": 0}
        killed = {}
        with demo.running(make=True):
            demo.wait_ready(timeout=300)  # make demo migrates and seeds first
            # The seed's own e-mails and PDFs go out first, so that what follows counts this run's.
            demo.wait_for(
                lambda: settled(demo, {"outbox": 0, "documents": 0}), SETTLE_SECONDS, "the seed's mail"
            )
            marks = {
                "outbox": demo.sql("SELECT coalesce(max(id), 0) FROM notifications_outboxmessage")[0][0],
                "documents": demo.sql("SELECT coalesce(max(id), 0) FROM documents_generateddocument")[0][0],
                "mailbox": demo.sql("SELECT coalesce(max(id), 0) FROM notifications_devmailboxemail")[0][0],
            }
            started, n = time.monotonic(), 0
            while (elapsed := time.monotonic() - started) < total:
                for program, at in kills.items():
                    if elapsed >= at and program not in killed:
                        killed[program] = demo.pid(program)
                        os.kill(killed[program], signal.SIGKILL)
                        print(
                            f"  {elapsed / 60:5.1f} min: SIGKILL {program} (pid {killed[program]})",
                            flush=True,
                        )
                if idle_from <= elapsed < idle_to:
                    time.sleep(5)  # idle: only beat's minute ticks, as a demo left open over lunch
                    continue
                n += 1
                one_round(site, rng, n, out)
                time.sleep(rng.uniform(2, 8))
            print(f"  {total / 60:5.1f} min: activity over after {n} rounds; waiting for the outbox and PDFs")
            deadline = time.monotonic() + SETTLE_SECONDS
            while not settled(demo, marks) and time.monotonic() < deadline:
                time.sleep(5)
            sent = count(
                demo, "notifications_outboxmessage", "sent", marks["outbox"], "AND channel = 'email'"
            )
            queued = demo.sql(
                "SELECT count(*) FROM notifications_outboxmessage WHERE id > ? AND channel = 'email'",
                marks["outbox"],
            )[0][0]
            dead = count(
                demo, "notifications_outboxmessage", "dead", marks["outbox"], "AND channel = 'email'"
            )
            in_mailbox = demo.sql(
                "SELECT count(*) FROM notifications_devmailboxemail WHERE id > ?", marks["mailbox"]
            )[0][0]
            ready = count(demo, "documents_generateddocument", "ready", marks["documents"])
            failed = count(demo, "documents_generateddocument", "failed", marks["documents"])
            asked = demo.sql(
                "SELECT count(*) FROM documents_generateddocument WHERE id > ?", marks["documents"]
            )[0][0]
            acknowledged = sum(
                demo.sql(
                    "SELECT count(*) FROM notifications_devmailboxemail WHERE id > ? AND subject LIKE ?",
                    marks["mailbox"],
                    f"%{ref}%",
                )[0][0]
                > 0
                for ref in out["complaints"]
            )
            children = demo.descendants()
            restarts = demo.restarts()
        orphans = [pid for pid in children if alive(pid)]
        log = demo.log()
        tracebacks = log.count("Traceback (most recent call last)")
        load_after = os.getloadavg()

    print("\nrequests by kind:")
    for kind, number in sorted(site.counts.items()):
        print(f"  {number:6}  {kind}")
    print(
        f"rounds: {n}; complaints filed: {len(out['complaints'])}; "
        f"mediation document requests: {out['documents_requested']}"
    )
    seconds = sorted(site.seconds) or [0.0]
    median, p95 = seconds[len(seconds) // 2], seconds[int(len(seconds) * 0.95)]
    print(
        f"requests: {len(site.seconds)}; seconds per request (redirects followed): median {median:.2f}, "
        f"p95 {p95:.2f}, max {seconds[-1]:.2f}"
    )
    print(f"non-2xx/3xx answers: {len(site.bad)}  {site.bad[:5]}")
    print(f"connection failures: {len(site.refused)}  {site.refused[:5]}")
    print(
        f"e-mails: queued {queued}, delivered {sent} (dev mailbox {in_mailbox}), dead {dead}, "
        f"still pending {queued - sent - dead}; complaints with an e-mail naming them "
        f"{acknowledged}/{len(out['complaints'])}"
    )
    print(f"documents: asked {out['documents_asked']} (rows {asked}), ready {ready}, failed {failed}")
    print(f"killed: {sorted(killed)}; restarts seen (unexpected exits): {restarts}")
    print(f"Python tracebacks in the output: {tracebacks}")
    print(f"processes left after Ctrl-C: {orphans}")
    print(f"load average before {load_before}, after {load_after}")
    problems = [
        site.bad and "non-2xx/3xx answers",
        site.refused and "connection failures",
        (sent != queued or in_mailbox < sent) and "e-mails not delivered",
        acknowledged != len(out["complaints"]) and "a complaint without its e-mail",
        (ready != asked or asked < out["documents_asked"]) and "documents not ready",
        restarts != {name: 1 for name in killed} and "unexpected restarts",
        tracebacks and "tracebacks",
        orphans and "orphan processes",
        not out["complaints"] and "no activity",
    ]
    problems = [p for p in problems if p]
    print(
        "RESULT: " + ("OK, nothing crashed or was lost" if not problems else "FAILED: " + ", ".join(problems))
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
