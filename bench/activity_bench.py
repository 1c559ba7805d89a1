"""Cost per message of the activity checks, with many accounts in the store (run by hand).

    python bench/activity_bench.py [--accounts 100000] [--messages 2000] [--url URL]

The baselines of ``--accounts`` accounts are filled in bulk first (each with 14 days of hourly
counters on 5 working hours a day, 20 correspondents and 2 networks: about 7 million rows at
100,000 accounts), then ``--messages`` messages from randomly chosen accounts (1 to 3
colleagues each, in working hours) go through :meth:`ActivityMonitor.observe_message` and the
hold check the processor makes (:meth:`ActivityMonitor.holding`), as the gateway does for each
message from inside. Printed: CPU ms and wall ms per message (mean, p50, p99) and the SQL
statements and writes (INSERT/UPDATE/DELETE) per message. Default store: a throw-away SQLite
file (WAL, synchronous=FULL, as the gateway runs it); ``--url`` for PostgreSQL.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mailward.activity import ActivityMonitor
from mailward.activity import _schema as t
from mailward.config.settings import Settings
from mailward.model import Action, Envelope, Verdict
from mailward.store import open_store

NOW = 1_800_000_000.0
HOUR = 3600


def _fill(monitor: ActivityMonitor, accounts: int, rng: random.Random) -> None:
    first_hour = int(NOW // HOUR) - 14 * 24
    with monitor.base.tx("fill", write=True) as conn:
        for start in range(0, accounts, 5000):
            batch = range(start, min(accounts, start + 5000))
            conn.execute(t.accounts.insert(), [
                {"account": f"user{i}@example.com", "first_seen": NOW - 30 * 86400,
                 "last_seen": NOW - 3600, "messages": 200} for i in batch])
            conn.execute(t.hourly.insert(), [
                {"account": f"user{i}@example.com", "hour": first_hour + d * 24 + h,
                 "messages": rng.randint(1, 4), "recipients": rng.randint(1, 8),
                 "external_recipients": 0, "new_recipients": 0, "new_domains": 0,
                 "flagged": 0, "auth_ok": 1, "auth_failed": 0}
                for i in batch for d in range(14) for h in (9, 10, 11, 14, 15)])
            conn.execute(t.correspondents.insert(), [
                {"account": f"user{i}@example.com", "recipient": f"user{(i + k) % accounts}"
                 "@example.com", "first_seen": NOW - 20 * 86400}
                for i in batch for k in range(1, 21)])
            conn.execute(t.networks.insert(), [
                {"account": f"user{i}@example.com", "network": net, "first_seen": NOW - 9e5,
                 "last_seen": NOW - 3600, "count": 50}
                for i in batch for net in (f"10.{i % 250}.0.0/24", "192.168.1.0/24")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    rng = random.Random(5)
    tmp = tempfile.TemporaryDirectory()
    url = args.url or f"sqlite:///{tmp.name}/bench.db"
    settings = Settings.model_validate({"data_dir": tmp.name, "store": {"url": url}})
    store = open_store(url)
    monitor = ActivityMonitor(settings, store)
    began = time.perf_counter()
    _fill(monitor, args.accounts, rng)
    print(f"filled {args.accounts} accounts in {time.perf_counter() - began:.1f} s")
    counts = {"statements": 0, "writes": 0}

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        counts["statements"] += 1
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            counts["writes"] += 1

    event.listen(monitor.base.engine, "before_cursor_execute", count)
    verdict = Verdict(Action.DELIVER, 0.5, "below tag_at")
    cpu, wall = [], []
    for n in range(args.messages):
        i = rng.randrange(args.accounts)
        rcpts = tuple(f"user{(i + rng.randint(1, 30)) % args.accounts}@example.com"
                      for _ in range(rng.randint(1, 3)))
        env = Envelope(f"user{i}@example.com", rcpts, f"10.{i % 250}.0.7",
                       received_at=NOW + n * 0.5, authenticated_as=f"user{i}@example.com")
        c0, w0 = time.thread_time(), time.perf_counter()
        monitor.observe_message(f"bench-{n}", env, verdict)
        monitor.holding(env)
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    for name, values in (("CPU", cpu), ("wall", wall)):
        ordered = sorted(values)
        print(f"{name} ms per message: mean {statistics.fmean(values):.2f}, "
              f"p50 {ordered[len(ordered) // 2]:.2f}, p99 {ordered[int(len(ordered) * 0.99)]:.2f}")
    print(f"SQL statements per message: {counts['statements'] / args.messages:.1f}, "
          f"of them writes: {counts['writes'] / args.messages:.1f} (one transaction)")
    monitor.close()
    store.close()
    tmp.cleanup()


if __name__ == "__main__":
    main()
