"""The spool workers' delivery of accepted messages, alone (run by hand, not in tests).

    python bench/delivery_path.py DIR [--limit 400] [--workers 4] [--rounds 1] [--json]

The messages under DIR (``.eml`` files below 100 kB) are scanned and accepted first, before any
timing, as the SMTP handler does it (spool write, verdict saved in the spool state, message-log
row, observation): so the scan, the 250 and everything before it are out of the figures. Then
``--workers`` spool workers (as ``mailward serve`` runs them: ``engine.workers``, 4 by default)
process the entries at once: load, checks, Maildir delivery (fsynced), sender history, the
journal entry (group transactions among the workers) and the entry's removal from the spool.
Printed: this process's CPU ms per delivered message (user + system, every thread) and the
wall time. Default settings, offline, on a throw-away data directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mailward.activity import ActivityMonitor
from mailward.activity.campaigns import Campaigns
from mailward.config.settings import Settings
from mailward.engine.isolation._child import _with_signature
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.frontends.smtp.handler import GatewayHandler
from mailward.model import Envelope
from mailward.response.journal import Journal
from mailward.runtime.clients import build_clients
from mailward.spool.processor import Processor
from mailward.spool.queue import Spool
from mailward.store import open_store

SENDER = "sender@partner.example.net"
RCPT = "alice@example.com"
PEER = "198.51.100.7"


class Scanned:
    """An engine that answers with the outcomes scanned before the clock started."""

    def __init__(self, outcomes: dict[bytes, ScanOutcome], clients: dict[str, object]) -> None:
        self.outcomes = outcomes
        self.clients = clients

    async def scan(self, raw: bytes, envelope: Envelope | None = None) -> ScanOutcome:
        return self.outcomes[raw]


async def run(files: list[Path], data_dir: Path, workers: int) -> dict[str, float]:
    settings = Settings.model_validate({
        "data_dir": str(data_dir), "dns": {"enabled": False},
        "organisation": {"accepted_domains": ["example.com"]}})
    store = open_store(settings.store_url)
    monitor = ActivityMonitor(settings, store)
    campaigns = Campaigns(settings, store, None, monitor)
    campaigns.ready()
    clients = build_clients(settings, offline=True)
    engine = Engine(settings, clients=clients)
    journal = Journal(settings.store_url)
    spool = Spool(settings.spool_dir)
    scanned = Scanned({}, engine.clients)
    processor = Processor(settings, scanned, spool, store,  # type: ignore[arg-type]
                          journal=journal, activity=monitor, campaigns=campaigns)
    envelope = Envelope(SENDER, (RCPT,), PEER)
    for path in files:
        raw = path.read_bytes()
        scanned.outcomes[raw] = _with_signature(await engine.scan(raw, envelope), settings,
                                                envelope)
    handler = GatewayHandler(settings, spool, scanned, processor,  # type: ignore[arg-type]
                             activity=monitor)
    ids = []
    for raw in scanned.outcomes:
        session = types.SimpleNamespace(peer=(PEER, 40000), host_name="client.example.net",
                                        authenticated=False, auth_data=None, ssl=None)
        smtp_envelope = types.SimpleNamespace(mail_from=SENDER, rcpt_tos=[RCPT],
                                              original_content=raw)
        reply = await handler.handle_DATA(None, session, smtp_envelope)
        if not reply.startswith("250 "):
            raise SystemExit(f"unexpected reply: {reply}")
        ids.append(reply.rpartition(" ")[2])
    await processor.later.made()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for entry_id in ids:
        queue.put_nowait(entry_id)
    delivered = 0

    async def work() -> None:
        nonlocal delivered
        while not queue.empty():
            outcome = await processor.process(queue.get_nowait())
            if outcome is not None and outcome.finished:
                delivered += 1

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(work() for _ in range(workers)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    journaled = journal.count()
    journal.close()
    campaigns.close()
    monitor.close()
    store.close()
    return {"messages": len(ids), "delivered": delivered, "journaled": journaled,
            "cpu_ms_per_message": round(cpu * 1000 / len(ids), 3),
            "wall_s": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a folder of .eml files (those under 100 kB)")
    parser.add_argument("--limit", type=int, default=400, help="messages at most")
    parser.add_argument("--workers", type=int, default=4, help="spool workers at once")
    parser.add_argument("--rounds", type=int, default=1, help="runs (fresh data dir each)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per round")
    args = parser.parse_args()
    files = sorted(p for p in args.folder.rglob("*.eml") if p.stat().st_size < 100_000)
    files = files[:args.limit]
    if not files:
        raise SystemExit(f"no .eml files under 100 kB in {args.folder}")
    results = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="mw-delivery-path-") as tmp:
            result = asyncio.run(run(files, Path(tmp), args.workers))
        results.append(result)
        if args.json:
            print(json.dumps(result))
        else:
            print(f"{result['delivered']} of {result['messages']} delivered "
                  f"({result['journaled']} journaled) by {args.workers} workers in "
                  f"{result['wall_s']} s: {result['cpu_ms_per_message']} CPU ms/msg")
    if len(results) > 1 and not args.json:
        cpus = [r["cpu_ms_per_message"] for r in results]
        print(f"median {statistics.median(cpus):.3f} CPU ms/msg")


if __name__ == "__main__":
    main()
