"""PostgreSQL connections: one small pool per process, transactions as context managers, and
what a request or a loop needs to know when the database goes away (DatabaseUnavailable)."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg2
import psycopg2.extensions
import psycopg2.extras
from eventlet.patcher import original

from shared import metrics

psycopg2.extras.register_uuid()

log = logging.getLogger(__name__)

# The select that looks at an idle connection before it is lent: the system's own, even where
# eventlet has made `select` green, since a look that does not wait need not hand the process
# to other green threads (doing so on every lend cost a hub turn, a timer and an epoll
# registration each time, about a tenth of a command's time in bench/compare_revisions.py).
_look = original("select").select

# A connection idle this long is asked a `SELECT 1` before it is lent again: a server that
# went away without a word (a network cut, a host restarted) leaves nothing to read on it.
IDLE_CHECK_SECONDS = 30.0
# How long opening a connection may take before the database counts as unavailable.
CONNECT_TIMEOUT_SECONDS = 5

# What a statement's command tag says when it changed nothing that a commit makes durable.
_READ_TAGS = frozenset(
    {
        "BEGIN",
        "CLOSE",
        "DEALLOCATE",
        "DECLARE",
        "FETCH",
        "LISTEN",
        "LOCK",
        "MOVE",
        "PREPARE",
        "RELEASE",
        "ROLLBACK",
        "SAVEPOINT",
        "SELECT",
        "SET",
        "SHOW",
        "UNLISTEN",
    }
)
# Statements that, sent outside a transaction block in autocommit, make nothing durable.
_READ_ALONE = frozenset(
    {"BEGIN", "SELECT", "ROLLBACK", "SHOW", "SET", "LISTEN", "PREPARE", "DEALLOCATE"}
)
# A statement's first word (its command), after any white space.
_FIRST_WORD = re.compile(r"\s*([A-Za-z]+)")


class DatabaseUnavailable(psycopg2.OperationalError):
    """The database could not be reached, or the connection broke while in use (the server
    restarted, say). `may_have_committed`: a commit was on its way when it broke, so what it
    carried may be stored; a caller must not simply run it again."""

    def __init__(self, message: str, may_have_committed: bool = False):
        super().__init__(message)
        self.may_have_committed = may_have_committed


@dataclass
class Unit:
    """One piece of work (an HTTP request): whether anything it wrote may have been committed
    yet. Only such a unit is safe to run again from the start."""

    committed: bool = False


_unit: contextvars.ContextVar[Unit | None] = contextvars.ContextVar("peerlink_unit", default=None)


@contextlib.contextmanager
def unit_of_work() -> Iterator[Unit]:
    """Notes, for the code running inside it (this thread or green thread), whether a write
    may have been committed."""
    unit = Unit()
    token = _unit.set(unit)
    try:
        yield unit
    finally:
        _unit.reset(token)


def note_committed() -> None:
    """A write of the current unit of work may be durable (e.g. appended for it by another
    request's group commit)."""
    unit = _unit.get()
    if unit is not None:
        unit.committed = True


class _Connection(psycopg2.extensions.connection):
    """A pooled connection that knows whether what it ran since it was lent may have been made
    durable, so a broken connection can say whether its work is safe to do again."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.wrote = False  # the open transaction changed something
        self.may_have_committed = False  # since lent: a write may have been made durable
        self.idle_since = time.monotonic()

    def committing(self) -> None:
        self.may_have_committed = True
        note_committed()

    def commit(self) -> None:
        if self.wrote:
            self.committing()
        super().commit()
        self.wrote = False

    def rollback(self) -> None:
        super().rollback()
        self.wrote = False


class _Cursor(psycopg2.extensions.cursor):
    """Tells its connection what a statement may have written (see _Connection)."""

    def execute(self, query, vars=None):  # noqa: A002 - psycopg2's signature
        self._before(query)
        result = super().execute(query, vars)
        self._after()
        return result

    def executemany(self, query, vars_list):
        self._before(query)
        result = super().executemany(query, vars_list)
        self._after()
        return result

    def _before(self, query) -> None:
        conn = self.connection
        if conn.autocommit and _may_commit_alone(conn, query):
            # the answer may never come back, while the write is durable all the same
            conn.committing()

    def _after(self) -> None:
        conn = self.connection
        if conn.wrote or conn.autocommit:
            return  # known already, or told before the statement was sent
        tag = (self.statusmessage or "").split(" ", 1)[0]
        if tag not in _READ_TAGS:
            conn.wrote = True


def _may_commit_alone(conn, query) -> bool:
    """Whether a statement sent in autocommit may make a write durable by itself."""
    if isinstance(query, bytes):
        query = query.decode(errors="replace")
    if not isinstance(query, str):
        return True  # composed: not worth telling apart
    first = _FIRST_WORD.match(query)
    verb = first.group(1).upper() if first else ""
    if verb in ("COMMIT", "END"):
        return True
    if verb == "BEGIN":
        return "COMMIT" in query.upper()
    return verb not in _READ_ALONE and not in_transaction(conn)


class Database:
    """A pool of connections to one database, opened on demand and kept for reuse.

    It never lends a connection that died with the server: one the server closed, one with
    something to read while idle (the server's goodbye), or one idle for long that does not
    answer `SELECT 1` is dropped and another opened. A connection that breaks in use drops the
    idle ones with it (a restarted server closed them all) and raises DatabaseUnavailable.
    `transaction()` commits on success and rolls back on error."""

    def __init__(self, dsn: str, maxconn: int = 8, application_name: str = "peerlink"):
        self.dsn = dsn
        self.application_name = application_name
        self.maxconn = maxconn
        self._idle: list = []
        self._lock = threading.Lock()
        self.closed = False
        self._available = threading.Semaphore(maxconn)
        # how many connections the current thread (green thread, in a service) holds: one it
        # asks for while holding another never waits for a connection it holds itself (a
        # context variable: each thread and each green thread starts with its own, and reading
        # one costs far less than eventlet's green-thread local)
        self._held: contextvars.ContextVar[int] = contextvars.ContextVar(
            f"peerlink_held_{application_name}_{id(self)}", default=0
        )
        self._discarded = metrics.DB_CONNECTIONS_DISCARDED.labels(application_name)

    def widen(self, more: int) -> None:
        """Lend up to `more` connections more at once (another part of the process shares
        this pool)."""
        with self._lock:
            self.maxconn += more
        self._available.release(more)

    def _open(self):
        try:
            return psycopg2.connect(
                self.dsn,
                application_name=self.application_name,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                connection_factory=_Connection,
                cursor_factory=_Cursor,
            )
        except psycopg2.OperationalError as error:
            raise DatabaseUnavailable(f"cannot connect to the database: {error}") from error

    def _lend(self):
        """An idle connection that still works, or a new one."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._open()
            elif not _still_works(conn):
                self._discard(conn)
                continue
            conn.may_have_committed = False
            return conn

    def _discard(self, conn) -> None:
        self._discarded.inc()
        with contextlib.suppress(psycopg2.Error):
            conn.close()

    def _discard_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            self._discard(conn)

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        if self.closed:
            raise psycopg2.InterfaceError("the connection pool is closed")
        held = self._held.get()
        # waiting for a free connection is kinder to a burst of requests than failing; a
        # connection asked for beside one already held is lent beyond the limit when none is
        # free, since waiting could be for ever
        counted = self._available.acquire(blocking=held == 0)
        try:
            conn = self._lend()
        except BaseException:
            if counted:
                self._available.release()
            raise
        self._held.set(held + 1)
        broken = False
        try:
            yield conn
        except psycopg2.Error as error:
            if not conn.closed:
                raise
            broken = True
            raise _unavailable(error, conn) from error
        finally:
            if not broken and conn.closed == 0:
                try:
                    conn.rollback()  # never hand on an open transaction
                except psycopg2.Error:
                    broken = True
            keep = not broken and not conn.closed
            if keep:
                conn.idle_since = time.monotonic()
                with self._lock:
                    keep = not self.closed  # a pool closed meanwhile keeps nothing
                    if keep:
                        self._idle.append(conn)
            if not keep and (broken or conn.closed):
                self._discard(conn)
            elif not keep:
                with contextlib.suppress(psycopg2.Error):
                    conn.close()
            if broken or conn.closed:
                # the server that closed this one most likely closed every other one too
                self._discard_idle()
            self._held.set(held)
            if counted:
                self._available.release()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        with self.connection() as conn:
            try:
                with conn.cursor() as cur:
                    yield cur
                conn.commit()
            except BaseException:
                if conn.closed == 0:
                    conn.rollback()
                raise

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[psycopg2.extensions.connection]:
        """A connection in autocommit, for a caller that sends BEGIN and COMMIT itself (with
        its first and last statements, saving psycopg2's round trip for each). Whatever it
        leaves open is rolled back, and the connection goes back to the pool as it is lent."""
        with self.connection() as conn:
            conn.autocommit = True
            try:
                yield conn
            finally:
                if not conn.closed:
                    try:
                        if in_transaction(conn):
                            with conn.cursor() as cur:
                                cur.execute("ROLLBACK")
                        conn.autocommit = False
                    except psycopg2.Error:
                        conn.close()  # the pool throws a closed connection away

    def ping(self) -> None:
        with self.transaction() as cur:
            cur.execute("SELECT 1")

    def close(self) -> None:
        """Closes the idle connections now, and each one in use when it is handed back."""
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(psycopg2.Error):
                conn.close()


_shared: dict[str, Database] = {}
_shared_lock = threading.Lock()


def shared_database(dsn: str, maxconn: int, application_name: str) -> Database:
    """The process's one pool for `dsn`, widened by `maxconn` for each part of the process that
    asks for it (an event store, the audit trail, the workforce), so that a process holds one
    set of connections to its database, not one per part. The first to close it closes it for
    all (parts stop together, after their requests), and the next to ask opens a new one."""
    with _shared_lock:
        db = _shared.get(dsn)
        if db is None or db.closed:
            db = _shared[dsn] = Database(dsn, maxconn, application_name)
        else:
            db.widen(maxconn)
        return db


def _unavailable(error: psycopg2.Error, conn) -> DatabaseUnavailable:
    """The error of a connection that broke in use, saying whether a commit was on its way."""
    may_have_committed = conn.may_have_committed or getattr(error, "may_have_committed", False)
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return DatabaseUnavailable(f"the database connection broke: {reason}", may_have_committed)


def _still_works(conn) -> bool:
    """Whether an idle connection may be lent: not closed, nothing waiting to be read (an idle
    connection hears from the server only when it is being closed), and answering when it
    has been idle for long."""
    if conn.closed:
        return False
    try:
        if _look([conn], [], [], 0)[0]:
            return False
    except (OSError, ValueError):  # a descriptor select cannot watch: ask the server instead
        conn.idle_since = 0.0
    if time.monotonic() - conn.idle_since < IDLE_CHECK_SECONDS:
        return True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        conn.rollback()
    except psycopg2.Error:
        return False
    return True


class Reachability:
    """Whether one long-running part of a process (a relay, a consumer, a timer) reaches its
    database now. An outage starts at its first failure for want of the database and ends at
    its next success; while it lasts /health names it and `peerlink_database_up` is 0."""

    def __init__(self, component: str):
        self.component = component
        self.since: datetime | None = None
        self.reason = ""
        self._up = metrics.DATABASE_UP.labels(component)
        self._up.set(1)

    @property
    def is_down(self) -> bool:
        return self.since is not None

    def failed(self, error: BaseException) -> None:
        self.reason = type(error).__name__
        if self.since is None:
            self.since = datetime.now(UTC)
            metrics.DATABASE_OUTAGES.labels(self.component).inc()
            self._up.set(0)
            log.warning("%s: the database is unavailable (%s); waiting", self.component, error)

    def reached(self) -> None:
        if self.since is not None:
            seconds = (datetime.now(UTC) - self.since).total_seconds()
            log.info("%s: the database answers again after %.1f s", self.component, seconds)
            self.since = None
            self._up.set(1)

    def check(self) -> str:
        """What /health says of this part: "ok", or since when it has waited for the database."""
        if self.since is None:
            return "ok"
        return f"unavailable: database ({self.reason}) since {self.since.isoformat()}"


def is_database_error(error: BaseException) -> bool:
    """Whether an error says the database is away (not that a statement was wrong)."""
    return isinstance(error, psycopg2.OperationalError | psycopg2.InterfaceError)


def in_transaction(conn) -> bool:
    """Whether the server holds a transaction open on `conn` (what psycopg2 does not track
    when the caller sent BEGIN itself)."""
    return conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE


def rows(cur) -> list[dict]:
    """The rest of a cursor's result, each row as a dict by column name."""
    columns = [c.name for c in cur.description]
    return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def select_page(
    cur, select: str, where: list[str], params: list, order: str, limit: int, offset: int
) -> tuple[int, list[dict]]:
    """How many rows `select` (a SELECT without WHERE) finds under `where`, and one page of
    them in `order`."""
    clause = " AND ".join(where) or "true"
    cur.execute(f"SELECT count(*) FROM ({select} WHERE {clause}) counted", params)
    total = cur.fetchone()[0]
    cur.execute(
        f"{select} WHERE {clause} ORDER BY {order} LIMIT %s OFFSET %s", (*params, limit, offset)
    )
    return total, rows(cur)
