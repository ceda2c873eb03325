"""Which embedded broker for the demo? Publishers and a polling consumer in separate processes.

    .venv/bin/python bench/embedded_broker.py [--publishers 3] [--messages 3000] [--transport NAME]

For each transport (kombu's filesystem, odr.broker_filesystem, kombu's SQLAlchemy on SQLite) it
runs N publisher processes (web and beat publish from their own processes) and one consumer polling
every 0.1 s as the demo's worker does, then prints: messages published, publish errors, consumed,
lost, duplicated, consumer errors by type (a consumer error is what crashed the demo's worker), and
the elapsed time. Then the kill case: a consumer fetches a message, is SIGKILLed before it
acknowledges, and a fresh consumer drains the queue: is the message redelivered? Scratch folders in
a temporary directory; nothing leaves the machine. Needs SQLAlchemy for the sqla case (not a
dependency of the project: `pip install 'sqlalchemy>=2,<2.2'`; the case is skipped without it).
"""

import argparse
import collections
import contextlib
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from kombu import Connection, Consumer, Exchange, Producer, Queue

from odr.broker_filesystem import transport_options

QUEUE = Queue("bench", Exchange("bench", type="direct"), routing_key="bench")


def connection_for(transport: str, root: Path) -> Connection:
    if transport == "sqla-sqlite":
        # kombu hands every transport option to create_engine(), which refuses "polling_interval":
        # this transport polls at kombu's default, once a second.
        return Connection(f"sqla+sqlite:///{root / 'broker.sqlite3'}")
    options = transport_options(root)
    cls = "odr.broker_filesystem:Transport" if transport == "odr-filesystem" else "filesystem"
    return Connection("filesystem://", transport=cls, transport_options=options)


def describe(exc: Exception) -> str:
    """The exception's type and the start of its message (SQLAlchemy's first line names the cause)."""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:90] if str(exc) else ''}"


def publish(transport, root, first, count, errors):
    """Publish `count` messages; an error is counted, and one before the first message (connecting,
    declaring: a publisher that could not start) counts every message it did not send."""
    sent = 0
    try:
        with connection_for(transport, root) as conn:
            producer = Producer(conn.channel(), exchange=QUEUE.exchange, routing_key="bench")
            QUEUE(producer.channel).declare()
            for i in range(first, first + count):
                try:
                    producer.publish({"n": i}, serializer="json")
                    sent += 1
                except Exception as exc:
                    errors.put(describe(exc))
    except Exception as exc:
        for _ in range(count - sent):
            errors.put("publisher could not start or went on: " + describe(exc))


def consume(transport, root, expected, seen, errors, stop_after_idle=5.0):
    """Drain until `expected` messages arrived or nothing came for `stop_after_idle` seconds.
    An exception from the transport is what kills a Celery worker: count it and reconnect."""
    last = time.monotonic()
    received = 0

    def on_message(body, message):
        nonlocal received, last
        seen.put(body["n"])
        message.ack()
        received += 1
        last = time.monotonic()

    while received < expected and time.monotonic() - last < stop_after_idle:
        try:
            with (
                connection_for(transport, root) as conn,
                Consumer(conn.channel(), queues=[QUEUE], callbacks=[on_message], accept=["json"]),
            ):
                while received < expected and time.monotonic() - last < stop_after_idle:
                    with contextlib.suppress(TimeoutError):
                        conn.drain_events(timeout=0.5)
        except Exception as exc:
            errors.put(describe(exc))


class Recorder(list):
    """What consume() records into when it runs in this process (a list, read right away)."""

    put = list.append


def drain(q):
    if isinstance(q, Recorder):
        return list(q)
    items = []
    while True:
        try:
            items.append(q.get(timeout=0.2))
        except Exception:
            return items


