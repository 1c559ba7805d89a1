"""Activity checks and campaign clustering with a big store: 1,000,000 journaled messages and
100,000 accounts (run by hand).

    python bench/scale_bench.py [--journal 1000000] [--accounts 100000] [--window 100000]
                                [--messages 1000] [--url URL]

Filled in bulk first (timed per table; seeded synthetic data):

- the delivery journal: ``--journal`` messages over the last ten days (one row each in
  ``journal``, a copy each in ``journal_copies`` and 7 indicators each in
  ``journal_indicators``: sender, sender domain, subject fingerprint, Message-ID, URL, host,
  domain; the SQLite subject FTS5 index / PostgreSQL trigram index kept up to date);
- the baselines of ``--accounts`` accounts (as in bench/activity_bench.py: 14 days of hourly
  counters, 20 correspondents, 2 networks each; about 7 million rows at 100,000), and the raw
  events of the last 48 hours (the journal's rate: a tenth of it per day);
- the campaign window: ``--window`` messages of the last 24 hours (the journal's rate), signed
  as the gateway signs them (bench/campaign_bench.py's generator).

The fastest bulk path of each backend: on SQLite one transaction per 50,000 rows through the
driver's ``executemany`` with a 512 MiB page cache, the indicator rows in key order (the key
is the table: appending beats inserting all over a 7-million-row B-tree); on PostgreSQL
``COPY ... FROM STDIN`` (psycopg).

Then ``--messages`` new messages go through what the gateway does for a message from inside
after its scan: :meth:`ActivityMonitor.observe_message` and the hold check (behaviour checks),
:meth:`Campaigns.observe` (clustering against the last 24 hours) and :meth:`Journal.record`.
Printed per message: CPU ms of the behaviour checks, of the campaign step and of the clustering
alone (mean, p50, p99), wall ms, SQL statements and writes (INSERT/UPDATE/DELETE) per store
part, and the time to cluster a new message against the last 24 hours.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))
sys.path.insert(0, str(BENCH))

import campaign_bench  # noqa: E402

from mailward.activity import ActivityMonitor  # noqa: E402
from mailward.activity import _schema as at  # noqa: E402
from mailward.activity.campaigns import Campaigns  # noqa: E402
from mailward.config.settings import LimitSettings, Settings  # noqa: E402
from mailward.mime import parse_message  # noqa: E402
from mailward.model import Action, Envelope, Verdict  # noqa: E402
from mailward.response.indicators import entry_from_message  # noqa: E402
from mailward.response.journal import Journal  # noqa: E402
from mailward.store import open_store  # noqa: E402

NOW = campaign_bench.NOW
DAY = 86400.0
BATCH = 50_000
CLEAN = Verdict(Action.DELIVER, 0.5, "below tag_at")


# -- bulk loading ------------------------------------------------------------------------------

def _copy(engine: Engine, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
    """PostgreSQL: ``COPY table (columns) FROM STDIN`` (text format) of ``rows``."""
    raw = engine.raw_connection()
    count = 0
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        raw.commit()
    finally:
        raw.close()
    return count


def _executemany(engine: Engine, table: str, columns: list[str],
                 rows: Iterator[tuple[Any, ...]]) -> int:
    """SQLite: the driver's executemany, one transaction per BATCH rows."""
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 -- our own table names
           f"VALUES ({', '.join('?' for _ in columns)})")
    raw = engine.raw_connection()
    count = 0
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA cache_size=-524288")  # 512 MiB for the load (default: 2 MiB)
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                cur.execute("BEGIN")
                cur.executemany(sql, batch)
                cur.execute("COMMIT")
                count += len(batch)
                batch = []
        if batch:
            cur.execute("BEGIN")
            cur.executemany(sql, batch)
            cur.execute("COMMIT")
            count += len(batch)
    finally:
        raw.close()
    return count


def _loader(engine: Engine) -> Callable[[Engine, str, list[str], Iterator[tuple[Any, ...]]], int]:
    return _copy if engine.dialect.name == "postgresql" else _executemany


def _timed(what: str, load: Callable[[], int]) -> None:
    started = time.perf_counter()
    count = load()
    took = time.perf_counter() - started
    print(f"  {what}: {count:,} rows in {took:.1f} s ({count / max(took, 1e-9):,.0f} rows/s)",
          flush=True)


