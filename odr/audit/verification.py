"""Checking the audit trail (D34) at any size: raw rows streamed in stream order, merged with the heads.

Two ordered reads, no query per chain: the chain heads and the events, both by stream (byte order,
see migration 0006), merged in one pass. Every head is matched to its events and every event to a
head, so an emptied stream, an emptied table, events without a head and a chain that ends before its
head all fail, named. Rows come from a server-side cursor in large batches as plain tuples (no model
instances); PostgreSQL formats the time as the hash wants it; the hash is chain.canonical_hash, the
writer's own rule. Memory stays flat whatever the size: one batch at a time.

`jobs` > 1 splits the streams into disjoint ranges (boundaries read from the heads), each checked by
its own process with its own database connection; the verdict is the same as one job's.

`since_checkpoint` checks only the chains that changed since the last signed checkpoint (the heads'
partial index), each from its checkpointed event: its stored hash must still be the checkpointed one,
then every later event is hashed. A day's check costs the day's events.
"""

import contextlib
import queue
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from multiprocessing import get_context

from django.db import connection, connections, transaction
from django.utils.translation import gettext as _

from .chain import CANONICAL_TIME_SQL, canonical_hash, canonical_json, canonical_time, parse_json
from .models import GENESIS_HASH

BATCH = 2_000  # rows per FETCH: ~2 MB; with the prefetch queue, memory stays under ~10 MB


@dataclass(frozen=True)
class BrokenEvent:
    """Where a chain breaks, as the verdict names it. `pk` is None when the problem is a head's (no
    event to point at); then `seq` is the sequence number the head records."""

    pk: int | None
    stream: str
    seq: int
    kind: str = ""


@dataclass(frozen=True)
class ChainVerification:
    checked: int
    streams: int
    broken_event: BrokenEvent | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


class _Broken(Exception):
    def __init__(self, stream: str, seq: int, problem: str, *, event: bool = True):
        super().__init__(problem)
        self.stream, self.seq, self.problem, self.event = stream, seq, problem, event
        self.checked = self.streams = 0


def verify_chains(
    *, stream: str | None = None, jobs: int = 1, since_checkpoint: bool = False
) -> ChainVerification:
    """Verify every chain (or one, or those changed since the last checkpoint); first problem wins."""
    # Parallel on PostgreSQL outside a transaction only: SQLite (the demo) runs one job, and workers
    # on connections of their own could not see a caller's uncommitted rows.
    if jobs > 1 and stream is None and _on_postgresql() and not connection.in_atomic_block:
        ranges = _stream_ranges(jobs, since_checkpoint=since_checkpoint)
        if len(ranges) > 1:
            return _verify_parallel(ranges, since_checkpoint=since_checkpoint)
    return _verify_range(stream=stream, low=None, high=None, since_checkpoint=since_checkpoint)


def _verify_parallel(ranges, *, since_checkpoint: bool) -> ChainVerification:
    # Forked workers inherit the settings (the test database's name too); an open connection must not
    # be shared across a fork, so every worker opens its own.
    connections.close_all()
    with ProcessPoolExecutor(max_workers=len(ranges), mp_context=get_context("fork")) as pool:
        futures = [
            pool.submit(_verify_range_in_worker, low=low, high=high, since_checkpoint=since_checkpoint)
            for low, high in ranges
        ]
        results = [future.result() for future in futures]
    checked = sum(result.checked for result in results)
    streams = sum(result.streams for result in results)
    for result in results:  # ranges in stream order: the first broken range names the first problem
        if not result.ok:
            return ChainVerification(checked, streams, result.broken_event, result.problem)
    return ChainVerification(checked, streams)


def _verify_range_in_worker(**kwargs) -> ChainVerification:
    try:
        return _verify_range(stream=None, **kwargs)
    finally:
        connections.close_all()


