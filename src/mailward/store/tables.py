"""Every table mailward keeps on the store's URL, as one MetaData, and how a database differs
from it.

Each part defines its own tables beside its code (store, sender history, feedback, lockdown,
journal, console accounts, activity, campaigns, the cluster's held mail); :data:`TARGET` is
their union, the schema the newest migration must produce. :func:`schema_diff` lists how a
database differs from it (empty when the migrations and the code agree), for `mailward db
check` and the tests. Only those
import this module: it imports every part.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData
from sqlalchemy.exc import SQLAlchemyError

from mailward.activity._campaign_schema import CAMPAIGN_METADATA
from mailward.activity._schema import ACTIVITY_METADATA
from mailward.cluster.held import HELD_METADATA
from mailward.errors import StoreError
from mailward.response._schema import JOURNAL_METADATA
from mailward.response.lockdown import LOCKDOWN_METADATA
from mailward.store._schema import METADATA
from mailward.store.feedback import _METADATA as FEEDBACK_METADATA
from mailward.store.history import HISTORY_METADATA
from mailward.store.migrate import VERSION_TABLE, include_object
from mailward.web._accounts import _METADATA as ACCOUNTS_METADATA

PARTS = (METADATA, HISTORY_METADATA, FEEDBACK_METADATA, LOCKDOWN_METADATA, JOURNAL_METADATA,
         ACCOUNTS_METADATA, ACTIVITY_METADATA, CAMPAIGN_METADATA, HELD_METADATA)


def union(parts: tuple[MetaData, ...] = PARTS) -> MetaData:
    """One MetaData with a copy of every table of ``parts`` (ValueError on a name used twice)."""
    merged = MetaData()
    for part in parts:
        for table in part.tables.values():
            if table.name in merged.tables:
                raise ValueError(f"table {table.name} is defined twice")
            table.to_metadata(merged)
    return merged


TARGET = union()


def describe(difference: Any) -> str:
    """One line for one of :func:`schema_diff`'s differences: what, and which table, index or
    column (a column's change is a list of tuples, the column's changes)."""
    if isinstance(difference, list):
        return "; ".join(describe(d) for d in difference)
    kind, *rest = difference
    if kind.endswith("_column"):  # (kind, schema, table name, Column)
        return f"{kind} {rest[1]}.{rest[2].name}"
    if kind.startswith("modify_"):  # (kind, schema, table, column, info, old, new)
        return f"{kind} {rest[1]}.{rest[2]}: {rest[4]!r} -> {rest[5]!r}"
    name = getattr(rest[0], "name", None) if rest else None
    table = getattr(getattr(rest[0], "table", None), "name", None) if rest else None
    return f"{kind} {table + '.' if table else ''}{name}"


def schema_diff(engine: Engine) -> list[Any]:
    """Alembic's differences between the database and :data:`TARGET` (column types too)."""
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "include_object": include_object,
                "version_table": VERSION_TABLE,
            })
            return list(compare_metadata(context, TARGET))
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot compare the schema: {exc}") from exc
