"""Assemble and run the gateway: store, spool, engine, processor, workers and the SMTP server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass

from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine
from mailward.frontends.smtp.handler import GatewayHandler
from mailward.frontends.smtp.server import start_smtp_server
from mailward.response.journal import Journal
from mailward.response.lockdown import LockdownState
from mailward.response.zero_hour import FeedWatcher, zero_hour_purge
from mailward.runtime.clients import build_clients
from mailward.runtime.workers import SpoolWorkers
from mailward.spool.processor import Processor
from mailward.spool.queue import Spool
from mailward.store import Store, open_store

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    """Every long-lived part of a running gateway."""

    settings: Settings
    store: Store
    spool: Spool
    engine: Engine
    processor: Processor
    lockdown: LockdownState
    journal: Journal | None

    @classmethod
    def build(cls, settings: Settings, *, history: bool = True, offline: bool = False) -> Gateway:
        """Every part, on the settings' store and spool (the CLI builds one too)."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(settings.store_url)
        spool = Spool(settings.spool_dir)
        lockdown = LockdownState(settings.store_url)
        clients = build_clients(settings, history=history, offline=offline)
        engine = Engine(settings, clients=clients, lockdown=lockdown.level)
        journal = Journal(settings.store_url) if settings.journal.enabled else None
        processor = Processor(
            settings, engine, spool, store, lockdown=lockdown.level, journal=journal
        )
        return cls(settings, store, spool, engine, processor, lockdown, journal)

    def purge_journal(self, now: float) -> None:
        """Drop raw bytes and entries past their retention (run now and then)."""
        if self.journal is None:
            return
        days = self.settings.journal
        self.journal.purge(now - days.raw_retention_days * 86400)
        self.journal.purge_entries(now - days.entry_retention_days * 86400)

    def close(self) -> None:
        for client in self.engine.clients.values():
            close = getattr(client, "close", None)
            if callable(close):
                close()
        self.lockdown.close()
        if self.journal is not None:
            self.journal.close()
        self.store.close()


async def serve(settings: Settings, ready: asyncio.Event | None = None) -> None:
    """Run until SIGTERM or SIGINT; in-flight work stays in the spool for the next start."""
    gw = Gateway.build(settings)
    workers = SpoolWorkers(gw.processor, gw.spool, settings.engine.workers)
    handler = GatewayHandler(settings, gw.spool, gw.engine, gw.processor, workers.nudge)
    server = await start_smtp_server(handler, settings.smtp)
    await workers.start()
    housekeeping = asyncio.create_task(_housekeeping(gw), name="housekeeping")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    addr = ", ".join(str(s.getsockname()) for s in server.sockets)
    log.info("mailward listening on %s; data in %s", addr, settings.data_dir)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        housekeeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await housekeeping
        await workers.stop()
        gw.close()
        log.info("mailward stopped")


async def _housekeeping(gw: Gateway, retention_every: float = 3600.0) -> None:
    """Periodic chores: journal retention, and a zero-hour purge when the feeds change."""
    watcher = FeedWatcher(gw.engine)
    zero_hour = gw.settings.journal.zero_hour_hours > 0 and gw.journal is not None
    last_retention = 0.0
    while True:
        now = time.time()
        if now - last_retention >= retention_every:
            last_retention = now
            try:
                await asyncio.to_thread(gw.purge_journal, now)
            except Exception:
                log.exception("journal purge failed; will try again")
        if zero_hour and gw.journal is not None:
            try:
                if await asyncio.to_thread(watcher.changed):
                    await zero_hour_purge(
                        gw.settings, gw.journal, gw.engine, gw.store, why="threat feeds changed"
                    )
            except Exception:
                log.exception("zero-hour purge failed; will try at the next change")
        await asyncio.sleep(gw.settings.journal.zero_hour_check_seconds)