def _stream_ranges(jobs: int, *, since_checkpoint: bool) -> list[tuple[str | None, str | None]]:
    """`jobs` disjoint [low, high) ranges of streams, cut at heads so each holds about as many chains.
    The first is open below and the last above, so events of a stream without a head fall in one."""
    changed = _CHANGED if since_checkpoint else "TRUE"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM audit_auditstreamhead h WHERE {changed}")
        total = cursor.fetchone()[0]
        bounds = []
        for part in range(1, jobs):
            cursor.execute(
                f"SELECT h.stream FROM audit_auditstreamhead h WHERE {changed} "
                f"ORDER BY h.stream{_collate()} LIMIT 1 OFFSET %s",
                [total * part // jobs],
            )
            row = cursor.fetchone()
            if row is not None and (not bounds or row[0] > bounds[-1]):
                bounds.append(row[0])
    edges = [None, *bounds, None]
    return list(pairwise(edges))


# The heads whose chain changed since the last checkpoint: the partial index audit_head_changed.
_CHANGED = "NOT (h.last_seq = h.checkpointed_seq)"


def _collate() -> str:
    """Byte order on every back-end: the column's own collation on PostgreSQL (migration 0006) and
    SQLite's default BINARY; spelled out on PostgreSQL so a column altered later cannot change it."""
    return ' COLLATE "C"' if connection.vendor == "postgresql" else ""


def _verify_range(*, stream, low, high, since_checkpoint) -> ChainVerification:
    where, params = [], []
    if stream is not None:
        where.append("h.stream = %s")
        params.append(stream)
    if low is not None:
        where.append("h.stream >= %s")
        params.append(low)
    if high is not None:
        where.append("h.stream < %s")
        params.append(high)
    event_where = [clause.replace("h.stream", "e.stream") for clause in where]
    if since_checkpoint:
        where.append(_CHANGED)
    with audit_snapshot():
        heads = _rows(
            "SELECT h.stream, h.last_seq, h.last_hash, h.checkpointed_seq, h.checkpointed_hash "
            f"FROM audit_auditstreamhead h {_where(where)} ORDER BY h.stream{_collate()}",
            params,
        )
        order = f"e.stream{_collate()}, e.seq"
        if since_checkpoint and _on_postgresql():
            # A nested loop from the changed heads, each chain read from its checkpointed event by the
            # (stream, seq) index: the cost follows the day's events. Joined plainly, PostgreSQL
            # prefers a hash join over a scan of every event (OFFSET 0 keeps the subquery apart).
            source = (
                "(SELECT h.stream, h.checkpointed_seq FROM audit_auditstreamhead h "
                f"{_where(where)} ORDER BY h.stream{_collate()}) h CROSS JOIN LATERAL "
                "(SELECT * FROM audit_auditevent e WHERE e.stream = h.stream "
                "AND e.seq >= h.checkpointed_seq ORDER BY e.seq OFFSET 0) e"
            )
            event_where = []
            order = f"h.stream{_collate()}, e.seq"
        elif since_checkpoint:  # SQLite (the demo): no LATERAL, and no size to worry about
            event_where += [_CHANGED, "e.seq >= h.checkpointed_seq"]
            source = "audit_auditevent e JOIN audit_auditstreamhead h ON h.stream = e.stream"
        else:
            source = "audit_auditevent e"
        time = CANONICAL_TIME_SQL.format(column="e.occurred_at") if _on_postgresql() else "e.occurred_at"
        payload = "e.payload::text" if _on_postgresql() else "e.payload"
        events = _rows(
            f"SELECT e.stream, e.seq, e.kind, {time}, e.actor_id, e.actor_role, {payload}, e.prev_hash, "
            f"e.hash FROM {source} {_where(event_where)} ORDER BY {order}",
            params,
            prefetch=True,
        )
        try:
            rows = events if _on_postgresql() else _sqlite_times(events)
            checked, streams = _merge(heads, rows, since_checkpoint=since_checkpoint)
        except _Broken as broken:
            events.close()  # stop the prefetch and close the cursors inside the transaction
            return ChainVerification(broken.checked, broken.streams, _named(broken), broken.problem)
        finally:
            events.close()
            heads.close()
    return ChainVerification(checked, streams)


def _merge(heads, events, *, since_checkpoint: bool) -> tuple[int, int]:
    """Walk heads and events together; raise _Broken at the first problem. Returns (events, chains)."""
    loads = parse_json
    head_iter = (head for batch in heads for head in batch)
    head = next(head_iter, None)
    current = None
    expected_seq = 0
    expected_prev = ""
    last_seq = 0
    last_hash = ""
    checked = streams = 0
    try:
        for batch in events:
            for stream, seq, kind, at, actor_id, role, payload, prev, stored in batch:
                if stream != current:
                    if current is not None:
                        _check_tail(current, expected_seq - 1, expected_prev, last_seq, last_hash)
                    while head is not None and head[0] < stream:
                        _check_empty(head)
                        head = next(head_iter, None)
                    if head is None or head[0] != stream:
                        raise _Broken(
                            stream, seq, _("events of this case have no chain head (its head was removed)")
                        )
                    current, last_seq, last_hash, start_seq, start_hash = head
                    head = next(head_iter, None)
                    streams += 1
                    expected_seq, expected_prev = 1, GENESIS_HASH
                    if since_checkpoint and start_seq:
                        if seq != start_seq or stored != start_hash:
                            raise _Broken(
                                stream,
                                seq,
                                _(
                                    "the event the last checkpoint recorded (#%(seq)s) is gone "
                                    "or was rewritten"
                                )
                                % {"seq": start_seq},
                            )
                        expected_seq, expected_prev = seq + 1, stored
                        continue
                if seq != expected_seq:
                    raise _Broken(
                        stream,
                        seq,
                        _(
                            "sequence number %(seq)s where %(expected)s was expected "
                            "(event missing or inserted)"
                        )
                        % {"seq": seq, "expected": expected_seq},
                    )
                if prev != expected_prev:
                    raise _Broken(stream, seq, _("its previous-hash does not match the event before it"))
                try:
                    content = canonical_json(loads(payload))
                except ValueError:
                    content = None  # not JSON at all: cannot match
                if (
                    content is None
                    or canonical_hash(stream, seq, kind, at, actor_id, role, content, prev) != stored
                ):
                    raise _Broken(
                        stream, seq, _("its content does not match its hash (edited after it was written)")
                    )
                expected_seq += 1
                expected_prev = stored
                checked += 1
        if current is not None:
            _check_tail(current, expected_seq - 1, expected_prev, last_seq, last_hash)
        while head is not None:
            _check_empty(head)
            head = next(head_iter, None)
    except _Broken as broken:
        broken.checked, broken.streams = checked, streams
        raise
    return checked, streams


def _check_tail(stream, seq, hash_, head_seq, head_hash):
    """The head remembers the chain's last event: a chain that ends elsewhere lost its tail."""
    if (seq, hash_) != (head_seq, head_hash):
        if seq < head_seq:
            problem = _(
                "the chain ends at #%(last)s but its head records #%(head)s: later events were removed"
            ) % {"last": seq, "head": head_seq}
        else:
            problem = _("the chain ends at #%(last)s but its head records #%(head)s") % {
                "last": seq,
                "head": head_seq,
            }
        raise _Broken(stream, seq, problem)


def _check_empty(head):
    """A head with no events: every event of its stream was removed (or, since a checkpoint, the
    checkpointed event too)."""
    stream, last_seq = head[:2]
    if last_seq == 0:
        return  # created by a writer whose transaction then failed: a chain that never started
    raise _Broken(
        stream,
        last_seq,
        _("its head records #%(head)s but no event of this case is left: the stream was emptied")
        % {"head": last_seq},
        event=False,
    )


def _named(broken: _Broken) -> BrokenEvent:
    """The broken event with its id and kind, read once, for the verdict."""
    if not broken.event:
        return BrokenEvent(None, broken.stream, broken.seq)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, kind FROM audit_auditevent WHERE stream = %s AND seq = %s",
            [broken.stream, broken.seq],
        )
        row = cursor.fetchone()
    return (
        BrokenEvent(row[0], broken.stream, broken.seq, row[1])
        if row
        else BrokenEvent(None, broken.stream, broken.seq)
    )


