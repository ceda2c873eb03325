"""The demo's embedded broker (odr/broker_filesystem.py): kombu's filesystem transport, whose
consumer crashed on a message file read before its publisher wrote it. The properties that matter
(no consumer sees a partial message; each message is received exactly once by competing worker
processes) are checked against this transport and shown to fail on stock kombu's."""

import builtins
import errno
import json
import multiprocessing
import os
import queue as stdlib_queue
import threading
import time

import pytest
from kombu import Connection, Exchange, Queue
from kombu.transport import filesystem, virtual

from odr import broker_filesystem
from odr.broker_filesystem import transport_options

STOCK = "filesystem"
OURS = "odr.broker_filesystem:Transport"

QUEUE = Queue("tasks", Exchange("tasks", type="direct"), routing_key="tasks")


@pytest.fixture(autouse=True)
def fresh_broker_state(monkeypatch):
    """kombu remembers bindings per process (a class attribute); each test has its own folders."""
    monkeypatch.setattr(filesystem.Transport, "global_state", virtual.BrokerState())


def connection(root, transport=OURS, polling_interval=0.1):
    options = transport_options(root, polling_interval=polling_interval)
    return Connection("filesystem://", transport=transport, transport_options=options)


def pause_message_writes(monkeypatch, pause):
    """Both transports' modules open message files with `open`: a message file's write calls
    pause("before write") and pause("after write") around it, as a publisher descheduled between
    creating the file and filling it, or between filling it and renaming it into place."""

    def opening(file, mode="r", *args, **kwargs):
        f = builtins.open(file, mode, *args, **kwargs)  # noqa: SIM115 - the caller closes it
        if "w" in mode and ".msg" in os.fspath(file):
            write = f.write

            def paused_write(data):
                pause("before write")
                written = write(data)
                pause("after write")
                return written

            f.write = paused_write
        return f

    for module in (filesystem, broker_filesystem):
        monkeypatch.setattr(module, "open", opening, raising=False)


def visible_messages(root) -> list:
    return [f.name for f in (root / "queue").iterdir() if f.name.endswith(".msg")]


def torn_file(root, content: bytes):
    """A message file as a publisher leaves it between creating and writing it, or killed mid-write."""
    (root / "queue" / f"{int(time.monotonic() * 1000)}_torn-{len(content)}.tasks.msg").write_bytes(content)


def received(conn, count: int) -> list:
    bodies = []
    with conn.SimpleQueue(QUEUE) as queue:
        for _ in range(count):
            message = queue.get(timeout=2)
            bodies.append(message.payload)
            message.ack()
    return bodies


def test_an_empty_or_cut_short_message_file_is_skipped_and_the_messages_around_it_delivered(tmp_path, caplog):
    with connection(tmp_path) as conn:
        with conn.SimpleQueue(QUEUE) as queue:
            queue.put({"n": 1})
        torn_file(tmp_path, b"")
        torn_file(tmp_path, b'{"body": "ey')
        time.sleep(0.002)
        with conn.SimpleQueue(QUEUE) as queue:
            queue.put({"n": 2})
        assert received(conn, 2) == [{"n": 1}, {"n": 2}]
    assert caplog.text.count("skipped an unreadable message file on queue tasks") == 2
    assert list((tmp_path / "queue").glob("*.msg")) == []
    assert list((tmp_path / "processed").iterdir()) == []


def test_stock_kombu_raises_on_the_same_file(tmp_path):
    """Why the subclass exists: kombu's own transport dies on it (the demo's worker crash)."""
    with connection(tmp_path, transport="filesystem") as conn:
        with conn.SimpleQueue(QUEUE) as queue:
            queue.put({"n": 1})
            queue.get(timeout=2).ack()
        torn_file(tmp_path, b"")
        with pytest.raises(ValueError), conn.SimpleQueue(QUEUE) as queue:
            queue.get(timeout=2)


