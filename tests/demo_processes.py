"""`make demo`'s real process set (supervisord.demo.conf: site, worker, beat) on a scratch copy.

Used by tests/test_demo_processes.py and bench/soak.py. Everything the demo writes goes under one
scratch folder (SQLite database, broker folders, media, signing keys, beat schedule, the output), the
site listens on a port of its own on 127.0.0.1, and the caller's database, Redis and mail settings are
dropped from the environment: the demo is the embedded default, whatever the test run uses.
"""

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.processes import free_port

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# What a test or bench run may have set that is not the demo's embedded default.
_FOREIGN = ("DATABASE_URL", "REDIS_URL", "EMAIL_URL", "EMAIL_BACKEND", "DJANGO_SETTINGS_MODULE")


def alive(pid: int) -> bool:
    """Running: not gone, not a zombie (an exited child not yet reaped by whoever adopted it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class DemoProcesses:
    def __init__(self, scratch: Path, port: int | None = None):
        self.scratch = Path(scratch)
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.database = self.scratch / "db.sqlite3"
        self.output = self.scratch / "demo.log"
        self.process: subprocess.Popen | None = None
        (self.scratch / "var").mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN}
        env.update(
            DATABASE_URL=f"sqlite:///{self.database}",
            DEBUG="1",
            SECRET_KEY="scratch-demo-" + "k" * 40,
            ODR_ENV_FILE=str(self.scratch / "demo.env"),  # not the user's .env (make demo writes it)
            ODR_BROKER_DIR=str(self.scratch / "broker"),
            MEDIA_ROOT=str(self.scratch / "media"),
            ODR_SIGNING_KEYS_DIR=str(self.scratch / "signing-keys"),
            ODR_DEMO_VAR=str(self.scratch / "var"),
            HOST="127.0.0.1",
            PORT=str(self.port),
            ODR_PUBLIC_URL=self.base_url,
            PYTHONUNBUFFERED="1",
        )
        return env

    def manage(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [str(BIN / "python"), "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def prepare(self, *, seed: bool = False):
        self.manage("migrate", "--noinput")
        if seed:
            self.manage("seed_demo")

    def start(self, *, make: bool = False):
        """supervisord with the demo's configuration; or, with `make`, `make demo` itself (install
        check, migrate, seed_demo, then supervisord), as a new user runs it."""
        command = (
            ["make", "--no-print-directory", "demo"]
            if make
            else [str(BIN / "python"), "-m", "odr.demo_launcher"]  # what make demo ends with
        )
        with open(self.output, "ab") as out:
            self.process = subprocess.Popen(
                command,
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a Ctrl-C meant for the caller is not its
            )

    def stop(self, timeout: float = 60) -> int:
        """What Ctrl-C does: SIGINT to the foreground process group (make and supervisord; the
        programs have groups of their own), and supervisord stops its programs, then exits."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=timeout)

    @contextmanager
    def running(self, *, make: bool = False):
        self.start(make=make)
        try:
            yield self
        finally:
            if self.process.poll() is None:
                try:
                    self.stop()
                except subprocess.TimeoutExpired:
                    # supervisord runs in a session of its own (odr/demo_launcher.py) and gave each
                    # program a process group of its own: kill it first (or it would start them
                    # again), then them, or the site, worker and beat would outlive the test.
                    supervisord = self.scratch / "var" / "supervisord.pid"
                    if supervisord.exists():
                        with contextlib.suppress(ProcessLookupError, ValueError):
                            os.kill(int(supervisord.read_text()), signal.SIGKILL)
                    for program in ("web", "worker", "beat"):
                        pid = self.pid(program)
                        if pid is not None:
                            with contextlib.suppress(ProcessLookupError):
                                os.killpg(pid, signal.SIGKILL)
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def pid(self, program: str) -> int | None:
        """The current pid of a program, as supervisord last reported spawning it."""
        found = re.findall(rf"spawned: '{program}' with pid (\d+)", self.log())
        return int(found[-1]) if found else None

    def restarts(self) -> dict[str, int]:
        """Unexpected exits per program, as supervisord reported them."""
        exits = re.findall(r"exited: (\w+) \(.*not expected\)", self.log())
        return {name: exits.count(name) for name in sorted(set(exits))}

    def descendants(self) -> set[int]:
        """supervisord's whole process tree below it (read from /proc)."""
        parents: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry.name))
        found, todo = set(), [self.process.pid]
        while todo:
            for child in parents.get(todo.pop(), []):
                found.add(child)
                todo.append(child)
        return found

    def get(self, path: str, timeout: float = 10) -> int:
        """The HTTP status of a GET, or 0 when the site does not answer."""
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def wait_for(self, condition, timeout: float, what: str, interval: float = 0.5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"supervisord exited while waiting for {what}:\n{self.log()[-3000:]}")
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}:\n{self.log()[-3000:]}")

    def workers_ready(self) -> int:
        """How many times a worker said it was ready (once per start)."""
        return len(re.findall(r"celery@\S+ ready\.", self.log()))

    def wait_ready(self, timeout: float = 60, workers: int = 1):
        self.wait_for(lambda: self.get("/") == 200, timeout, "the site")
        self.wait_for(lambda: self.workers_ready() >= workers, timeout, "the worker")

    def queue_email(self, key: str, reference: str):
        """An e-mail through the outbox, as a use case queues one: only a worker delivers it."""
        self.manage(
            "shell",
            "-c",
            "from django.db import transaction\n"
            "from odr.notifications.services import outbox_email\n"
            "with transaction.atomic():\n"
            f"    outbox_email(key={key!r}, template='complaint_withdrawn', to_address='demo@example.test',"
            f" context={{'reference': {reference!r}}}, case_reference={reference!r})\n",
        )

    def sql(self, query: str, *params):
        with sqlite3.connect(self.database, timeout=10) as db:
            return db.execute(query, params).fetchall()

    def mailbox_count(self, needle: str = "") -> int:
        return self.sql(
            "SELECT count(*) FROM notifications_devmailboxemail WHERE subject LIKE ?", f"%{needle}%"
        )[0][0]