def _where(clauses) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


def _on_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _rows(sql: str, params, *, prefetch: bool = False):
    """Batches of raw tuples from a server-side (named) cursor on PostgreSQL.

    `prefetch`: a thread fetches the next batch while this one is checked, so PostgreSQL reading and
    sending rows overlaps Python hashing them (psycopg waits for the network without the GIL). Only
    that thread fetches from this cursor; psycopg serialises the connection between cursors."""
    cursor = connection.chunked_cursor()
    try:
        cursor.execute(sql, params)
        if prefetch and _on_postgresql():
            yield from _prefetched(cursor.cursor)
        else:
            while batch := cursor.fetchmany(BATCH):
                yield batch
    finally:
        cursor.close()


def _prefetched(cursor):
    batches = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch():
        try:
            while not stop.is_set():
                batch = cursor.fetchmany(BATCH)
                batches.put(batch)
                if not batch:
                    return
        except BaseException as error:  # handed to the consumer, raised there
            batches.put(error)

    reader = threading.Thread(target=fetch, name="audit-verify-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            batch = batches.get()
            if isinstance(batch, BaseException):
                raise batch
            if not batch:
                return
            yield batch
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue, then let it finish
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.05)
        reader.join()


class audit_snapshot:
    """One consistent view for both reads (REPEATABLE READ when this opens the transaction), so an
    append committed between the heads' read and the events' read cannot look like tampering; and a
    transaction, so PostgreSQL's named cursors stream instead of being materialised WITH HOLD."""

    def __enter__(self):
        outermost = not connection.in_atomic_block
        # Inside a caller's transaction (a page verifying two chains in one snapshot, a test), join
        # it: a read needs no savepoint of its own.
        self._atomic = transaction.atomic(savepoint=False)
        self._atomic.__enter__()
        if outermost and _on_postgresql():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return self

    def __exit__(self, *exc):
        return self._atomic.__exit__(*exc)


def _sqlite_times(batches):
    """SQLite stores times as naive UTC text ("2026-12-07 20:24:27.123456", microseconds dropped at
    zero; Django's connection may parse it already): turned into canonical_time()'s text. The demo's
    scale; PostgreSQL formats them itself."""
    for batch in batches:
        yield [(s, q, k, _sqlite_time(at), a, r, p, v, h) for s, q, k, at, a, r, p, v, h in batch]


def _sqlite_time(value) -> str:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return canonical_time(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
