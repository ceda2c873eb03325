"""`make demo`'s foreground process: supervisord (the site, a Celery worker and beat, as configured in
supervisord.demo.conf) in a session of its own, and one clean stop for every way a terminal ends it.

supervisord reads SIGHUP as "restart everything": closing the terminal that runs the demo would start
the site, the worker and beat again with no terminal, holding the port and the database. Here
supervisord never sees the terminal's signals; this process turns Ctrl-C (SIGINT), SIGTERM and the
closing terminal's SIGHUP into one SIGTERM to supervisord, which stops its programs (the worker with a
warm shutdown) and exits; this process then exits with its status. No Django here: it only starts and
stops processes.

    python -m odr.demo_launcher        (run by `make demo`, from the checkout's root)
"""

import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    supervisord = Path(sys.executable).with_name("supervisord")
    process = subprocess.Popen(
        [str(supervisord), "-n", "-c", str(ROOT / "supervisord.demo.conf")],
        cwd=ROOT,
        start_new_session=True,  # out of the terminal's process group: its signals come through here
    )

    def stop(signum, frame):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    return process.wait()  # retried after each signal handler (PEP 475) until supervisord has exited


if __name__ == "__main__":
    sys.exit(main())
