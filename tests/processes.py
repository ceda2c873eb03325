"""Real programs the tests start and stop: a free port, the URL of pytest's test database, and the
project's Celery worker and beat as subprocesses (tests/faults, tests/test_two_hosts.py).

Each subprocess runs the project's own entry point (`celery -A odr worker|beat`) in its own process
group, with the environment the test gives it. Every wait is bounded; `kill` sends SIGKILL to the
whole group (what a host losing power or the OOM killer does); `stop` is the warm shutdown an
operator's SIGTERM asks for; `stop_all` (teardown) kills whatever is left.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

CELERY = str(Path(sys.executable).with_name("celery"))


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The database pytest-django created for this run (a subprocess must see the test's rows)."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Celery:
    """Workers and beats started as `celery -A odr …` with `env` (complete: nothing is inherited),
    each logging to `<directory>/<name>.log`."""

    def __init__(self, directory: Path, *, env: dict[str, str], cwd: Path | None = None):
        self.directory = directory
        self.env = env
        self.cwd = cwd or settings.BASE_DIR
        self.processes: dict[str, tuple[subprocess.Popen, Path]] = {}

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = self.directory / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [CELERY, "-A", "odr", *args],
                cwd=self.cwd,
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
                f"--hostname={name}@%h",
                f"--queues={queues}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
        )
        self.wait_for_log(name, " ready.", after=start, timeout=ready_timeout)
        return process

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

    def log_size(self, name: str) -> int:
        return self.processes[name][1].stat().st_size

    def wait_for_log(self, name: str, text: str, *, after: int = 0, timeout: float = 30.0) -> None:
        """Wait until `text` appears in the log past byte `after`; fail if the process exits first."""
        process, log = self.processes[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text.encode() in log.read_bytes()[after:]:
                return
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}):\n{self.log(name)[-4000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"{name}: no {text!r} in {timeout} s:\n{self.log(name)[-4000:]}")

    def kill(self, name: str) -> None:
        """SIGKILL the process group, and reap it."""
        process, _log = self.processes[name]
        if process.returncode is not None:
            return  # reaped already: its group id may belong to someone else by now
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self, name: str, *, timeout: float = 30.0) -> None:
        """Warm shutdown (SIGTERM: finish the task in hand), SIGKILL if it takes longer than `timeout`."""
        process, _log = self.processes[name]
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(name)

    def stop_all(self) -> None:
        for name, (process, _log) in self.processes.items():
            if process.poll() is None:
                self.kill(name)


def wait_until(condition, *, timeout: float = 30.0, interval: float = 0.1, what: str = "") -> None:
    """Poll `condition` until true; fail the test (saying what it waited for) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
