"""Maildir delivery into a mailbox full of read mail (run by hand, not in tests).

    python bench/maildir_bench.py [--read 50000] [--messages 200] [--retry] [--json]

The recipient's ``cur/`` is filled with ``--read`` files first (mail its reader has seen), as
on a real mailbox; the gateway benches deliver into empty Maildirs, where a listing of ``cur/``
is free. Then ``--messages`` messages are spooled as the SMTP front end does (a new spool id,
the verdict saved in the spool state) and each is processed by the spool processor (checks,
Maildir delivery, the entry removed). Printed: this process's CPU ms per processed message
(user + system, every thread; the spooling before each is not counted). ``--retry`` spools
them under ids the caller gives, which the processor cannot know to be first attempts (as a
retry, or an entry taken up after a crash): the price of the look in ``cur/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mailward.config.settings import Settings
from mailward.delivery.maildir import maildir_for
from mailward.engine.pipeline import Engine
from mailward.model import Action, Envelope, Verdict
from mailward.spool.processor import Processor, verdict_to_state
from mailward.spool.queue import Spool, SpoolState
from mailward.store import open_store

SENDER = "sender@partner.example.net"
RCPT = "alice@example.com"
RAW = (b"From: Bob <sender@partner.example.net>\r\nTo: alice@example.com\r\n"
       b"Subject: Notes\r\nMessage-ID: <notes@partner.example.net>\r\n\r\n"
       + b"Hello Alice, see you tomorrow.\r\n" * 40)


def fill_cur(settings: Settings, count: int) -> None:
    """``count`` read messages in the recipient's cur/, named as a mail program leaves them."""
    box = maildir_for(settings.maildir_root, RCPT)
    for sub in ("tmp", "new", "cur"):
        (box / sub).mkdir(parents=True, exist_ok=True)
    for n in range(count):
        name = f"{1_700_000_000 + n}.M{n:06d}P4242.mail.example.com,S=2048:2,S"
        os.close(os.open(box / "cur" / name, os.O_WRONLY | os.O_CREAT, 0o600))


async def run(data_dir: Path, read: int, messages: int, retry: bool) -> dict[str, float]:
    settings = Settings.model_validate({
        "data_dir": str(data_dir), "dns": {"enabled": False},
        "organisation": {"accepted_domains": ["example.com"]}})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fill_cur(settings, read)
    store = open_store(settings.store_url)
    spool = Spool(settings.spool_dir)
    processor = Processor(settings, Engine(settings), spool, store)
    state = SpoolState(verdict=verdict_to_state(Verdict(Action.DELIVER, 0.0, "ok")))
    cpu = 0.0
    for n in range(messages):
        envelope = Envelope(SENDER, (RCPT,), "198.51.100.7", received_at=time.time())
        entry_id = spool.put(envelope, RAW, entry_id=f"retry{n:08d}" if retry else None)
        spool.save_state(entry_id, state)
        started = time.process_time()
        outcome = await processor.process(entry_id)
        cpu += time.process_time() - started
        if outcome is None or not outcome.finished:
            raise SystemExit(f"not delivered: {entry_id} {outcome}")
    store.close()
    delivered = len(os.listdir(maildir_for(settings.maildir_root, RCPT) / "new"))
    if delivered != messages:
        raise SystemExit(f"{delivered} copies in new/ for {messages} messages")
    return {"read_in_cur": read, "messages": messages, "retry": retry,
            "cpu_ms_per_delivery": round(cpu * 1000 / messages, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--read", type=int, default=50_000, help="files already in cur/")
    parser.add_argument("--messages", type=int, default=200, help="messages delivered")
    parser.add_argument("--retry", action="store_true",
                        help="spool under given ids: deliveries not known to be first attempts")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mw-maildir-bench-") as tmp:
        result = asyncio.run(run(Path(tmp), args.read, args.messages, args.retry))
    if args.json:
        print(json.dumps(result))
        return
    kind = "given ids (retries)" if args.retry else "new ids (first attempts)"
    print(f"{result['messages']} messages, {kind}, into a Maildir with {result['read_in_cur']}"
          f" read messages in cur/: {result['cpu_ms_per_delivery']} CPU ms per delivery")


if __name__ == "__main__":
    main()
