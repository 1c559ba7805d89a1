"""Emptying the PostgreSQL test database between tests (MAILWARD_TEST_PG_URL).

:func:`empty_postgres` keeps a database at the newest schema and deletes its rows (and restarts
its id sequences): much faster than dropping and migrating again for every test. A database in
any other state (another revision, tables of an old release) is dropped whole, so the next open
migrates it from nothing. :func:`drop_postgres` always drops every table.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import make_url

from mailward.store import migrate
from mailward.store.tables import TARGET

PG_ENV = "MAILWARD_TEST_PG_URL"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])


def pg_url() -> str:
    """The PostgreSQL URL of the tests (skips when its driver is not installed)."""
    url = os.environ[PG_ENV]
    pytest.importorskip(make_url(url).get_driver_name())
    return url


def empty_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if _at_head(conn):
                for table in reversed(TARGET.sorted_tables):
                    conn.execute(table.delete())
                sequences = conn.execute(text(
                    "SELECT sequence_name FROM information_schema.sequences"
                    " WHERE sequence_schema = current_schema()"
                )).scalars().all()
                for name in sequences:
                    conn.execute(text(f'ALTER SEQUENCE "{name}" RESTART'))
            else:
                _drop(conn)
    finally:
        engine.dispose()


def drop_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _drop(conn)
    finally:
        engine.dispose()


def _at_head(conn: Connection) -> bool:
    have = set(inspect(conn).get_table_names())
    if migrate.VERSION_TABLE not in have or not set(TARGET.tables) <= have:
        return False
    version = conn.execute(text(f"SELECT version_num FROM {migrate.VERSION_TABLE}")).scalar()
    return version == migrate.head()


def _drop(conn: Connection) -> None:
    names = inspect(conn).get_table_names()
    if names:
        conn.execute(text("DROP TABLE " + ", ".join(f'"{n}"' for n in names) + " CASCADE"))
