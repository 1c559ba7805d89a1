"""Journal purge with and without revision 0002's index (run by hand, not in tests).

    PYTHONPATH=src python3 bench/journal_purge_bench.py [--entries 4000] [--url sqlite:///...]

Records ``--entries`` synthetic messages through :meth:`Journal.record` (one transaction each,
as the gateway does; six indicators a message), then times :meth:`Journal.purge_entries` of the
older half: once with ``ix_journal_indicators_journal_id`` dropped (the schema before 0002),
once with it. Each deleted journal row makes the database look for indicator rows still
pointing at it (the foreign key); without the index every look-up reads the whole table.
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import text

from mailward.response.journal import Journal, JournalEntry
from mailward.store._engine import build_engine
from mailward.store.tables import TARGET


def entry(i: int) -> JournalEntry:
    sender = f"a{i % 50}@ex{i % 7}.net"
    return JournalEntry(
        spool_id=f"s{i}", received_at=1000.0 + i, mail_from=sender,
        recipients=(f"r{i % 30}@corp.example",), from_address=sender,
        from_domain=f"ex{i % 7}.net", subject=f"Subject {i}", message_id=f"<m{i}@x>",
        urls=(f"ex{i}.test/p{i}", f"cdn{i % 9}.test/x"), hosts=(f"ex{i}.test", f"cdn{i % 9}.test"),
        domains=(f"ex{i}.test", f"cdn{i % 9}.test"),
        copies=((f"r{i % 30}@corp.example", "maildir:/x"),),
    )


def run(url: str, entries: int, indexed: bool) -> None:
    engine = build_engine(url)
    journal = Journal(url)
    with engine.begin() as conn:
        for table in reversed(TARGET.sorted_tables):
            if table.name.startswith("journal"):
                conn.execute(table.delete())
        conn.execute(text("DROP INDEX IF EXISTS ix_journal_indicators_journal_id"))
        if indexed:
            conn.execute(text("CREATE INDEX ix_journal_indicators_journal_id "
                              "ON journal_indicators (journal_id)"))
    start = time.perf_counter()
    for i in range(entries):
        journal.record(entry(i))
    recorded = time.perf_counter() - start
    start = time.perf_counter()
    purged = journal.purge_entries(1000.0 + entries / 2)
    took = time.perf_counter() - start
    name = "with index (0002)" if indexed else "without index (0001)"
    print(f"{name}: record {entries} entries {recorded:.1f} s "
          f"({recorded / entries * 1000:.2f} ms each); purge_entries of {purged}: {took:.2f} s")
    journal.close()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=4000)
    parser.add_argument("--url", default="sqlite:///mailward-bench/purge.db")
    args = parser.parse_args()
    for indexed in (False, True):
        run(args.url, args.entries, indexed)


if __name__ == "__main__":
    main()
