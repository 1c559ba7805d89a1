"""The console's quarantine list over 100,000 held messages: time per page request.

Synthetic rows are inserted directly into a fresh SQLite store (quarantine + recipients, a few
statuses, senders, symbols and scores), then the list page is requested through the whole app
(session check, keyset query, recipients, template) with Starlette's TestClient: the first
page, pages deep into the list (following the "older" cursor), and filtered pages. Prints the
median, 95th percentile and worst time per kind; the target is under 300 ms per request.

    PYTHONPATH=src python3 bench/console_bench.py [--entries 100000] [--requests 30]
    PYTHONPATH=src python3 bench/console_bench.py --url postgresql+psycopg://user@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine
from starlette.testclient import TestClient

from mailward.config.settings import Settings
from mailward.store import open_store
from mailward.store._schema import quarantine, quarantine_recipients
from mailward.web import build_app
from mailward.web._accounts import Accounts

SYMBOLS = ["URL_TEXT_MISMATCH", "IMP_DISPLAY_NAME", "ATT_EXECUTABLE", "AUTH_DMARC_FAIL",
           "LURE_CREDENTIALS", "FORM_PASSWORD", "DOC_MACRO", "FEED_URL_LISTED"]
PASSWORD = "bench password 1"  # noqa: S105 (a throw-away account)


def fill(url: str, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    engine = create_engine(url)
    t0 = 1_765_000_000.0
    batch_q: list[dict[str, object]] = []
    batch_r: list[dict[str, object]] = []

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(quarantine.insert(), batch_q)
            conn.execute(quarantine_recipients.insert(), batch_r)
        batch_q.clear()
        batch_r.clear()

    for i in range(n):
        sym = rng.choice(SYMBOLS)
        score = round(rng.uniform(10, 40), 1)
        rcpts = [f"user{rng.randrange(2000)}@example.com" for _ in range(rng.choice((1, 1, 2, 3)))]
        rcpts = list(dict.fromkeys(rcpts))
        entry_id = f"{i:08x}{rng.getrandbits(48):012x}"
        batch_q.append({
            "id": entry_id, "received_at": t0 + i * 3.0 + rng.random(),
            "mail_from": f"sender{rng.randrange(5000)}@domain{rng.randrange(800)}.example",
            "rcpt_tos": rcpts, "message_id": f"<{entry_id}@bench>",
            "subject": f"Invoice {i} overdue — action required", "score": score,
            "action": "quarantine", "reason": f"score {score} >= 10",
            "findings": [{"symbol": sym, "explanation": "synthetic", "evidence": ["x"],
                          "factor": 1.0, "score": score, "detector": "bench"}],
            "size": 4096, "quarantined_at": t0 + i * 3.0, "raw": b"",
        })
        status = rng.choices(("held", "released", "deleted"), (90, 6, 4))[0]
        batch_r += [{"quarantine_id": entry_id, "recipient": r, "position": k,
                     "status": status, "changed_at": t0} for k, r in enumerate(rcpts)]
        if len(batch_q) >= 5000:
            flush()
    if batch_q:
        flush()
    engine.dispose()


def timed(client: TestClient, url: str) -> tuple[float, str]:
    start = time.perf_counter()
    r = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    return elapsed, r.text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=30, help="requests per kind")
    ap.add_argument("--url", default="", help="a SQLAlchemy URL (default: a fresh SQLite file)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="console-bench-"))
    settings = Settings.model_validate({
        "data_dir": str(tmp), "store": {"url": args.url}, "console": {"listen_port": 8025},
    })
    open_store(settings.store_url).close()  # the tables
    began = time.perf_counter()
    fill(settings.store_url, args.entries)
    fill_s = time.perf_counter() - began
    accounts = Accounts(settings.store_url)
    accounts.add_user("bench", PASSWORD, "viewer")
    accounts.close()
    app = build_app(settings)
    results: dict[str, list[float]] = {}
    with TestClient(app, follow_redirects=False) as client:
        assert client.post("/api/login", json={"username": "bench", "password": PASSWORD}
                           ).status_code == 200
        timed(client, "/quarantine")  # the paging index is created on first use
        kinds = {
            "first page": lambda i: "/quarantine",
            "first page, all statuses": lambda i: "/quarantine?status=all",
            "filter: sender": lambda i: f"/quarantine?sender=sender{i}@",
            "filter: recipient address": lambda i: f"/quarantine?recipient=user{i}@example.com",
            "filter: recipient part": lambda i: f"/quarantine?recipient=user{i}@",
            "filter: symbol": lambda i: f"/quarantine?symbol={SYMBOLS[i % len(SYMBOLS)]}",
            "filter: score >= 35": lambda i: "/quarantine?min_score=35",
        }
        for name, make in kinds.items():
            results[name] = [timed(client, make(i))[0] for i in range(args.requests)]
        # walk deep: follow the "older" link page after page
        deep: list[float] = []
        url = "/api/quarantine"
        for _ in range(args.requests * 5):
            start = time.perf_counter()
            body = client.get(url).json()
            deep.append((time.perf_counter() - start) * 1000)
            url = f"/quarantine?after={body['next']}"
            elapsed, _ = timed(client, url)
            deep.append(elapsed)
            url = f"/api/quarantine?after={body['next']}"
        results["next pages (cursor)"] = deep
    app.state.close()
    summary = {
        name: {"median_ms": round(statistics.median(v), 1),
               "p95_ms": round(sorted(v)[int(len(v) * 0.95) - 1], 1),
               "max_ms": round(max(v), 1), "requests": len(v)}
        for name, v in results.items()
    }
    if args.json:
        print(json.dumps({"entries": args.entries, "fill_s": round(fill_s, 1),
                          "pages": summary}))
        return 0
    print(f"{args.entries} quarantined entries ({settings.store_url.split(':')[0]}), "
          f"inserted in {fill_s:.1f} s; page size {settings.console.page_size}")
    print(f"{'request':28} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for name, row in summary.items():
        print(f"{name:28} {row['median_ms']:>10} {row['p95_ms']:>8} {row['max_ms']:>8}")
    worst = max(row["p95_ms"] for row in summary.values())
    print(f"worst p95 {worst} ms: {'under' if worst < 300 else 'OVER'} the 300 ms target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
