"""SpoolWorkers: the periodic sweep hands over due entries, and does not read the state of
entries its workers already hold (under load that queue is long)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from mailward.model import Envelope
from mailward.runtime.workers import SpoolWorkers
from mailward.spool.queue import Spool

ENVELOPE = Envelope(mail_from="bob@partner.example.net", rcpt_tos=("alice@example.com",))
RAW = b"Subject: hi\r\n\r\nbody\r\n"


def test_sweep_nudges_due_entries_and_skips_the_queued_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "spool")
    queued = spool.put(ENVELOPE, RAW, entry_id="a0000000000000")
    loose = spool.put(ENVELOPE, RAW, entry_id="b0000000000000")
    read: list[str] = []
    state = spool.state
    monkeypatch.setattr(spool, "state", lambda entry_id: read.append(entry_id) or state(entry_id))
    processor: Any = object()  # no worker runs (count 0): nothing is processed

    async def sweep_once() -> list[str]:
        workers = SpoolWorkers(processor, spool, count=0, poll_interval=0.01)
        workers.nudge(queued)
        await workers.start()
        try:
            async with asyncio.timeout(30):
                while loose not in workers.queued:
                    await asyncio.sleep(0.01)
        finally:
            await workers.stop()
        return [workers.queue.get_nowait() for _ in range(workers.queue.qsize())]

    handed = asyncio.run(sweep_once())
    assert handed == [queued, loose]  # each once, the queued one not twice
    assert loose in read
    assert queued not in read