def consume_while_a_publisher_is_paused_mid_write(root, transport, monkeypatch):
    """At each pause of the publisher (another thread) the consumer polls: it must see no message
    file and get nothing (nor crash); once the publisher is done the message arrives whole."""
    at, go = stdlib_queue.Queue(), stdlib_queue.Queue()

    def pause(point):
        at.put(point)
        go.get(timeout=10)

    pause_message_writes(monkeypatch, pause)
    errors = []

    def publish():
        try:
            with connection(root, transport) as conn, conn.SimpleQueue(QUEUE) as publisher:
                publisher.put({"n": 1, "text": "x" * 10_000})
        except BaseException as exc:
            errors.append(exc)

    with connection(root, transport) as conn, conn.SimpleQueue(QUEUE) as consumer:
        # Bound before the publisher starts: stock kombu's exchange table has a race of its own.
        publisher_thread = threading.Thread(target=publish)
        publisher_thread.start()
        try:
            for point in ("before write", "after write"):
                assert at.get(timeout=10) == point
                assert visible_messages(root) == [], f"a message file is visible {point}"
                with pytest.raises(consumer.Empty):
                    consumer.get(timeout=0.3)
                go.put(None)
            publisher_thread.join(timeout=10)
            assert errors == []
            message = consumer.get(timeout=2)
            assert message.payload == {"n": 1, "text": "x" * 10_000}
            message.ack()
        finally:
            go.put(None)
            go.put(None)
            publisher_thread.join(timeout=10)


def test_a_consumer_never_sees_a_message_its_publisher_is_still_writing(tmp_path, monkeypatch):
    consume_while_a_publisher_is_paused_mid_write(tmp_path, OURS, monkeypatch)
    assert list((tmp_path / "queue").iterdir()) == []


def test_stock_kombu_shows_a_consumer_the_message_file_being_written(tmp_path, monkeypatch):
    """The check above can fail: stock kombu creates the file under its final name, then writes it."""
    with pytest.raises(AssertionError, match="a message file is visible before write"):
        consume_while_a_publisher_is_paused_mid_write(tmp_path, STOCK, monkeypatch)


MESSAGES = 200


def publish_all(root, transport, done):
    try:
        with connection(root, transport) as conn, conn.SimpleQueue(QUEUE) as publisher:
            for n in range(MESSAGES):
                publisher.put({"n": n})
    finally:
        done.set()  # a failed publisher shows as its exit code, not as consumers waiting out the deadline


def consume_until_drained(root, transport, done, out):
    received_numbers = []
    with connection(root, transport, polling_interval=0.01) as conn, conn.SimpleQueue(QUEUE) as consumer:
        while True:
            finished = done.is_set()  # read before polling: an empty poll after it means drained
            try:
                message = consumer.get(timeout=0.3)
            except consumer.Empty:
                if finished:
                    break
                continue
            received_numbers.append(message.payload["n"])
            message.ack()
    out.write_text(json.dumps(received_numbers))


def two_worker_processes_consume_what_a_third_publishes(root, transport, monkeypatch) -> list:
    """Each process has its own kombu state, as Celery workers do; returns what each one received.
    The publisher (forked with this patch) is descheduled briefly around every write, as under load."""
    pause_message_writes(monkeypatch, lambda point: time.sleep(0.001))
    context = multiprocessing.get_context("fork")
    done = context.Event()
    outs = [root / f"consumer-{i}.json" for i in range(2)]
    consumers = [
        context.Process(target=consume_until_drained, args=(root, transport, done, out)) for out in outs
    ]
    publisher = context.Process(target=publish_all, args=(root, transport, done))
    for process in [*consumers, publisher]:
        process.start()
    deadline = time.monotonic() + 20
    for process in [publisher, *consumers]:
        process.join(timeout=max(0.1, deadline - time.monotonic()))
    stuck = [process for process in [publisher, *consumers] if process.is_alive()]
    for process in stuck:
        process.kill()
        process.join()
    assert stuck == []
    assert [process.exitcode for process in [publisher, *consumers]] == [0, 0, 0]
    return [json.loads(out.read_text()) for out in outs]


