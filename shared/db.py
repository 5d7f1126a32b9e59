"""PostgreSQL connections: one small pool per process, transactions as context managers."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import psycopg2
import psycopg2.extras

psycopg2.extras.register_uuid()


class Database:
    """A pool of connections to one database, opened on demand and kept for reuse.
    `transaction()` commits on success, rolls back on error, and throws away a connection
    that the server closed."""

    def __init__(self, dsn: str, maxconn: int = 8, application_name: str = "peerlink"):
        self.dsn = dsn
        self.application_name = application_name
        self._idle: list = []
        self._lock = threading.Lock()
        self.closed = False
        self._available = threading.BoundedSemaphore(maxconn)

    def _open(self):
        return psycopg2.connect(self.dsn, application_name=self.application_name)

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        if self.closed:
            raise psycopg2.InterfaceError("the connection pool is closed")
        # waiting for a free connection is kinder to a burst of requests than failing
        self._available.acquire()
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                conn = self._open()
        except Exception:
            self._available.release()
            raise
        broken = False
        try:
            yield conn
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            broken = True
            raise
        finally:
            if not broken and conn.closed == 0:
                try:
                    conn.rollback()  # never hand on an open transaction
                except psycopg2.Error:
                    broken = True
            keep = not broken and not conn.closed
            if keep:
                with self._lock:
                    keep = not self.closed  # a pool closed meanwhile keeps nothing
                    if keep:
                        self._idle.append(conn)
            if not keep:
                with contextlib.suppress(psycopg2.Error):
                    conn.close()
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


def in_transaction(conn) -> bool:
    """Whether the server holds a transaction open on `conn` (what psycopg2 does not track
    when the caller sent BEGIN itself)."""
    return conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE


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
