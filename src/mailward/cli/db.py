"""`mailward db upgrade|downgrade|current|history|check`: the schema of the store's database.

Every part upgrades the database to the newest revision by itself when it opens (so a new
version needs no step of its own); these commands are for operators who want to do it first,
see where a database stands, or go back. ``check`` exits 1 when the database is not at the
newest revision or its tables differ from what this version of mailward expects.
"""

from __future__ import annotations

import argparse
import json

from sqlalchemy import Engine, inspect

from mailward.config.settings import Settings
from mailward.store import migrate
from mailward.store._engine import build_engine


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("db", help="upgrade the database schema, or show its revision")
    db = p.add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="upgrade to the newest schema (or to REVISION)")
    up.add_argument("revision", nargs="?", default="head")
    down = db.add_parser("downgrade", help="go back to REVISION ('base' drops every table)")
    down.add_argument("revision")
    for name, text in (("current", "the database's revision and the newest one"),
                       ("history", "every revision, newest first"),
                       ("check", "exit 1 unless the schema is the newest and as expected")):
        one = db.add_parser(name, help=text)
        one.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    engine = build_engine(settings.store_url)
    try:
        return _COMMANDS[args.db_command](args, engine)
    finally:
        engine.dispose()


def _upgrade(args: argparse.Namespace, engine: Engine) -> int:
    before = migrate.current(engine)
    migrate.upgrade(engine, args.revision)
    print(f"schema: {before or 'none'} -> {migrate.current(engine) or 'none'}")
    return 0


def _downgrade(args: argparse.Namespace, engine: Engine) -> int:
    before = migrate.current(engine)
    migrate.downgrade(engine, args.revision)
    print(f"schema: {before or 'none'} -> {migrate.current(engine) or 'none'}")
    return 0


def _state(engine: Engine) -> dict[str, object]:
    revision = migrate.current(engine)
    with engine.connect() as conn:
        tables = len(set(inspect(conn).get_table_names()) - {migrate.VERSION_TABLE})
    return {"current": revision, "head": migrate.head(), "up_to_date": revision == migrate.head(),
            "unversioned_tables": tables if revision is None else 0}


def _current(args: argparse.Namespace, engine: Engine) -> int:
    state = _state(engine)
    if args.json:
        print(json.dumps(state))
        return 0
    line = f"database: {state['current'] or 'none'}; newest: {state['head']}"
    if state["unversioned_tables"]:
        line += " (tables of a release before migrations: `mailward db upgrade` adopts them)"
    elif not state["up_to_date"]:
        line += " (behind: `mailward db upgrade`, or start mailward, upgrades it)"
    print(line)
    return 0


def _history(args: argparse.Namespace, engine: Engine) -> int:
    revisions = migrate.history()
    here = migrate.current(engine)
    if args.json:
        print(json.dumps({"current": here, "revisions": [
            {"revision": r.revision, "down_revision": r.down_revision, "doc": r.doc}
            for r in revisions]}))
        return 0
    for r in revisions:
        mark = " (current)" if r.revision == here else ""
        print(f"{r.down_revision or 'base'} -> {r.revision}{mark}: {r.doc}")
    return 0


def _check(args: argparse.Namespace, engine: Engine) -> int:
    from mailward.store.tables import describe, schema_diff  # noqa: PLC0415 (every part)

    state = _state(engine)
    differences = [describe(d) for d in schema_diff(engine)]
    ok = bool(state["up_to_date"]) and not differences
    if args.json:
        print(json.dumps({**state, "differences": differences, "ok": ok}))
    else:
        print(f"database: {state['current'] or 'none'}; newest: {state['head']}")
        for line in differences:
            print(f"differs: {line}")
        print("schema ok" if ok else "schema NOT as expected")
    return 0 if ok else 1


_COMMANDS = {"upgrade": _upgrade, "downgrade": _downgrade, "current": _current,
             "history": _history, "check": _check}
