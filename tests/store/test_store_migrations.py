"""Schema migrations on SQLite and PostgreSQL: from an empty database, from the previous
release's schema (main at 82b6528, frozen in fixtures/) with its data kept, the schema equal to
the models, the second revision's index, downgrades, and two processes upgrading at once."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from dbreset import BACKENDS, drop_postgres, pg_url
from sqlalchemy import Column, Engine, Integer, MetaData, Table, inspect, text

from mailward.errors import StoreError
from mailward.response.journal import Journal
from mailward.response.lockdown import Level, LockdownState
from mailward.store import migrate, open_store
from mailward.store._engine import build_engine, open_tables
from mailward.store.base import HELD, MessageRecord
from mailward.store.feedback import FeedbackStore
from mailward.store.history import SenderStats, SqlSenderHistory
from mailward.store.tables import TARGET, describe, schema_diff

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'mailward.db'}"
        return
    found = pg_url()
    drop_postgres(found)
    yield found


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    opened = build_engine(url)
    yield opened
    opened.dispose()


def load_previous_release(engine: Engine) -> None:
    """The tables, indexes and subject index main@82b6528 creates, from the frozen DDL."""
    script = (FIXTURES / f"schema_82b6528.{engine.dialect.name}.sql").read_text()
    body = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    with engine.begin() as conn:
        for statement in body.split(";\n\n"):
            if statement.strip():
                conn.exec_driver_sql(statement.strip().rstrip(";"))


def tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def test_upgrade_from_empty_gives_the_models_schema(engine: Engine) -> None:
    assert migrate.current(engine) is None
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head() == "0004"
    assert set(TARGET.tables) <= tables(engine)
    assert [describe(d) for d in schema_diff(engine)] == []


def test_schema_diff_names_what_a_revision_behind_lacks(engine: Engine) -> None:
    migrate.upgrade(engine, "0001")
    assert "add_index journal_indicators.ix_journal_indicators_journal_id" in [
        describe(d) for d in schema_diff(engine)]
    migrate.upgrade(engine, "0003")
    assert sorted(describe(d) for d in schema_diff(engine)) == [
        "add_index activity_events.ix_activity_events_kind_at",
        "add_index campaign_merges.ix_campaign_merges_into",
        "add_table campaign_merges",
    ]


def test_schema_diff_names_a_column_the_models_lack(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'extra.db'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE audit_log ADD COLUMN extra INTEGER")
    assert [describe(d) for d in schema_diff(engine)] == ["remove_column audit_log.extra"]
    engine.dispose()


def test_downgrade_steps_back_and_base_drops_everything(engine: Engine) -> None:
    migrate.upgrade(engine)
    migrate.downgrade(engine, "0001")
    assert migrate.current(engine) == "0001"
    with engine.connect() as conn:
        names = {i["name"] for i in inspect(conn).get_indexes("journal_indicators")}
    assert "ix_journal_indicators_journal_id" not in names
    migrate.downgrade(engine, "base")
    assert migrate.current(engine) is None
    assert tables(engine) <= {migrate.VERSION_TABLE}


def test_previous_release_is_adopted_and_its_data_kept(url: str, engine: Engine) -> None:
    load_previous_release(engine)
    assert migrate.current(engine) is None
    assert schema_diff(engine)  # the previous release lacks the journal_id index
    _insert_old_rows(engine)

    store = open_store(url)  # upgrades: 0001 adopts the tables, 0002 adds the index
    try:
        assert migrate.current(engine) == migrate.head()
        assert schema_diff(engine) == []
        entry = store.get_quarantine("q-1")
        assert entry is not None and entry.subject == "Invoice"
        assert entry.recipients == {"alice@example.org": HELD, "bob@example.org": HELD}
        assert store.quarantine_raw("q-1") == b"raw message"
        message = store.get_message("q-1")
        assert message is not None and message.findings[0].symbol == "URL_CRED_FORM"
        assert [a.reason for a in store.audit_log("q-1")] == ["held"]
    finally:
        store.close()
    journal = Journal(url)
    try:
        hits = journal.find("sender", "Mallory@Example.net")
        assert [(h.spool_id, h.copies) for h in hits] == [("s-1", (("alice@example.org",
                                                                     "maildir:/x"),))]
        assert journal.raw(hits[0].journal_id) == b"journaled"
    finally:
        journal.close()
    history = SqlSenderHistory(url)
    assert history.seen_sync("mallory@example.net") == SenderStats(1.0, 2.0, 3)
    history.close()
    lockdown = LockdownState(url, cache_seconds=0)
    assert lockdown.status().level is Level.HEIGHTENED
    lockdown.close()
    feedback = FeedbackStore(url)
    assert [(s.label, s.raw) for s in feedback.iter_samples()] == [("phish", b"sample")]
    feedback.close()


def _insert_old_rows(engine: Engine) -> None:
    """Rows written as the previous release wrote them (through its reflected tables)."""
    old = MetaData()
    old.reflect(engine, only=["messages", "quarantine", "quarantine_recipients", "audit_log",
                              "journal", "journal_copies", "journal_raw",
                              "journal_indicators", "sender_history", "lockdown_state",
                              "classifier_feedback"])
    t = old.tables
    finding = {"symbol": "URL_CRED_FORM", "explanation": "A password form.", "evidence": [],
               "factor": 1.0, "score": 8.0, "detector": "urls"}
    common = {"id": "q-1", "received_at": 100.0, "mail_from": "mallory@example.net",
              "rcpt_tos": ["alice@example.org", "bob@example.org"], "message_id": "<q-1@x>",
              "subject": "Invoice", "score": 14.0, "action": "quarantine", "reason": "phish",
              "findings": [finding], "size": 11}
    with engine.begin() as conn:
        conn.execute(t["messages"].insert(), {**common, "peer_ip": "192.0.2.1", "sha256": "0"})
        conn.execute(t["quarantine"].insert(), {**common, "quarantined_at": 101.0,
                                                "raw": b"raw message"})
        conn.execute(t["quarantine_recipients"].insert(), [
            {"quarantine_id": "q-1", "recipient": r, "position": i, "status": HELD,
             "changed_at": 101.0}
            for i, r in enumerate(["alice@example.org", "bob@example.org"])])
        conn.execute(t["audit_log"].insert(), {"at": 101.0, "actor": "mailward",
                                               "action": "quarantine", "object_id": "q-1",
                                               "recipients": [], "reason": "held"})
        conn.execute(t["journal"].insert(), {
            "id": 1, "spool_id": "s-1", "received_at": 100.0, "mail_from": "mallory@example.net",
            "peer_ip": "192.0.2.1", "from_address": "mallory@example.net",
            "from_domain": "example.net", "subject": "Hello there", "subject_fp": "abc",
            "message_id": "<s-1@x>", "action": "deliver", "score": 0.0,
            "recipients": ["alice@example.org"], "details": {}})
        conn.execute(t["journal_copies"].insert(), {"journal_id": 1,
                                                    "recipient": "alice@example.org",
                                                    "location": "maildir:/x"})
        conn.execute(t["journal_raw"].insert(), {"journal_id": 1, "received_at": 100.0,
                                                 "raw": zlib.compress(b"journaled")})
        conn.execute(t["journal_indicators"].insert(), {"kind": "sender",
                                                        "value": "mallory@example.net",
                                                        "received_at": 100.0, "journal_id": 1})
        conn.execute(t["sender_history"].insert(), {"address": "mallory@example.net",
                                                    "first_seen": 1.0, "last_seen": 2.0,
                                                    "count": 3})
        conn.execute(t["lockdown_state"].insert(), {"id": 1, "level": "heightened",
                                                    "changed_at": 5.0, "actor": "admin",
                                                    "reason": "upgrade"})
        conn.execute(t["classifier_feedback"].insert(), {"at": 1.0, "label": "phish",
                                                         "raw": b"sample", "actor": "a",
                                                         "reason": "r"})
        if conn.dialect.name == "postgresql":  # ids given above: move the sequence past them
            conn.execute(text("SELECT setval('journal_id_seq', 1)"))


def test_a_partial_previous_release_gets_its_missing_parts(engine: Engine) -> None:
    """A release that never opened the journal or the console: 0001 creates what is missing."""
    load_previous_release(engine)
    with engine.begin() as conn:
        for name in ("journal_subject_fts", "journal_indicators", "journal_raw",
                     "journal_copies", "journal"):
            if name in inspect(conn).get_table_names():
                conn.exec_driver_sql(f"DROP TABLE {name}")
        conn.exec_driver_sql("DROP INDEX ix_quarantine_received_id")
    migrate.ensure_schema(engine)
    assert migrate.current(engine) == migrate.head()
    assert schema_diff(engine) == []


def test_the_new_index_serves_the_purges_foreign_key_lookup(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    query = "EXPLAIN QUERY PLAN SELECT 1 FROM journal_indicators WHERE journal_id = 1"

    def plan() -> str:
        with engine.connect() as conn:
            return " ".join(str(row[-1]) for row in conn.exec_driver_sql(query))

    try:
        migrate.upgrade(engine, "0001")
        assert "ix_journal_indicators_journal_id" not in plan()
        migrate.upgrade(engine)
        assert "ix_journal_indicators_journal_id" in plan()
    finally:
        engine.dispose()


def test_two_processes_upgrading_at_once_upgrade_once(url: str) -> None:
    engines = [build_engine(url) for _ in range(2)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def opening(engine: Engine) -> None:
        start.wait()
        try:
            migrate.ensure_schema(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opening, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        assert migrate.current(engines[0]) == migrate.head()
        with engines[0].connect() as conn:
            rows = conn.execute(text(f"SELECT version_num FROM {migrate.VERSION_TABLE}")).all()
        assert [r[0] for r in rows] == [migrate.head()]
    finally:
        for engine in engines:
            engine.dispose()


def test_a_table_without_a_migration_is_refused(url: str) -> None:
    unmigrated = MetaData()
    Table("not_migrated", unmigrated, Column("id", Integer, primary_key=True))
    with pytest.raises(StoreError, match=r"no migration creates table\(s\) not_migrated"):
        open_tables(url, unmigrated, "test")
    open_tables(url, TARGET, "every").dispose()  # the shipped tables all have one


def test_history_lists_the_revisions_newest_first() -> None:
    assert [(r.revision, r.down_revision) for r in migrate.history()] == [
        ("0004", "0003"), ("0003", "0002"), ("0002", "0001"), ("0001", None)]



def test_a_database_upgraded_by_a_newer_release_is_used_as_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A node still on this version restarts after a newer one upgraded the shared database."""
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    engine = build_engine(url)
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '0099'"))
        open_store(url).close()
        assert migrate.current(engine) == "0099"
        assert "newer than this mailward's (0004)" in caplog.text
    finally:
        engine.dispose()


