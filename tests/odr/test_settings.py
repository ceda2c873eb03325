"""The site refuses to serve without a real secret key, unless DEBUG is explicitly on."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_wsgi(**env):
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}}
    clean["ODR_ENV_FILE"] = os.devnull  # ignore a developer's .env: this is about the environment
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import odr.wsgi"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_secret_key():
    result = start_wsgi()
    assert result.returncode != 0
    assert "SECRET_KEY is not set: refusing to serve" in result.stderr


def test_production_starts_with_a_secret_key_and_a_mail_server():
    result = start_wsgi(
        SECRET_KEY="a-real-secret-" + "x" * 40, DEBUG="0", EMAIL_URL="smtp+tls://u:p@mail.example.test:587"
    )
    assert result.returncode == 0, result.stderr


def test_production_refuses_to_send_legal_notices_into_the_dev_mailbox():
    result = start_wsgi(SECRET_KEY="a-real-secret-" + "x" * 40, DEBUG="0")
    assert result.returncode != 0
    assert "E-mail would go to the dev mailbox" in result.stderr


def test_seed_demo_refuses_to_run_outside_debug():
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    env.update(ODR_ENV_FILE=os.devnull, DATABASE_URL="sqlite:///:memory:")
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "runs only with DEBUG=1" in result.stderr


def test_development_starts_with_debug_and_no_key():
    result = start_wsgi(DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_web_processes_bound_each_sql_statement_below_gunicorns_timeout_workers_do_not():
    """gthread's heartbeat does not end a request stuck in PostgreSQL: the statement timeout does.
    gunicorn.conf.py sets it for the web processes; a Celery worker or a command has none."""
    show = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'odr.settings'; django.setup();"
        "from django.conf import settings;"
        "print(settings.DATABASES['default'].get('OPTIONS', {}).get('options', ''))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "ODR_DB_STATEMENT"))}
    env.update(ODR_ENV_FILE=os.devnull, DATABASE_URL="postgres://nobody@127.0.0.1:1/none")

    def options(script):
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "statement_timeout=25000" in options("import runpy; runpy.run_path('gunicorn.conf.py');" + show)
    assert "statement_timeout" not in options(show)


def test_a_database_that_never_answers_fails_the_connection_within_its_timeout():
    """A PostgreSQL host that accepts the TCP connection and then says nothing (a hung server, a
    half-open failover): the connection fails after ODR_DB_CONNECT_TIMEOUT_SECONDS, not minutes later."""
    with socket.socket() as silent:  # the kernel completes the handshake; nobody ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ODR_DB_")}
        env.update(
            ODR_ENV_FILE=os.devnull,
            DATABASE_URL=f"postgres://nobody@127.0.0.1:{port}/none",
            ODR_DB_CONNECT_TIMEOUT_SECONDS="2",
        )
        script = (
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'odr.settings'; django.setup();"
            "from django.db import connection;"
            "connection.ensure_connection()"
        )
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert "OperationalError" in result.stderr and "timeout" in result.stderr, result.stderr[-2000:]
    assert elapsed < 20  # Django's start-up plus the 2 s bound; without it, the 60 s above run out


def test_the_demos_env_file_is_read_by_the_site_and_never_by_the_tests(tmp_path):
    """`make demo` writes .env (DEBUG=1); `make test` afterwards must still test the production defaults."""
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=1\n")
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    clean["ODR_ENV_FILE"] = str(env_file)

    def debug(preamble: str) -> str:
        script = f"{preamble}import django.conf, odr.settings; print(odr.settings.DEBUG)"
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert debug("") == "True"  # the demo's processes
    assert debug("import pytest; ") == "False"  # a test run (settings know it by pytest being imported)
