"""Assemble and run the gateway: store, spool, engine, processor, workers and the SMTP server.

The engine is held in an :class:`EngineSlot`, so a configuration reload (SIGHUP, ``mailward
reload``, or a changed configuration file; see :mod:`mailward.runtime.reload`) swaps it for
every part at once. The running gateway writes its pid to ``<data_dir>/mailward.pid``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mailward.activity.campaigns import Campaigns
from mailward.activity.monitor import ActivityMonitor
from mailward.cluster.backlog import HeldCount
from mailward.cluster.held import HeldStore
from mailward.cluster.node import run_node
from mailward.cluster.redis import RedisLink, node_id
from mailward.cluster.release import ClusterRelease
from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine
from mailward.frontends.milter.server import listen_address, start_milter_server
from mailward.frontends.milter.verdicts import MilterVerdicts
from mailward.frontends.smtp.handler import GatewayHandler
from mailward.frontends.smtp.server import start_smtp_server
from mailward.ratelimit import RateLimiter
from mailward.response.journal import Journal
from mailward.response.lockdown import Level, LockdownState
from mailward.response.release import ReleaseReport, release_held
from mailward.response.zero_hour import FeedWatcher, RulesWatcher, zero_hour_purge
from mailward.runtime.clients import build_clients
from mailward.runtime.engine_slot import EngineSlot, close_clients, close_engine
from mailward.runtime.reload import Reloader
from mailward.runtime.scanning import make_engine
from mailward.runtime.warm import freeze_loaded, start_warming
from mailward.runtime.workers import SpoolWorkers
from mailward.spool.processor import Processor
from mailward.spool.queue import Spool
from mailward.store import Store, open_store

if TYPE_CHECKING:
    from mailward.web.server import ConsoleServer

log = logging.getLogger(__name__)
#: Seconds the console's release waits for a spool worker that took the released entry first.
RELEASE_WAIT = 10.0
PID_FILE = "mailward.pid"
#: Threads of the gateway's default executor (``asyncio.to_thread``): spool writes, store
#: commits and deliveries wait there on fsyncs, not on the CPU, and the fsyncs of concurrent
#: sessions are shared (group commit), so more of them in flight means fewer fsyncs each.
#: asyncio's default (CPUs + 4) let a few slow store commits hold up every SMTP session.
IO_THREADS = 32


def build_engine(
    settings: Settings, lockdown: Callable[[], Level], *, history: bool = True,
    offline: bool = False, isolated: bool = False,
) -> Engine:
    """A new engine, with its own clients, from ``settings``: what a reload swaps in.

    The one place a reload builds an engine; point it at the engine factory when there is one.
    """
    clients = build_clients(settings, history=history, offline=offline)
    try:
        return make_engine(settings, clients, lockdown, isolated=isolated)
    except BaseException:
        close_clients(clients)
        raise


@dataclass
class Gateway:
    """Every long-lived part of a running gateway."""

    settings: Settings
    store: Store
    spool: Spool
    engine: EngineSlot
    processor: Processor
    lockdown: LockdownState
    journal: Journal | None
    activity: ActivityMonitor | None = None
    campaigns: Campaigns | None = None
    history: bool = True
    offline: bool = False
    isolated: bool = False
    #: In a cluster (``[cluster] redis_url``): held mail in the shared store, released once.
    cluster: ClusterRelease | None = None

    @classmethod
    def build(
        cls, settings: Settings, *, history: bool = True, offline: bool = False,
        isolated: bool = False,
    ) -> Gateway:
        """Every part, on the settings' store and spool (the CLI builds one too)."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(settings.store_url)
        spool = Spool(settings.spool_dir)
        lockdown = LockdownState.for_settings(settings)
        clients = build_clients(settings, history=history, offline=offline)
        engine = make_engine(settings, clients, lockdown.level, isolated=isolated)
        journal = Journal(settings.store_url) if settings.journal.enabled else None
        slot = EngineSlot(engine)
        activity = ActivityMonitor(settings, store, lockdown) if settings.activity.enabled else None
        campaigns = (Campaigns(settings, store, journal, activity)
                     if settings.campaigns.enabled else None)
        processor = Processor(
            settings, slot, spool, store, lockdown=lockdown.level, journal=journal,
            activity=activity, campaigns=campaigns,
        )
        link = RedisLink.from_settings(settings)
        cluster = None
        if link is not None:
            cluster = ClusterRelease(HeldStore(settings.store_url), spool, processor,
                                     settings.lockdown, link, node_id(settings))
            processor.park = cluster.park
        return cls(
            settings, store, spool, slot, processor, lockdown, journal, activity, campaigns,
            history, offline, isolated, cluster,
        )

    def build_engine(self, settings: Settings) -> Engine:
        """A new engine for ``settings``, built as this gateway's was (for a reload)."""
        return build_engine(
            settings, self.lockdown.level, history=self.history, offline=self.offline,
            isolated=self.isolated,
        )

    def purge_journal(self, now: float) -> None:
        """Drop raw bytes and entries past their retention (run now and then), and the
        activity events and counters past theirs."""
        if self.activity is not None:
            self.activity.purge(now)
        if self.campaigns is not None:
            self.campaigns.purge(now)
        if self.journal is None:
            return
        days = self.settings.journal
        self.journal.purge(now - days.raw_retention_days * 86400)
        self.journal.purge_entries(now - days.entry_retention_days * 86400)

    def close(self) -> None:
        """Close every part (outside an event loop: the CLI)."""
        asyncio.run(self.aclose())

    async def aclose(self) -> None:
        """Close every part, from inside the event loop (observations under way end first)."""
        await self.processor.later.made()
        await close_engine(self.engine.current)
        self.lockdown.close()
        if self.activity is not None:  # alert webhooks under way get a few seconds to finish
            await asyncio.to_thread(self.activity.notifier.join, 5.0)
            self.activity.close()
        if self.campaigns is not None:
            self.campaigns.close()
        if self.journal is not None:
            self.journal.close()
        if self.cluster is not None:
            self.cluster.held.close()
        self.store.close()


