"""Alembic's environment for mailward: runs on the connection mailward.store.migrate passes in
``config.attributes["connection"]`` (any URL, no alembic.ini), inside that connection's
transaction. SQLite gets batch mode (ALTER by copying the table). Upgrades need no models; a
new revision's autogenerate gets them in ``config.attributes["target_metadata"]``."""

from __future__ import annotations

from alembic import context

from mailward.store.migrate import VERSION_TABLE, include_object


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("mailward migrations run through mailward.store.migrate (`mailward db`)")
    context.configure(
        connection=connection,
        target_metadata=context.config.attributes.get("target_metadata"),
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
