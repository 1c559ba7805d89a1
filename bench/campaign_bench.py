"""Time to cluster a new message against the last 24 hours of mail (run by hand).

    python bench/campaign_bench.py [--window 100000] [--messages 2000] [--url URL]

``--window`` messages are put in the campaign store first, spread over the last 24 hours
(seeded generator: 98% ordinary mail, each its own text drawn from a 3,000-word vocabulary,
and 2% members of 40 campaigns whose senders, domains, names and numbers rotate); the
gateway's start then rebuilds the in-memory MinHashLSH index from the store (timed). Then
``--messages`` new messages (the same mix) go through :meth:`Campaigns.observe`, as the
processor calls it after each scan. Printed: the rebuild time, the time to cluster a new
message (CPU ms of signature + LSH and indicator lookups + matching: mean, p50, p99), the
whole observe() per message (CPU and wall ms: clustering plus the store write), SQL statements
and writes per message, and how many new messages joined a campaign. Parsing is not counted
(the scan has parsed the message already). Default store: a throw-away SQLite file (WAL, as
the gateway runs it); ``--url`` for PostgreSQL.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mailward.activity import _campaign_schema as t
from mailward.activity import campaign_text as ct
from mailward.activity.campaign_index import message_indicators, message_signature
from mailward.activity.campaigns import Campaigns
from mailward.config.settings import LimitSettings, Settings
from mailward.mime import parse_message
from mailward.model import Action, Envelope, ParsedMessage, Verdict
from mailward.store import open_store
from mailward.store._engine import open_tables

NOW = 1_800_000_000.0
CLEAN = Verdict(Action.DELIVER, 0.0, "clean")
TEMPLATES = 40


def _vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(3000)]


def _message(rng: random.Random, words: list[str], n: int) -> tuple[bytes, Envelope]:
    """One message: campaign member (2%) or ordinary mail, with its envelope."""
    at = NOW - rng.uniform(0, 86400)
    rcpt = f"{rng.choice(words)}.{rng.choice(words)}@example.com"
    if rng.random() < 0.02:
        k = rng.randrange(TEMPLATES)
        lure = random.Random(k)
        body = " ".join(lure.choice(words) for _ in range(60))
        name = rcpt.partition("@")[0].partition(".")[0]
        text = (f"Dear {name}, {body} ref {rng.randint(1000, 99999)} "
                f"https://x{n}.parcel{n}.org/{n} {lure.choice(words)}")
        sender = f"info@s{n}.example.net"
        subject = f"{lure.choice(words)} {rng.randint(1, 999)}"
    else:
        text = " ".join(rng.choice(words) for _ in range(rng.randint(30, 150)))
        sender = f"{rng.choice(words)}@{rng.choice(words)}.example.net"
        subject = " ".join(rng.choice(words) for _ in range(4))
    raw = (f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
           f"Message-ID: <m{n}@example.net>\r\n\r\n{text}\r\n").encode()
    env = Envelope(mail_from=sender, rcpt_tos=(rcpt,), peer_ip=f"203.0.{n % 250}.{n % 200}",
                   received_at=at)
    return raw, env


def _fill(settings: Settings, count: int, rng: random.Random, words: list[str]) -> float:
    """Put ``count`` window messages in the store (signatures as the gateway makes them)."""
    engine = open_tables(settings.store_url, t.CAMPAIGN_METADATA, "campaign")
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    try:
        for n in range(count):
            raw, env = _message(rng, words, n)
            parsed = parse_message(raw, LimitSettings())
            sig = message_signature(settings, env, parsed)
            ind = message_indicators(settings, env, parsed)
            rows.append({"spool_id": f"w{n}", "at": env.received_at,
                         "campaign_id": f"c-w{n}", "mail_from": env.mail_from,
                         "from_address": env.mail_from, "recipients": list(env.rcpt_tos),
                         "subject": parsed.subject, "action": "deliver", "score": 0.0,
                         "joined_by": "new", "cluster_ms": 0.0,
                         "indicators": {"strong": list(ind.strong), "infra": list(ind.infra)},
                         "signature": ct.to_bytes(sig)})
            if len(rows) == 5000 or n == count - 1:
                with engine.begin() as conn:
                    conn.execute(t.messages.insert(), rows)
                rows = []
    finally:
        engine.dispose()
    return time.perf_counter() - started


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    rng = random.Random(12)
    words = _vocabulary(rng)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'mailward.db'}"
        settings = Settings.model_validate({
            "data_dir": tmp, "store": {"url": url},
            "organisation": {"accepted_domains": ["example.com"]}})
        filled = _fill(settings, args.window, rng, words)
        print(f"window: {args.window} messages in the store ({filled:.1f} s to generate, "
              "parse, sign and insert)")
        store = open_store(url)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        found = Campaigns(settings, store, now=NOW)
        found.ready()
        rebuilt = time.perf_counter() - started
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
        print(f"start: index rebuilt from the store in {rebuilt:.1f} s ({len(found.index)} "
              f"messages; max RSS grew {grown:.0f} MiB)")
        counts = {"statements": 0, "writes": 0}

        def count(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
            counts["statements"] += 1
            if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
                counts["writes"] += 1

        event.listen(found._engine, "before_cursor_execute", count)
        news: list[tuple[bytes, Envelope, ParsedMessage]] = []
        for n in range(args.window, args.window + args.messages):
            raw, env = _message(rng, words, n)
            env = Envelope(mail_from=env.mail_from, rcpt_tos=env.rcpt_tos, peer_ip=env.peer_ip,
                           received_at=NOW + (n - args.window) * 0.01)
            news.append((raw, env, parse_message(raw, LimitSettings())))
        cluster_ms, cpu_ms, wall_ms, joined = [], [], [], 0
        for n, (_raw, env, parsed) in enumerate(news):
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            placed = found.observe(f"n{n}", env, parsed, CLEAN)
            cpu_ms.append((time.thread_time() - cpu0) * 1000)
            wall_ms.append((time.perf_counter() - wall0) * 1000)
            assert placed is not None
            cluster_ms.append(placed.seconds * 1000)
            joined += placed.joined_by != "new"
        found.close()
        store.close()
    m = args.messages
    print(f"time to cluster a new message against {args.window} messages of the last 24 h "
          f"(CPU): mean {statistics.fmean(cluster_ms):.2f} ms, p50 {_pct(cluster_ms, 0.5):.2f}"
          f" ms, p99 {_pct(cluster_ms, 0.99):.2f} ms")
    print(f"added per message by observe() (clustering + store write): CPU mean "
          f"{statistics.fmean(cpu_ms):.2f} ms (p99 {_pct(cpu_ms, 0.99):.2f}), wall mean "
          f"{statistics.fmean(wall_ms):.2f} ms (p99 {_pct(wall_ms, 0.99):.2f})")
    print(f"SQL statements per message: {counts['statements'] / m:.1f}, of them writes: "
          f"{counts['writes'] / m:.1f} (one transaction)")
    print(f"{joined} of {m} new messages joined an earlier message (2% are campaign members)")


if __name__ == "__main__":
    main()