async def serve(
    settings: Settings,
    ready: asyncio.Event | None = None,
    *,
    load: Callable[[], Settings] | None = None,
    config_path: Path | None = None,
    freeze: bool = False,
) -> None:
    """Run until SIGTERM or SIGINT; in-flight work stays in the spool for the next start.

    ``freeze`` (the ``mailward serve`` process, not a test running the gateway in its own
    process): before it listens, and once the campaign index is rebuilt, what is loaded is
    moved out of the garbage collector's reach (:func:`mailward.runtime.warm.freeze_loaded`).

    SIGHUP reloads the configuration with ``load`` (the CLI passes the same file and
    environment it started from); ``config_path`` is the file watched for changes."""
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(IO_THREADS, thread_name_prefix="mailward-io"))
    warming = start_warming()  # beside the scan processes' start, before the port opens
    gw = Gateway.build(settings, isolated=True)  # scans in watchdog-guarded processes
    await asyncio.to_thread(warming.join)
    workers = SpoolWorkers(gw.processor, gw.spool, settings.engine.workers)
    limiter = RateLimiter(settings.ratelimit, settings.organisation.internal_networks)
    held_count = HeldCount(gw.cluster.held) if gw.cluster is not None else None
    handler = GatewayHandler(settings, gw.spool, gw.engine, gw.processor, workers.nudge,
                             activity=gw.activity, limiter=limiter, held_count=held_count)
    console_server = _console_server() if settings.console.listen_port else None
    if freeze:  # what is loaded by now lives as long as the gateway (before the port opens:
        t0 = time.perf_counter()  # the collection first takes a tenth of a second)
        frozen = freeze_loaded()
        log.info("%d loaded objects moved out of the garbage collector's reach in %.0f ms",
                 frozen, (time.perf_counter() - t0) * 1000)
    server = await start_smtp_server(handler, settings.smtp)
    milter = None
    if settings.milter.listen:  # the milter front end beside SMTP, on the same parts
        milter = await start_milter_server(
            MilterVerdicts(settings, gw.engine, gw.processor, held_count), settings, limiter
        )
        log.info("mailward milter listening on %s", listen_address(milter))
    await workers.start()
    warm = None  # the campaign index is rebuilt from the store beside the running gateway
    if gw.campaigns is not None:
        warm = asyncio.create_task(asyncio.to_thread(_index_then_freeze, gw.campaigns, freeze),
                                   name="campaign-index")
    reloader = Reloader(gw, load or _no_source, gw.build_engine,
                        RulesWatcher(config_path, settings), handler)
    wake = asyncio.Event()
    console = await _start_console(gw, workers, wake.set, console_server)
    housekeeping = asyncio.create_task(_housekeeping(gw, reloader, wake), name="housekeeping")
    node = _start_cluster_node(gw)
    stop = asyncio.Event()
    _signals(stop, wake)
    pid_file = _write_pid(settings.data_dir)
    addr = ", ".join(str(s.getsockname()) for s in server.sockets)
    log.info("mailward listening on %s; data in %s", addr, settings.data_dir)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        await _close_listeners(server, milter, console)
        await _cancel(housekeeping, node)
        await workers.stop()
        if warm is not None:
            with contextlib.suppress(Exception):
                await warm
        await reloader.close()
        await limiter.aclose()
        await gw.aclose()
        _remove_pid(pid_file)
        log.info("mailward stopped")


