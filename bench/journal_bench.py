"""Benchmark of the delivery journal's indicator lookups at scale (run by hand, not in tests).

    python bench/journal_bench.py [--entries 1000000] [--path /tmp/mailward-bench/journal.db]

Loads synthetic journal entries (no raw bodies) through the journal's own row builder
(:func:`mailward.response.journal.entry_rows`) with executemany in batches, with SQLite tuned
for the load only (synchronous=OFF, large cache, no foreign-key checks) on that one
connection; then times :meth:`Journal.find` for domain, hash, sender and url (20 random
lookups each, hits and misses: median and max) and subject substring hunts (through the
trigram index, see mailward.response._subject_index), and reports the database size on
disk. Target: every indicator lookup under 1 s.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import multiprocessing
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from sqlalchemy import JSON, Table

from mailward.response._schema import journal as journal_table
from mailward.response._schema import journal_copies, journal_indicators
from mailward.response.journal import (
    AttachmentDigest,
    Journal,
    JournalEntry,
    entry_rows,
)
from mailward.store._engine import build_engine

START = 1_700_000_000.0
SPAN = 90 * 86400.0
LOAD_PRAGMAS = (
    "PRAGMA synchronous=OFF",
    "PRAGMA cache_size=-2000000",  # 2 GB of page cache, for the load only
    "PRAGMA temp_store=MEMORY",
    "PRAGMA foreign_keys=OFF",
)


class Corpus:
    """Deterministic synthetic traffic: skewed sender domains and link hosts, unique ids."""

    def __init__(self, entries: int, seed: int = 7) -> None:
        self.seed = seed
        self.entries = entries
        self.sender_domains = [f"sender{i}.example{i % 7}.com" for i in range(20_000)]
        self.link_hosts = [f"www.site{i}.example{i % 11}.net" for i in range(200_000)]
        self.users = [f"user{i}@corp.example.org" for i in range(5_000)]
        self.subjects = [f"Subject template {i} about order" for i in range(2_000)]

    @staticmethod
    def _skewed(rng: random.Random, items: list[str]) -> str:
        index = int(rng.paretovariate(1.2)) - 1
        return items[index] if index < len(items) else rng.choice(items)

    def entry(self, i: int) -> JournalEntry:
        """Entry ``i``, the same every time it is asked for."""
        rng = random.Random(self.seed * 1_000_003 + i)
        domain = self._skewed(rng, self.sender_domains)
        sender = f"u{rng.randrange(100_000)}@{domain}"
        rcpts = tuple(rng.sample(self.users, rng.randint(1, 3)))
        hosts = [self._skewed(rng, self.link_hosts) for _ in range(rng.randint(0, 3))]
        urls = tuple(f"{h}/p/{rng.randrange(1_000_000)}" for h in hosts)
        atts: tuple[AttachmentDigest, ...] = ()
        if rng.random() < 0.2:
            seed = str(i).encode()
            atts = (AttachmentDigest(
                f"file{i}.pdf", 1000, hashlib.sha256(seed).hexdigest(),
                hashlib.md5(seed, usedforsecurity=False).hexdigest(),
                hashlib.sha1(seed, usedforsecurity=False).hexdigest()),)
        return JournalEntry(
            spool_id=f"spool-{i:09d}", received_at=START + i * SPAN / self.entries,
            mail_from=sender, recipients=rcpts, from_address=sender, from_domain=domain,
            subject=f"{rng.choice(self.subjects)} {rng.randrange(10_000)}",
            message_id=f"<{i}.{rng.randrange(10**9)}@{domain}>", score=rng.random() * 5,
            urls=urls, hosts=tuple(dict.fromkeys(hosts)),
            domains=tuple(dict.fromkeys(".".join(h.split(".")[1:]) for h in hosts)),
            attachments=atts,
            copies=tuple((r, f"maildir:/var/mail/{r}/new/spool-{i:09d}") for r in rcpts),
        )


Rows = list[tuple[object, ...]]
Batch = tuple[Rows, Rows, Rows]
TABLES = (journal_table, journal_indicators, journal_copies)


def _as_tuple(table: Table, row: dict[str, object]) -> tuple[object, ...]:
    """A row as plain values in column order (JSON columns serialised), cheap to pickle."""
    return tuple(
        json.dumps(row[c.name]) if isinstance(c.type, JSON) else row[c.name] for c in table.c
    )


def _make_batch(args: tuple[Corpus, int, int]) -> Batch:
    """The rows of entries [first, last): journal rows, indicator rows, copy rows."""
    corpus, first, last = args
    out: Batch = ([], [], [])
    for i in range(first, last):
        row, indicators, copies, _raw = entry_rows(corpus.entry(i), journal_id=i)
        out[0].append(_as_tuple(journal_table, row))
        out[1].extend(_as_tuple(journal_indicators, r) for r in indicators)
        out[2].extend(_as_tuple(journal_copies, r) for r in copies)
    return out


def _batches(corpus: Corpus, size: int, workers: int) -> Iterator[Batch]:
    """Batches built by worker processes, in order, while this one inserts."""
    ranges = [(corpus, first, min(first + size, corpus.entries + 1))
              for first in range(1, corpus.entries + 1, size)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(_make_batch, ranges)


def _insert_sql(table: Table) -> str:
    names = ", ".join(c.name for c in table.c)
    return f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(table.c))})"  # noqa: S608 (own table)


def load(url: str, corpus: Corpus, batch: int, workers: int) -> float:
    """Load the corpus with executemany in batches, one transaction per batch."""
    Journal(url).close()  # creates the tables
    engine = build_engine(url)
    started = time.perf_counter()
    statements = [_insert_sql(t) for t in TABLES]
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        for pragma in LOAD_PRAGMAS:
            driver.execute(pragma)
        done = 0
        for rows in _batches(corpus, batch, workers):
            driver.execute("BEGIN")
            for sql, values in zip(statements, rows, strict=True):
                driver.executemany(sql, values)
            driver.execute("COMMIT")
            done += len(rows[0])
            if done % 100_000 < batch:
                print(f"  loaded {done:,} ({time.perf_counter() - started:.0f} s)", flush=True)
        driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return time.perf_counter() - started


def _timed(fn: Callable[[], Sequence[object]]) -> tuple[float, int]:
    started = time.perf_counter()
    found = fn()
    return (time.perf_counter() - started) * 1000, len(found)


def _report(label: str, runs: list[tuple[float, int]]) -> None:
    times = [t for t, _ in runs]
    hits = [n for _, n in runs]
    print(f"  {label:<22} median {statistics.median(times):8.2f} ms   max {max(times):8.2f} ms"
          f"   rows/lookup median {statistics.median(hits):.0f} max {max(hits)}")


def query(url: str, corpus: Corpus, lookups: int = 20) -> None:
    journal = Journal(url)
    rng = random.Random(99)
    samples = [corpus.entry(i) for i in rng.sample(range(1, corpus.entries + 1), 200)]
    with_att = [e for e in samples if e.attachments] or samples
    with_url = [e for e in samples if e.urls] or samples
    cases: dict[str, tuple[str, Callable[[], str], Callable[[], str]]] = {
        "domain": ("domain", lambda: rng.choice(rng.choice(with_url).domains),
                   lambda: f"missing{rng.randrange(10**9)}.example.net"),
        "hash": ("hash", lambda: rng.choice(with_att).attachments[0].sha256,
                 lambda: hashlib.sha256(str(rng.random()).encode()).hexdigest()),
        "sender": ("sender", lambda: rng.choice(samples).mail_from,
                   lambda: f"nobody{rng.randrange(10**9)}@example.net"),
        "url": ("url", lambda: rng.choice(rng.choice(with_url).urls),
                lambda: f"www.nowhere{rng.randrange(10**9)}.example.net/x"),
    }
    for name, (kind, hit, miss) in cases.items():
        for label, make in ((f"{name} (hit)", hit), (f"{name} (miss)", miss)):
            runs = []
            for _ in range(lookups):
                value = make()
                runs.append(_timed(functools.partial(journal.find, kind, value)))
            _report(label, runs)
    for label, pattern in (("subject (hit)", "template 77 "), ("subject (miss)", "payroll*zz"),
                           ("subject (wildcard)", "template 1* about")):
        _report(label, [_timed(functools.partial(journal.find_subject, pattern))
                        for _ in range(5)])
    print(f"  journal entries: {journal.count():,}")
    journal.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="row-building processes")
    parser.add_argument("--path", type=Path, default=Path("mailward-bench/journal.db"),
                        help="database file (default: ./mailward-bench/journal.db)")
    parser.add_argument("--keep", action="store_true", help="reuse an existing database")
    args = parser.parse_args(argv)
    url = f"sqlite:///{args.path}"
    corpus = Corpus(args.entries)
    if not (args.keep and args.path.exists()):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.path}{suffix}").unlink(missing_ok=True)
        print(f"loading {args.entries:,} entries into {args.path}")
        elapsed = load(url, corpus, args.batch, args.workers)
        print(f"load: {elapsed:.1f} s ({args.entries / elapsed:,.0f} entries/s)")
    size = sum(Path(f"{args.path}{s}").stat().st_size
               for s in ("", "-wal") if Path(f"{args.path}{s}").exists())
    print(f"database on disk: {size / 2**20:,.1f} MiB")
    query(url, corpus)
    return 0


if __name__ == "__main__":
    sys.exit(main())
