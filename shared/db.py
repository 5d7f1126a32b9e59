"""PostgreSQL connections: one small pool per process, transactions as context managers."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import psycopg2
import psycopg2.extras
import psycopg2.pool

psycopg2.extras.register_uuid()


class Database:
    """A pool of connections to one database. `transaction()` commits on success, rolls back on
    error, and throws away a connection that the server closed."""

    def __init__(self, dsn: str, maxconn: int = 8, application_name: str = "peerlink"):
        self.dsn = dsn
        self._pool = psycopg2.pool.ThreadedConnectionPool(
            0, maxconn, dsn, application_name=application_name
        )
        self._available = threading.BoundedSemaphore(maxconn)

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        # ThreadedConnectionPool raises when exhausted; waiting is kinder to a burst of requests
        self._available.acquire()
        try:
            conn = self._pool.getconn()
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
                with contextlib.suppress(psycopg2.Error):
                    conn.rollback()  # never hand on an open transaction
            self._pool.putconn(conn, close=broken or conn.closed != 0)
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

    def ping(self) -> None:
        with self.transaction() as cur:
            cur.execute("SELECT 1")

    def close(self) -> None:
        self._pool.closeall()