async def _close_listeners(
    server: asyncio.Server, milter: asyncio.Server | None, console: ConsoleServer | None
) -> None:
    """Stop taking connections: SMTP first, then the console and the milter."""
    server.close()
    await server.wait_closed()
    if console is not None:
        await console.stop()
    if milter is not None:
        milter.close()
        await milter.wait_closed()


async def _cancel(*tasks: asyncio.Task[None] | None) -> None:
    """Cancel the background ``tasks`` (None: not started) and wait for each to end."""
    for task in tasks:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _console_server() -> type[ConsoleServer]:
    """The console's server class: its web framework and templates are imported only when the
    console is on (0.2 s of every start); before the SMTP port opens, so that the console
    listens right after it, as when this module imported them."""
    from mailward.web.server import ConsoleServer  # noqa: PLC0415 (see above)

    return ConsoleServer


async def _start_console(
    gw: Gateway, workers: SpoolWorkers, reload: Callable[[], None],
    console_server: type[ConsoleServer] | None,
) -> ConsoleServer | None:
    """The analyst console (``console_server``) when ``console.listen_port`` is set; a release
    is delivered at once by this gateway's processor (the workers retry it if that does not
    finish); ``reload`` wakes housekeeping to reload the configuration, as SIGHUP does."""
    if console_server is None:
        return None


    async def deliver(spool_id: str) -> bool:
        # A spool worker may have taken the released entry first (its lock is then not ours):
        # wait a little for it rather than report "queued" for mail delivered a moment later.
        deadline = time.monotonic() + RELEASE_WAIT
        while True:
            if spool_id not in await asyncio.to_thread(gw.spool.ids):
                return True  # a worker delivered it and finished the entry
            outcome = await gw.processor.process(spool_id)
            if outcome is not None:
                if outcome.finished:
                    return True
                break
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.05)
        workers.nudge(spool_id)
        return False

    async def release_backlog(progress: Callable[[int, int], None]) -> ReleaseReport:
        if gw.cluster is not None:  # an order every node sees; this one takes part
            total = await asyncio.to_thread(gw.cluster.held.count)
            _, report = await gw.cluster.release_everything(
                "console", "released from the console",
                progress=lambda done: progress(done, max(total, done)))
            assert report is not None
            return report
        return await release_held(gw.spool, gw.processor, gw.settings.lockdown,
                                  progress=progress)

    console = console_server(gw.settings, deliver, release_backlog, reload, gw.activity,
                             gw.campaigns)
    await console.start()
    return console


