"""Real Celery workers and beats as subprocesses, each in its own process group, for the fault tests.

They run the project's own entry point (`celery -A odr worker|beat`) with the environment a
deployment gives them: the pytest test database, the test's own redis-server, a real SMTP server.
Every wait is bounded; `kill` sends SIGKILL to the whole group (what a host losing power or the OOM
killer does); `stop_all` (teardown) kills whatever is left.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

CELERY = str(Path(sys.executable).with_name("celery"))


def database_url() -> str:
    """The database pytest-django created for this run (the subprocesses must see the test's rows)."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Celery:
    def __init__(self, directory: Path, *, redis_url: str, email_url: str, extra_env: dict | None = None):
        self.directory = directory
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url,
            "EMAIL_URL": email_url,
            "SECRET_KEY": "fault-tests-secret-key-not-for-production",
            "DEBUG": "0",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "ODR_SIGNING_KEYS_DIR": str(settings.ODR_SIGNING_KEYS_DIR),
            "ODR_ENV_FILE": str(directory / "no.env"),  # never the developer's .env
            # Beat's periodic work every 2 s instead of every minute (it starts one interval in).
            "ODR_SWEEP_EVERY_SECONDS": "2",
            "ODR_PICKUP_EVERY_SECONDS": "2",
            **(extra_env or {}),
        }
        self.processes: dict[str, tuple[subprocess.Popen, Path]] = {}

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = self.directory / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [CELERY, "-A", "odr", *args],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: kill() reaches every child
            )
        self.processes[name] = (process, log)
        return process

    def worker(self, name: str, *, queues: str = "default,notifications,pdf", ready_timeout: float = 60.0):
        """Start a worker and wait until it consumes (its "ready." line)."""
        log = self.directory / f"{name}.log"
        start = log.stat().st_size if log.exists() else 0
        process = self._start(
            name,
            [
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                f"--hostname={name}@faults",
                f"--queues={queues}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"worker {name} exited ({process.returncode}):\n{self.log(name)[-4000:]}")
            if b" ready." in log.read_bytes()[start:]:
                return process
            time.sleep(0.1)
        raise RuntimeError(f"worker {name} not ready in {ready_timeout} s:\n{self.log(name)[-4000:]}")

    def beat(self, name: str):
        """Start a beat with a schedule file of its own (so interval tasks are due at once)."""
        return self._start(
            name,
            [
                "beat",
                "--loglevel=INFO",
                f"--schedule={self.directory / (name + '-schedule')}",
                f"--pidfile={self.directory / (name + '.pid')}",
            ],
        )

    def log(self, name: str) -> str:
        return self.processes[name][1].read_text(errors="replace")

    def kill(self, name: str) -> None:
        """SIGKILL the process group, and reap it."""
        process, _log = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.kill(name)


def wait_until(condition, *, timeout: float = 30.0, interval: float = 0.1, what: str = "") -> None:
    """Poll `condition` until true; fail the test (saying what it waited for) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