def fill_journal(engine: Engine, count: int) -> None:
    load = _loader(engine)
    rng = random.Random(3)
    pg = engine.dialect.name == "postgresql"

    def js(value: Any) -> str:
        return json.dumps(value)

    def entries() -> Iterator[tuple[Any, ...]]:
        for i in range(1, count + 1):
            at = NOW - DAY * 10 * (count - i) / count
            dom = f"sender{i % 5000}.example.net"
            yield (i, f"j{i}", at, f"news@{dom}", f"203.0.{i % 250}.{i % 200}",
                   f"news@{dom}", dom, f"Offer {i % 997} for you {rng.randrange(10**6)}",
                   f"{i % 65536:016x}", f"<j{i}@{dom}>", "deliver", 0.5,
                   js([f"user{i % 100_000}@example.com"]),
                   js({"urls": [f"https://{dom}/p/{i}"], "hosts": [dom], "domains": [dom],
                       "attachments": []}))

    def copies() -> Iterator[tuple[Any, ...]]:
        for i in range(1, count + 1):
            yield (i, f"user{i % 100_000}@example.com",
                   f"maildir:/var/mail/example.com/user{i % 100_000}/new/j{i}")

    def indicators() -> Iterator[tuple[Any, ...]]:
        """In key order, one kind at a time: the key is the table (WITHOUT ROWID on SQLite),
        and appending to a B-tree is many times faster than inserting all over it."""
        def at(i: int) -> float:
            return NOW - DAY * 10 * (count - i) / count

        def dom(i: int) -> str:
            return f"sender{i % 5000}.example.net"

        kinds: dict[str, Callable[[int], str]] = {
            "domain": dom, "host": dom,
            "message_id": lambda i: f"<j{i}@{dom(i)}>",
            "sender": lambda i: f"news@{dom(i)}", "sender_domain": dom,
            "subject_fp": lambda i: f"{i % 65536:016x}",
            "url": lambda i: f"https://{dom(i)}/p/{i}",
        }
        for kind, value in sorted(kinds.items()):
            rows = sorted((value(i), at(i), i) for i in range(1, count + 1))
            for v, when, i in rows:
                yield (kind, v, when, i)

    cols = ["id", "spool_id", "received_at", "mail_from", "peer_ip", "from_address",
            "from_domain", "subject", "subject_fp", "message_id", "action", "score",
            "recipients", "details"]
    _timed("journal", lambda: load(engine, "journal", cols, entries()))
    _timed("journal_copies", lambda: load(engine, "journal_copies",
                                          ["journal_id", "recipient", "location"], copies()))
    _timed("journal_indicators", lambda: load(
        engine, "journal_indicators", ["kind", "value", "received_at", "journal_id"],
        indicators()))
    if pg:
        with engine.begin() as conn:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('journal', 'id'), "
                              f"{count})"))


