"""The demo's embedded broker (odr/broker_filesystem.py): kombu's filesystem transport, whose
consumer crashed on a message file read before its publisher wrote it."""

import time

import pytest
from kombu import Connection, Exchange, Queue
from kombu.transport import filesystem, virtual

from odr.broker_filesystem import transport_options

QUEUE = Queue("tasks", Exchange("tasks", type="direct"), routing_key="tasks")


@pytest.fixture(autouse=True)
def fresh_broker_state(monkeypatch):
    """kombu remembers bindings per process (a class attribute); each test has its own folders."""
    monkeypatch.setattr(filesystem.Transport, "global_state", virtual.BrokerState())


def connection(root, transport="odr.broker_filesystem:Transport"):
    return Connection("filesystem://", transport=transport, transport_options=transport_options(root))


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


def test_a_publisher_leaves_whole_files_only(tmp_path):
    with connection(tmp_path) as conn, conn.SimpleQueue(QUEUE) as queue:
        for n in range(20):
            queue.put({"n": n})
        files = sorted((tmp_path / "queue").iterdir())
        assert len(files) == 20 and all(f.name.endswith(".tasks.msg") for f in files)
        assert all(f.stat().st_size > 0 for f in files)
        # Ordered by the millisecond, then at random within one (as kombu's own names).
        assert sorted(body["n"] for body in received(conn, 20)) == list(range(20))


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