def _rebuild_quarantine(engine: Engine, column: str) -> None:
    """What a revision in SQLite's batch mode does to a table others reference: copy it."""
    with migrate._locked(engine, "rebuild") as conn:
        ops = Operations(MigrationContext.configure(conn))
        with ops.batch_alter_table("quarantine", recreate="always") as batch:
            batch.add_column(Column(column, Integer, nullable=True))


def test_sqlite_batch_rebuild_of_a_referenced_table_keeps_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'batch.db'}"
    _insert_via_store(url)
    engine = build_engine(url)
    try:
        _rebuild_quarantine(engine, "extra")
        with engine.connect() as conn:
            assert "extra" in {c["name"] for c in inspect(conn).get_columns("quarantine")}
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # back on
    finally:
        engine.dispose()
    store = open_store(url)
    entry = store.get_quarantine("q-1")
    store.close()
    assert entry is not None and entry.recipients == {"alice@example.org": HELD}


def test_sqlite_migration_breaking_a_foreign_key_is_rolled_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'broken.db'}"
    _insert_via_store(url)
    engine = build_engine(url)
    try:
        with (pytest.raises(StoreError, match="would break 1 foreign key"),
              migrate._locked(engine, "break") as conn):
            conn.exec_driver_sql("DELETE FROM quarantine")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM quarantine").scalar() == 1
    finally:
        engine.dispose()


def _insert_via_store(url: str) -> None:
    store = open_store(url)
    store.quarantine(MessageRecord(
        id="q-1", received_at=1.0, mail_from="m@example.net", rcpt_tos=("alice@example.org",),
        peer_ip="192.0.2.1", message_id="<q-1@x>", subject="s", size=3, sha256="0", score=9.0,
        action="quarantine", reason="r", findings=()), b"raw")
    store.close()
