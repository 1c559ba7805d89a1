"""Regression: while the SMTP handler scans a message inline, its spool entry is locked, so the
spool workers' sweep does not scan (or deliver) it a second time in the meantime."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path
from typing import Any

from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.frontends.smtp.handler import GatewayHandler
from mailward.model import Envelope
from mailward.spool.queue import Spool, SpoolState

RAW = (
    b"From: Alice <alice@partner.example.net>\r\nTo: bob@example.com\r\nSubject: notes\r\n"
    b"Message-ID: <n1@partner.example.net>\r\n\r\nHi Bob, the notes of Tuesday.\r\n"
)


class LockProbeEngine:
    """Scans with the real engine, after looking whether a worker could take the entry."""

    def __init__(self, settings: Settings, spool: Spool) -> None:
        self.engine = Engine(settings)
        self.spool = spool
        self.free_during_scan: list[bool] = []

    async def scan(self, raw: bytes, envelope: Envelope | None = None) -> ScanOutcome:
        for entry_id in self.spool.ids():
            with self.spool.locked(entry_id) as mine:
                self.free_during_scan.append(mine)
        return await self.engine.scan(raw, envelope)


def data_call(handler: GatewayHandler) -> Any:
    session = types.SimpleNamespace(
        peer=("192.0.2.10", 40000), host_name="client.partner.example.net",
        authenticated=False, auth_data=None, ssl=None,
    )
    envelope = types.SimpleNamespace(
        mail_from="alice@partner.example.net", rcpt_tos=["bob@example.com"],
        original_content=RAW,
    )
    return handler.handle_DATA(None, session, envelope)


def test_entry_is_locked_during_the_inline_scan_and_free_after(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    spool = Spool(tmp_path / "spool")
    engine = LockProbeEngine(settings, spool)
    later = types.SimpleNamespace(mark=lambda: "t:1", start=lambda *args: None,
                                  drop=lambda _mark: None)
    processor = types.SimpleNamespace(lockdown=None, record=lambda *args, **kw: None,
                                      later=later)
    queued: list[str] = []
    handler = GatewayHandler(
        settings, spool, engine, processor, on_queued=queued.append  # type: ignore[arg-type]
    )
    reply = asyncio.run(data_call(handler))
    assert reply.startswith("250 ")
    assert engine.free_during_scan == [False]
    [entry_id] = queued
    with spool.locked(entry_id) as mine:
        assert mine  # the worker nudged by on_queued can take it now
    assert spool.state(entry_id).verdict is not None
    # kept in memory for the first attempt that follows (Spool.keep_state), not written
    assert not (spool.states / f"{entry_id}.json").exists()


class StuckEngine:
    """A scan that never ends; records that it was cancelled."""

    def __init__(self) -> None:
        self.cancelled = False

    async def scan(self, raw: bytes, envelope: Envelope | None = None) -> ScanOutcome:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


def test_a_scan_past_the_inline_limit_is_stopped_and_the_message_left_to_the_spool(
    tmp_path: Path,
) -> None:
    settings = Settings.model_validate(
        {"data_dir": str(tmp_path), "smtp": {"inline_scan_timeout": 0.2}})
    spool = Spool(tmp_path / "spool")
    engine = StuckEngine()
    processor = types.SimpleNamespace(lockdown=None)
    queued: list[str] = []
    handler = GatewayHandler(
        settings, spool, engine, processor, on_queued=queued.append  # type: ignore[arg-type]
    )
    reply = asyncio.run(data_call(handler))
    assert reply.startswith("250 ") and engine.cancelled
    [entry_id] = queued
    assert spool.state(entry_id).verdict is None  # the spool worker scans it
    with spool.locked(entry_id) as mine:
        assert mine


def test_an_entry_a_worker_took_up_before_the_lock_is_left_to_it(tmp_path: Path) -> None:
    """A worker (of this or another process) that took the entry between its spooling and the
    handler's lock and saved its progress (a recipient done, a delivery started) keeps it:
    the handler neither scans it nor writes its verdict over that state."""
    settings = Settings(data_dir=tmp_path)
    spool = Spool(tmp_path / "spool")
    worked = SpoolState(done={"bob@example.com": "relayed"}, attempts=1, started=True)
    real_put = spool.put

    def put_then_a_worker(*args: Any, **kw: Any) -> str:
        entry_id = real_put(*args, **kw)
        spool.save_state(entry_id, worked)
        return entry_id

    spool.put = put_then_a_worker  # type: ignore[method-assign]
    engine = LockProbeEngine(settings, spool)
    processor = types.SimpleNamespace(lockdown=None)
    queued: list[str] = []
    handler = GatewayHandler(
        settings, spool, engine, processor, on_queued=queued.append  # type: ignore[arg-type]
    )
    reply = asyncio.run(data_call(handler))
    assert reply.startswith("250 ")
    assert engine.free_during_scan == []  # not scanned inline
    [entry_id] = queued
    assert spool.state(entry_id) == worked