def test_competing_worker_processes_receive_each_message_exactly_once(tmp_path, monkeypatch):
    per_consumer = two_worker_processes_consume_what_a_third_publishes(tmp_path, OURS, monkeypatch)
    assert all(per_consumer), "both consumers took part"
    assert sorted(per_consumer[0] + per_consumer[1]) == list(range(MESSAGES))
    assert list((tmp_path / "queue").iterdir()) == []
    assert list((tmp_path / "processed").iterdir()) == []


def test_stock_kombu_loses_messages_to_competing_worker_processes(tmp_path, monkeypatch):
    """The check above can fail: a stock consumer takes a file being written and dies on it."""
    with pytest.raises(AssertionError):
        two_worker_processes_consume_what_a_third_publishes(tmp_path, STOCK, monkeypatch)


@pytest.mark.parametrize("failure", ["processed folder missing", "permission denied"])
def test_a_claim_failing_for_another_reason_than_a_lost_race_raises_and_keeps_the_message(
    tmp_path, monkeypatch, caplog, failure
):
    with connection(tmp_path) as conn, conn.SimpleQueue(QUEUE) as queue:
        queue.put({"n": 1})
        if failure == "processed folder missing":
            (tmp_path / "processed").rmdir()
        else:  # tests run as root here, which chmod cannot stop: the OS's answer, stood in for
            real_rename = os.rename

            def denied(src, dst):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), src)

            monkeypatch.setattr(os, "rename", denied)
        with pytest.raises(filesystem.ChannelError, match=r"Cannot move message file .* into .*processed"):
            queue.get(timeout=1)
        assert "cannot claim message file" in caplog.text and "tasks" in caplog.text
        assert len(visible_messages(tmp_path)) == 1  # not skipped, not lost
        if failure == "processed folder missing":
            (tmp_path / "processed").mkdir()
        else:
            monkeypatch.setattr(os, "rename", real_rename)
        message = queue.get(timeout=2)
        assert message.payload == {"n": 1}
        message.ack()


def test_a_consumer_removes_partial_files_left_an_hour_ago_now_and_then(tmp_path, monkeypatch, caplog):
    def partial(name, age):
        path = tmp_path / "queue" / f"{name}.tasks.msg.part"
        path.write_bytes(b'{"body": "ey')
        os.utime(path, (time.time() - age, time.time() - age))
        return path

    clock = [1000.0]
    monkeypatch.setattr(broker_filesystem, "monotonic", lambda: clock[0])
    with connection(tmp_path) as conn, conn.SimpleQueue(QUEUE) as queue:
        stale, fresh = partial("1_killed", 2 * 3600), partial("2_being-written", 5)
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.2)  # the channel's first poll looks
        assert not stale.exists() and fresh.exists()
        assert caplog.text.count("a message its publisher never finished") == 1
        later = partial("3_killed", 2 * 3600)
        clock[0] += broker_filesystem.PARTIAL_SWEEP_INTERVAL - 1
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.2)
        assert later.exists()  # not looked at on every poll
        clock[0] += 2
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.2)
        assert not later.exists() and fresh.exists()


def test_an_exchange_table_being_created_reads_as_empty_not_as_an_error(tmp_path):
    with connection(tmp_path) as conn:
        channel = conn.channel()
        (tmp_path / "control" / "tasks.exchange").write_bytes(b"")  # created, not yet written
        assert channel.get_table("tasks") == []
        (tmp_path / "control" / "tasks.exchange").write_bytes(b'[["tasks", "", "ta')  # cut short
        assert channel.get_table("tasks") == []
        QUEUE(channel).declare()
        assert [q.queue for q in channel.get_table("tasks")] == ["tasks"]
        QUEUE(channel).declare()  # binding twice keeps one row
        assert len(channel.get_table("tasks")) == 1
        assert list((tmp_path / "control").glob("*.part")) == []


def test_the_embedded_default_broker_url_selects_this_transport(settings):
    """Chosen by the URL's scheme (registered by odr/celery.py), so that pointing the app at another
    URL (Redis) gets that broker, with nothing else to reset."""
    from odr.broker_filesystem import Transport

    assert Connection("odr-filesystem://").get_transport_cls() is Transport
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        assert settings.CELERY_BROKER_URL == "odr-filesystem://"
