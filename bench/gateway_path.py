"""The gateway's own path for a message, the scan left out (run by hand, not in tests).

    python bench/gateway_path.py DIR [--limit 400] [--json]

Each message file under DIR (below 100 kB) is scanned first, in this process, before any
timing, together with what a scan process sends back (the campaign signature), so the scan's
cost is out of the figures. Then, one message after another, as one SMTP client would send them:
the SMTP handler's ``handle_DATA`` (spool write with its fsyncs, the verdict saved in the spool
state, the message-log row, the observation across messages: activity and campaigns), timed
from its call to its reply (the end of DATA to the 250), then the spool worker's processing of
the entry (observation awaited, checks, Maildir delivery, sender history, journal). Printed:
the p50/p99 wall ms from the end of DATA to the reply, and this process's CPU ms per message
(user + system, every thread: the handler and the worker together) -- the gateway's CPU per
message without the scan processes, free of the scan processes' and the load generator's noise
that ``bench/smtp_load.py`` has on a busy machine. Default settings, offline, on a throw-away
data directory (SQLite, Maildir, the spool fsynced before every 250).
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
from mailward.spool.processor import Processor
from mailward.spool.queue import Spool
from mailward.store import open_store

SENDER = "sender@partner.example.net"
RCPT = "alice@example.com"
PEER = "198.51.100.7"


class Scanned:
    """An engine that answers with the outcomes scanned before the clock started."""

    def __init__(self, outcomes: dict[bytes, ScanOutcome]) -> None:
        self.outcomes = outcomes

    async def scan(self, raw: bytes, envelope: Envelope | None = None) -> ScanOutcome:
        return self.outcomes[raw]


async def run(files: list[Path], data_dir: Path) -> dict[str, float]:
    settings = Settings.model_validate({
        "data_dir": str(data_dir), "dns": {"enabled": False},
        "organisation": {"accepted_domains": ["example.com"]}})
    store = open_store(settings.store_url)
    monitor = ActivityMonitor(settings, store)
    campaigns = Campaigns(settings, store, None, monitor)
    campaigns.ready()
    engine = Engine(settings)
    spool = Spool(settings.spool_dir)
    processor = Processor(settings, engine, spool, store, activity=monitor, campaigns=campaigns)
    envelope = Envelope(SENDER, (RCPT,), PEER)
    outcomes = {}
    for path in files:
        raw = path.read_bytes()
        outcomes[raw] = _with_signature(await engine.scan(raw, envelope), settings, envelope)
    handler = GatewayHandler(settings, spool, Scanned(outcomes),  # type: ignore[arg-type]
                             processor, activity=monitor)
    waits = []
    started = time.process_time()
    for raw in outcomes:
        session = types.SimpleNamespace(peer=(PEER, 40000), host_name="client.example.net",
                                        authenticated=False, auth_data=None, ssl=None)
        smtp_envelope = types.SimpleNamespace(mail_from=SENDER, rcpt_tos=[RCPT],
                                              original_content=raw)
        sent = time.perf_counter()
        reply = await handler.handle_DATA(None, session, smtp_envelope)
        waits.append((time.perf_counter() - sent) * 1000)
        if not reply.startswith("250 "):
            raise SystemExit(f"unexpected reply: {reply}")
        await processor.process(reply.rpartition(" ")[2])
    cpu = (time.process_time() - started) * 1000 / len(waits)
    await processor.later.made()
    campaigns.close()
    monitor.close()
    store.close()
    waits.sort()
    return {"messages": len(waits), "reply_p50_ms": round(statistics.median(waits), 2),
            "reply_p99_ms": round(waits[min(len(waits) - 1, int(len(waits) * 0.99))], 2),
            "cpu_ms_per_message": round(cpu, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a folder of .eml files (those under 100 kB)")
    parser.add_argument("--limit", type=int, default=400, help="messages at most")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    files = sorted(p for p in args.folder.rglob("*.eml") if p.stat().st_size < 100_000)
    files = files[:args.limit]
    if not files:
        raise SystemExit(f"no .eml files under 100 kB in {args.folder}")
    with tempfile.TemporaryDirectory(prefix="mw-gateway-path-") as tmp:
        result = asyncio.run(run(files, Path(tmp)))
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['messages']} messages, one after another: end of DATA to reply "
          f"p50 {result['reply_p50_ms']} ms, p99 {result['reply_p99_ms']} ms; gateway CPU "
          f"(reply and spool worker) {result['cpu_ms_per_message']} ms/msg")


if __name__ == "__main__":
    main()