def run_concurrency(transport, publishers, messages):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        connection_for(transport, root).close()
        seen, perrors, cerrors = (multiprocessing.Queue() for _ in range(3))
        started = time.monotonic()
        consumer = multiprocessing.Process(
            target=consume, args=(transport, root, publishers * messages, seen, cerrors)
        )
        consumer.start()
        pubs = [
            multiprocessing.Process(target=publish, args=(transport, root, p * messages, messages, perrors))
            for p in range(publishers)
        ]
        for p in pubs:
            p.start()
        for p in pubs:
            p.join()
        got = []
        while consumer.is_alive():
            got += drain(seen)
        consumer.join()
        got += drain(seen)
        elapsed = time.monotonic() - started
        publish_errors = collections.Counter(drain(perrors))
        consumer_errors = collections.Counter(drain(cerrors))
        published = publishers * messages - sum(publish_errors.values())
        counts = collections.Counter(got)
        print(
            f"{transport:15} published {published:6}  publish errors {dict(publish_errors) or 0}  "
            f"consumed {len(counts):6}  lost {published - len(counts):4}  "
            f"duplicated {sum(c - 1 for c in counts.values()):3}  "
            f"consumer errors {dict(consumer_errors) or 0}  {elapsed:.1f} s"
        )
        return not consumer_errors and published == len(counts)


def take_one_and_hang(transport, root, ready):
    with (
        connection_for(transport, root) as conn,
        Consumer(conn.channel(), queues=[QUEUE], callbacks=[lambda body, msg: ready.set()], accept=["json"]),
    ):
        conn.drain_events(timeout=10)
        time.sleep(60)  # never acknowledges: killed here


def run_kill(transport):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        errors, seen, cerrors = Recorder(), Recorder(), Recorder()
        publish(transport, root, 0, 1, errors)
        ready = multiprocessing.Event()
        victim = multiprocessing.Process(target=take_one_and_hang, args=(transport, root, ready))
        victim.start()
        ready.wait(10)
        os.kill(victim.pid, signal.SIGKILL)
        victim.join()
        consume(transport, root, 1, seen, cerrors, stop_after_idle=3.0)
        again = drain(seen)
        print(f"{transport:15} unacknowledged message after SIGKILL: {'redelivered' if again else 'lost'}")


def run_torn_file(transport):
    """The race itself, made deterministic: a message file exists but is empty (a stock publisher
    between its open() and its write()) or cut short (a publisher killed mid-write), between two
    good messages. Does the consumer survive, and does it get both good messages?"""
    if transport == "sqla-sqlite":
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        errors, seen, cerrors = Recorder(), Recorder(), Recorder()
        publish(transport, root, 0, 1, errors)
        (root / "queue" / f"{int(time.monotonic() * 1000)}_torn-1.bench.msg").write_bytes(b"")
        (root / "queue" / f"{int(time.monotonic() * 1000)}_torn-2.bench.msg").write_bytes(b'{"body": "ey')
        time.sleep(0.01)
        publish(transport, root, 1, 1, errors)
        consume(transport, root, 2, seen, cerrors, stop_after_idle=3.0)
        got = drain(seen)
        print(
            f"{transport:15} empty + cut-short message files: consumer errors "
            f"{dict(collections.Counter(drain(cerrors))) or 0}, good messages received {len(got)} of 2"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publishers", type=int, default=3)
    parser.add_argument("--messages", type=int, default=3000, help="per publisher")
    parser.add_argument("--transport", action="append", help="filesystem, odr-filesystem, sqla-sqlite")
    args = parser.parse_args()
    transports = args.transport or ["filesystem", "odr-filesystem", "sqla-sqlite"]
    try:
        import sqlalchemy  # noqa: F401
    except ImportError:
        transports = [t for t in transports if t != "sqla-sqlite"]
        print("sqla-sqlite skipped: SQLAlchemy is not installed")
    print(f"load average before: {os.getloadavg()}")
    for transport in transports:
        run_concurrency(transport, args.publishers, args.messages)
    # Each case in a process of its own: kombu keeps per-process state about declared entities.
    for case in (run_torn_file, run_kill):
        for transport in transports:
            process = multiprocessing.Process(target=case, args=(transport,))
            process.start()
            process.join()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