def _start_cluster_node(gw: Gateway) -> asyncio.Task[None] | None:
    """In a cluster: follow the other nodes' notices and work on release orders."""
    link = RedisLink.from_settings(gw.settings)
    if gw.cluster is None or link is None:
        return None
    log.info("cluster node %s (Redis at %s)", link.node, link.url.rpartition("@")[2])
    on_campaign = gw.campaigns.follow_notice if gw.campaigns is not None else None
    return asyncio.create_task(run_node(gw.cluster, link, gw.lockdown.invalidate,
                                        on_campaign=on_campaign), name="cluster-node")


def _no_source() -> Settings:
    raise RuntimeError("this gateway was started without a configuration source to reload")


def _signals(stop: asyncio.Event, hup: asyncio.Event) -> None:
    """SIGTERM/SIGINT set ``stop``; SIGHUP sets ``hup``: housekeeping wakes up and reloads."""
    loop = asyncio.get_running_loop()
    for sig, event in ((signal.SIGTERM, stop), (signal.SIGINT, stop), (signal.SIGHUP, hup)):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, event.set)


def _write_pid(data_dir: Path) -> Path | None:
    """``<data_dir>/mailward.pid`` for `mailward reload`; None when it cannot be written."""
    path = data_dir / PID_FILE
    try:
        path.write_text(f"{os.getpid()}\n")
    except OSError as exc:
        log.warning("cannot write the pid file %s: %s", path, exc)
        return None
    return path


def _remove_pid(path: Path | None) -> None:
    """Remove our pid file (only if it is still ours)."""
    with contextlib.suppress(OSError, ValueError):
        if path is not None and int(path.read_text().strip()) == os.getpid():
            path.unlink()


def _index_then_freeze(campaigns: Campaigns, freeze: bool) -> None:
    """Rebuild the campaign index from the store; then, with ``freeze``, freeze it with the
    rest of what is loaded (:func:`freeze_loaded`, without a collection first: the gateway
    serves by then, and a full collection would hold every thread up): it lives as long as
    the gateway."""
    campaigns.ready()
    if freeze:
        freeze_loaded(collect=False)


async def _housekeeping(
    gw: Gateway, reloader: Reloader, hup: asyncio.Event, retention_every: float = 3600.0
) -> None:
    """Periodic chores: journal retention; a reload on SIGHUP or when the configuration or
    YARA rules change (then a zero-hour purge); a zero-hour purge when the feeds change; the
    campaigns other processes found bad or merged."""
    feeds = FeedWatcher(gw.engine)
    last_retention = 0.0
    while True:
        now = time.time()
        if now - last_retention >= retention_every:
            last_retention = now
            try:
                await asyncio.to_thread(gw.purge_journal, now)
            except Exception:
                log.exception("journal purge failed; will try again")
        signalled = hup.is_set()
        hup.clear()
        try:
            await reloader.tick(signalled)
        except Exception:
            log.exception("configuration reload failed; still on the old configuration")
        await _feed_purge(gw, feeds)
        await _campaign_refresh(gw)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hup.wait(), gw.settings.journal.zero_hour_check_seconds)


async def _campaign_refresh(gw: Gateway) -> None:
    """Campaigns found bad or merged by another process (the CLI, another node) since."""
    if gw.campaigns is None:
        return
    try:
        await asyncio.to_thread(gw.campaigns.refresh)
    except Exception:
        log.exception("campaign refresh failed; will try again")


async def _feed_purge(gw: Gateway, feeds: FeedWatcher) -> None:
    """A zero-hour purge when the threat feeds changed (and the purge is on)."""
    if gw.journal is None or gw.settings.journal.zero_hour_hours <= 0:
        return
    try:
        if await asyncio.to_thread(feeds.changed):
            await zero_hour_purge(
                gw.settings, gw.journal, gw.engine, gw.store, why="threat feeds changed",
                expander=gw.campaigns,
            )
    except Exception:
        log.exception("zero-hour purge failed; will try at the next change")