def fill_accounts(engine: Engine, accounts: int, events: int) -> None:
    load = _loader(engine)
    rng = random.Random(5)
    first_hour = int(NOW // 3600) - 14 * 24
    pg = engine.dialect.name == "postgresql"

    def acct() -> Iterator[tuple[Any, ...]]:
        for i in range(accounts):
            yield (f"user{i}@example.com", NOW - 30 * DAY, NOW - 3600, 200)

    def hourly() -> Iterator[tuple[Any, ...]]:
        for i in range(accounts):
            for d in range(14):
                for h in (9, 10, 11, 14, 15):
                    yield (f"user{i}@example.com", first_hour + d * 24 + h, rng.randint(1, 4),
                           rng.randint(1, 8), 0, 0, 0, 0, 1, 0)

    def correspondents() -> Iterator[tuple[Any, ...]]:
        for i in range(accounts):
            for k in range(1, 21):
                yield (f"user{i}@example.com", f"user{(i + k) % accounts}@example.com",
                       NOW - 20 * DAY)

    def networks() -> Iterator[tuple[Any, ...]]:
        for i in range(accounts):
            for net in (f"10.{i % 250}.0.0/24", "192.168.1.0/24"):
                yield (f"user{i}@example.com", net, NOW - 9e5, NOW - 3600, 50)

    def raw_events() -> Iterator[tuple[Any, ...]]:
        for n in range(events):
            i = rng.randrange(accounts)
            yield (f"e{n}", f"user{i}@example.com", "message", NOW - 2 * DAY * (events - n)
                   / events, f"10.{i % 250}.0.0/24", 2, 0, 0, "{}")

    _timed("activity_accounts", lambda: load(engine, "activity_accounts",
                                             ["account", "first_seen", "last_seen", "messages"],
                                             acct()))
    _timed("activity_hourly", lambda: load(engine, "activity_hourly", ["account", "hour",
                                           *at.COUNTERS], hourly()))
    _timed("activity_correspondents", lambda: load(
        engine, "activity_correspondents", ["account", "recipient", "first_seen"],
        correspondents()))
    _timed("activity_networks", lambda: load(
        engine, "activity_networks", ["account", "network", "first_seen", "last_seen", "count"],
        networks()))
    _timed("activity_events (48 h)", lambda: load(
        engine, "activity_events", ["ref", "account", "kind", "at", "network", "recipients",
                                    "new_recipients", "flagged", "detail"], raw_events()))
    if pg:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


# -- measuring ---------------------------------------------------------------------------------

class Counts:
    """SQL statements and writes on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.statements = 0
        self.writes = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, _c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        self.statements += 1
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            self.writes += 1


def _stats(values: list[float]) -> str:
    ordered = sorted(values)
    return (f"mean {statistics.fmean(values):.2f}, p50 {ordered[len(ordered) // 2]:.2f}, "
            f"p99 {ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]:.2f}")


def _new_message(rng: random.Random, words: list[str], n: int, accounts: int,
                 window: int) -> tuple[bytes, Envelope]:
    raw, _env = campaign_bench._message(rng, words, window + n)
    i = rng.randrange(accounts)
    account = f"user{i}@example.com"
    rcpts = tuple(f"user{(i + rng.randint(1, 30)) % accounts}@example.com"
                  for _ in range(rng.randint(1, 3)))
    return raw, Envelope(mail_from=account, rcpt_tos=rcpts, peer_ip=f"10.{i % 250}.0.7",
                         received_at=NOW + n * 0.5, authenticated_as=account)


def measure(settings: Settings, args: argparse.Namespace, words: list[str]) -> None:
    store = open_store(settings.store_url)
    journal = Journal(settings.store_url)
    monitor = ActivityMonitor(settings, store)
    found = Campaigns(settings, store, journal, monitor, now=NOW)
    started = time.perf_counter()
    found.ready()
    print(f"campaign index rebuilt from the store in {time.perf_counter() - started:.1f} s "
          f"({len(found.index):,} messages of the last 24 h)", flush=True)
    counted = {"activity": Counts(monitor.base.engine), "campaigns": Counts(found._engine),
               "journal": Counts(journal._engine)}
    rng = random.Random(99)
    news = []
    for n in range(args.messages):
        raw, env = _new_message(rng, words, n, args.accounts, args.window)
        news.append((raw, env, parse_message(raw, LimitSettings())))
    act_cpu, camp_cpu, cluster, wall, journal_wall = [], [], [], [], []
    for n, (raw, env, parsed) in enumerate(news):
        w0, c0 = time.perf_counter(), time.thread_time()
        monitor.observe_message(f"new-{n}", env, CLEAN, parsed.message_id)
        monitor.holding(env)
        c1 = time.thread_time()
        placed = found.observe(f"new-{n}", env, parsed, CLEAN)
        c2 = time.thread_time()
        wall.append((time.perf_counter() - w0) * 1000)
        assert placed is not None
        act_cpu.append((c1 - c0) * 1000)
        camp_cpu.append((c2 - c1) * 1000)
        cluster.append(placed.seconds * 1000)
        j0 = time.perf_counter()
        journal.record(entry_from_message(f"new-{n}", raw, env, CLEAN,
                                          [(r, f"maildir:/tmp/{n}") for r in env.rcpt_tos]))
        journal_wall.append((time.perf_counter() - j0) * 1000)
    m = args.messages
    print(f"behaviour checks (observe_message + hold check), CPU ms per message: "
          f"{_stats(act_cpu)}")
    print(f"campaign step (observe: clustering + store write), CPU ms per message: "
          f"{_stats(camp_cpu)}")
    both = [a + b for a, b in zip(act_cpu, camp_cpu, strict=True)]
    print(f"both, CPU ms per message: {_stats(both)}; "
          f"wall ms: {_stats(wall)}")
    print(f"time to cluster a new message against the last 24 h ({len(found.index):,} "
          f"messages), CPU ms: {_stats(cluster)}")
    print(f"journal record (for comparison), wall ms per message: {_stats(journal_wall)}")
    for part, c in counted.items():
        print(f"store, {part}: {c.statements / m:.1f} SQL statements per message, "
              f"{c.writes / m:.1f} writes")
    found.close()
    monitor.close()
    journal.close()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journal", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=0,
                        help="campaign window messages (default: a tenth of --journal)")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    args.window = args.window or args.journal // 10
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'mailward.db'}"
        settings = Settings.model_validate({
            "data_dir": tmp, "store": {"url": url},
            "organisation": {"accepted_domains": ["example.com"]}})
        began = time.perf_counter()
        journal = Journal(url)  # tables and the subject index
        store = open_store(url)
        monitor = ActivityMonitor(settings, store)
        print(f"filling {url.split('://')[0]}:", flush=True)
        fill_journal(journal._engine, args.journal)
        fill_accounts(monitor.base.engine, args.accounts, args.window * 2)
        monitor.close()
        store.close()
        journal.close()
        words = campaign_bench._vocabulary(random.Random(12))
        took = campaign_bench._fill(settings, args.window, random.Random(13), words)
        print(f"  campaign_messages (24 h): {args.window:,} rows in {took:.1f} s (generated, "
              "parsed, signed, inserted)")
        print(f"filled in {time.perf_counter() - began:.0f} s", flush=True)
        measure(settings, args, words)


if __name__ == "__main__":
    main()
