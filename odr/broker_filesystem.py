"""kombu's filesystem transport (the demo's embedded broker) without its read/write race.

Stock kombu (5.7) creates the message file, then locks and writes it; a consumer polling the folder
in between moves the still-empty file away and crashes the worker on `json.loads(b"")`
(JSONDecodeError). Here a publisher writes under a name consumers ignore and renames it into place
(a rename is atomic on one filesystem), so a consumer only ever sees whole files; and a consumer
that meets an unreadable file anyway (say one left by a publisher killed mid-write, or by another
kombu version) logs it and moves on instead of dying. A claim (a rename into the processed folder)
lost to another consumer is skipped; one that fails otherwise (no processed folder, EACCES) raises
ChannelError, since every later claim would fail too. A ".part" file left by a publisher killed
mid-write is removed by a consumer once it is an hour old (looked for once a minute per channel).
A message fetched but not yet acknowledged when the worker is killed is lost, as with stock kombu:
the platform's state is in rows and every task has a periodic pick-up (outbox relay,
render_pending, the sweep), so the work is still done.
The exchange tables (which queue is bound to which exchange, read on every publish) had the same
race: a binder creates the file, then locks it, while a publisher reads it empty. Here a binder
rewrites the table under a lock file of its own and renames it into place; readers see the old
table or the new one, whole. Measured against stock kombu and kombu's SQLAlchemy transport on
SQLite by bench/embedded_broker.py (figures in docs/architecture.md).
"""

import fcntl
import logging
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from queue import Empty
from time import monotonic, time

from kombu.transport import TRANSPORT_ALIASES, filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

_PARTIAL_SUFFIX = ".part"

# A publisher killed between writing and renaming leaves its ".part" file behind; consumers remove
# those older than STALE_PARTIAL_AGE (no live publisher takes that long to write a few kilobytes),
# looking at most once per PARTIAL_SWEEP_INTERVAL per channel (and at its first poll), not per poll.
STALE_PARTIAL_AGE = 3600.0
PARTIAL_SWEEP_INTERVAL = 60.0

# The broker URL's scheme for this transport (`odr-filesystem://`): chosen by the URL, as any other
# kombu transport, so that code pointing the app at another URL (Redis) gets Redis.
SCHEME = "odr-filesystem"


def register() -> None:
    """Make `odr-filesystem://` known to kombu (odr/celery.py calls it in every process)."""
    TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")


def transport_options(root, *, polling_interval: float = 0.1) -> dict:
    """The transport's folders under `root` (made if absent), as kombu's transport options: the
    settings' embedded broker, its tests and bench/embedded_broker.py all lay it out so."""
    folders = {name: Path(root) / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "store_processed": False,
        "polling_interval": polling_interval,  # kombu's default (1 s) delivers one task a second
    }


def _write_whole(path, data: bytes):
    partial = f"{path}{_PARTIAL_SUFFIX}"
    with open(partial, "wb") as f:
        f.write(data)
    os.replace(partial, path)


class Channel(filesystem.Channel):
    @contextmanager
    def _table_lock(self, exchange):
        # Binders of one exchange take turns; readers never wait (they read a renamed, whole file).
        with open(f"{self._exchange_file(exchange)}.lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def get_table(self, exchange):
        try:
            data = self._exchange_file(exchange).read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot read the table of exchange {exchange!r}") from exc
        try:
            return [filesystem.exchange_queue_t(*q) for q in loads(bytes_to_str(data))] if data else []
        except (ValueError, TypeError):
            # Say a table cut short by a stock kombu binder killed mid-write: the next bind (every
            # worker binds its queues at start) writes it whole again.
            logger.warning("broker: the table of exchange %s is unreadable; read as empty", exchange)
            return []

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        try:
            with self._table_lock(exchange):
                table = self.get_table(exchange)
                if binding not in table:
                    _write_whole(self._exchange_file(exchange), str_to_bytes(dumps([*table, binding])))
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot bind queue {queue!r} to exchange {exchange!r}") from exc

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        # The virtual channel's own bookkeeping, then our table (not the stock file rewrite).
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_lock(exchange):
            table = self.get_table(exchange)
            if binding in table:
                table.remove(binding)
                _write_whole(self._exchange_file(exchange), str_to_bytes(dumps(table)))

    def _put(self, queue, payload, **kwargs):
        # Same name scheme as kombu (time-ordered, then the queue), written aside then renamed.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        try:
            _write_whole(os.path.join(self.data_folder_out, name), str_to_bytes(dumps(payload)))
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add message file {name!r} to the broker folder") from exc

    def _get(self, queue):
        wanted = f"{queue}.msg"
        listing = sorted(os.listdir(self.data_folder_in))
        self._sweep_stale_partials(listing)
        for filename in listing:
            # Partial files end in ".part", so they never match a queue here.
            if filename.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.processed_folder, filename)
            try:
                # Claim it: a rename within the broker folder, so exactly one consumer wins.
                os.rename(os.path.join(self.data_folder_in, filename), claimed)
            except FileNotFoundError as exc:
                if os.path.isdir(self.processed_folder):
                    continue  # another consumer took it
                self._claim_failed(queue, filename, exc)  # the rename's other ENOENT: no processed folder
            except OSError as exc:
                self._claim_failed(queue, filename, exc)  # EACCES, EXDEV, ...: every claim would fail
            try:
                with open(claimed, "rb") as f:
                    payload = f.read()
            finally:
                if not self.store_processed:
                    os.remove(claimed)
            try:
                return loads(bytes_to_str(payload))
            except ValueError:
                logger.warning(
                    "broker: skipped an unreadable message file on queue %s (%d bytes)", queue, len(payload)
                )
        raise Empty()

    def _claim_failed(self, queue, filename, exc):
        # Not a lost race: skipping would make the worker poll forever with its queue stuck.
        logger.error(
            "broker: cannot claim message file %s of queue %s into %s: %s",
            filename,
            queue,
            self.processed_folder,
            exc,
        )
        raise filesystem.ChannelError(
            f"Cannot move message file {filename!r} of queue {queue!r} into {self.processed_folder!r}"
        ) from exc

    def _sweep_stale_partials(self, listing):
        now = monotonic()
        if now < getattr(self, "_next_partial_sweep", 0.0):
            return
        self._next_partial_sweep = now + PARTIAL_SWEEP_INTERVAL
        cutoff = time() - STALE_PARTIAL_AGE
        for filename in listing:
            if not filename.endswith(_PARTIAL_SUFFIX):
                continue
            path = os.path.join(self.data_folder_in, filename)
            try:
                if os.stat(path).st_mtime < cutoff:
                    os.remove(path)
                    logger.warning("broker: removed %s, a message its publisher never finished", filename)
            except FileNotFoundError:
                pass  # renamed into place by its publisher, or removed by another consumer


class Transport(filesystem.Transport):
    Channel = Channel
