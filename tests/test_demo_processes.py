"""`make demo` keeps the site up when its worker dies: the real process set (supervisord.demo.conf)
on a scratch SQLite database and port. No database fixture: the demo's processes own their database.
"""

import os
import signal
import time

from tests.demo_processes import DemoProcesses, alive


def test_a_killed_worker_is_restarted_the_site_keeps_answering_and_ctrl_c_stops_every_child(tmp_path):
    demo = DemoProcesses(tmp_path)
    demo.prepare()
    with demo.running():
        demo.wait_ready()
        web = demo.pid("web")
        worker = demo.pid("worker")

        os.kill(worker, signal.SIGKILL)
        # The site answers all along while the worker is down and coming back.
        answers = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            answers.append(demo.get("/"))
            time.sleep(0.25)
        assert set(answers) == {200}, answers
        demo.wait_for(lambda: demo.workers_ready() >= 2, 45, "the worker to be started again")
        assert demo.pid("worker") != worker
        assert demo.restarts() == {"worker": 1}
        assert demo.pid("web") == web  # not restarted, never stopped

        # Work sent after the kill is done: only a worker delivers outbox e-mails.
        demo.queue_email("demo-test-after-kill", "C-2026-999001")
        demo.wait_for(lambda: demo.mailbox_count("C-2026-999001") == 1, 30, "the e-mail in the dev mailbox")
        assert demo.get("/dev/mailbox/") == 200

        children = demo.descendants()
        assert len(children) >= 4  # web (+ its reloader child), worker (+ its pool), beat
    assert demo.process.returncode == 0
    left = [pid for pid in children if alive(pid)]
    assert left == [], f"left running after supervisord stopped: {left}"
    assert "Traceback" not in demo.log()


def test_closing_the_terminal_stops_the_demo_instead_of_restarting_it(tmp_path):
    """A closing terminal sends SIGHUP to its foreground process group; supervisord alone would read it
    as "restart everything" and go on without a terminal, holding the port. odr/demo_launcher.py keeps
    supervisord out of that group and turns the SIGHUP into a stop."""
    demo = DemoProcesses(tmp_path)
    demo.prepare()
    with demo.running():
        demo.wait_ready()
        children = demo.descendants()
        assert len(children) >= 4
        os.killpg(demo.process.pid, signal.SIGHUP)
        assert demo.process.wait(timeout=60) == 0
    assert "restarting" not in demo.log().lower()  # supervisord's answer to a SIGHUP of its own
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in children):
        time.sleep(0.2)
    left = [pid for pid in children if alive(pid)]
    assert left == [], f"left running after the terminal closed: {left}"
