"""The scan process: it builds its own Engine and scans the jobs the gateway sends over a pipe.

Started by :mod:`mailward.engine.isolation._pool` with the 'forkserver' context. It

- caps its own address space (``RLIMIT_AS`` = ``engine.scan_memory_mb``), so a memory bomb ends
  in a MemoryError or the death of this process only (it refuses to start, saying why, when
  the cap leaves less than 256 MiB above what it already uses);
- dies with the gateway: ``PR_SET_PDEATHSIG`` on Linux (its parent is the fork server, which
  exits when the gateway does), a thread that watches the parent pid, and EOF on the pipe;
- builds its own clients (DNS, threat feeds, the sender history on the store URL, senders
  found seen remembered: :mod:`mailward.runtime.known_senders`) and an Engine whose lockdown
  level is the one sent with each job;
- answers each :class:`Job` with a :data:`Reply`: ``("ok", outcome, recycle)`` where the
  outcome's ParsedMessage carries only what the gateway reads (:func:`for_gateway`: no bytes,
  header list, HTML or attachment contents) and which carries the message's campaign signature
  (``text_signature``), ``("error", text)`` for
  an unexpected exception, or ``("memory", text)`` after a MemoryError (then it exits);
- retires itself after answering when ``recycle`` is a reason (not None): a detector ran out of
  memory or time, a thread is still running, or it served ``engine.scan_recycle_after`` scans
  (see :mod:`~._leftover`). It scans nothing more and exits at once (``os._exit``: a runaway
  thread would hold up a normal exit); the gateway starts a fresh process in its place.

Test hook (for the watchdog's own tests; never active by default): when the gateway runs with
the environment variable ``MAILWARD_TEST_SCAN_HOOK`` set to a token, a message containing
``<token>:stall`` spins the CPU forever, ``<token>:alloc`` allocates memory until it fails, and
``<token>:crash`` kills its scan process with SIGSEGV, before the scan starts; with the hook
on, a detector (:mod:`~._hook`) leaves a thread running on ``<token>:slowthread`` (after
timing out) and ``<token>:straythread``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import hashlib
import logging
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, NoReturn

import numpy

from mailward.activity.campaign_index import text_signature
from mailward.config.settings import Settings
from mailward.engine.isolation._hook import HookDetector
from mailward.engine.isolation._leftover import LeftoverWatch
from mailward.engine.isolation._wire import register as register_wire
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.engine.registry import build_detectors
from mailward.model import Action, Envelope
from mailward.response.lockdown import Level
from mailward.runtime.clients import build_clients
from mailward.runtime.known_senders import remember_known_senders

log = logging.getLogger(__name__)

#: Environment variable that turns the test hook on (see the module docstring).
TEST_HOOK_ENV = "MAILWARD_TEST_SCAN_HOOK"
_PR_SET_PDEATHSIG = 1
_ALLOC_CHUNK = 64 << 20
#: Address space a scan process needs beyond what it has at start, in MiB.
_MIN_HEADROOM_MB = 256

Reply = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ChildConfig:
    """What a scan process is started with (pickled to it)."""

    settings: Settings
    index: int
    #: build_clients flags, as the gateway's own clients were built.
    history: bool
    offline: bool
    memory_mb: int
    test_hook: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """One message to scan, with the gateway's view of the moment."""

    raw: bytes
    envelope: Envelope | None
    level: Level
    #: The gateway's threat-feed version: when it moves, the scan process re-reads its feeds.
    feeds_version: int = 0


def child_main(conn: Connection, config: ChildConfig) -> None:
    """Entry point of a scan process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the gateway; it stops us
    register_wire()  # the answers' dataclasses pickled by their fields (see _wire)
    _die_with_parent()
    short = _cap_memory(config.memory_mb)
    if short:
        conn.send(("failed", short))
        return
    try:
        asyncio.run(_serve(conn, config))
    except (EOFError, OSError):
        pass  # the gateway went away or closed the pipe
    except MemoryError:
        os._exit(3)


async def _serve(conn: Connection, config: ChildConfig) -> None:
    level = [Level.NORMAL]
    try:
        clients = remember_known_senders(
            build_clients(config.settings, offline=config.offline, history=config.history))
        engine = _engine(config, clients, lambda: level[0])
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    watch = LeftoverWatch(config.settings.engine.scan_recycle_after)
    watch.install(asyncio.get_running_loop())
    conn.send(("ready", _address_space_mb()))
    feeds_seen = 0
    try:
        while True:
            await _readable(conn)
            job = conn.recv()
            if job is None:
                return
            level[0] = job.level
            if job.feeds_version != feeds_seen:
                feeds_seen = job.feeds_version
                _reload_feeds(clients)
            reply = await _scan(engine, job, config, watch)
            conn.send(reply)
            if reply[0] == "memory":
                return
            if reply[0] == "ok" and reply[2]:
                _retire(clients)
    finally:
        _close_clients(clients)


def _engine(config: ChildConfig, clients: dict[str, Any], level: Callable[[], Level]) -> Engine:
    detectors = build_detectors(config.settings)
    if config.test_hook:
        timeout = config.settings.engine.detector_timeout
        detectors = [*detectors, HookDetector(config.test_hook, timeout)]
    return Engine(config.settings, detectors=detectors, clients=clients, lockdown=level)


def _retire(clients: dict[str, Any]) -> NoReturn:
    """Exit now, the answer sent: without waiting for threads a timed-out detector left."""
    _close_clients(clients)
    logging.shutdown()
    os._exit(0)


async def _scan(engine: Engine, job: Job, config: ChildConfig, watch: LeftoverWatch) -> Reply:
    try:
        _test_hook(config, job.raw)
        outcome = await engine.scan(job.raw, job.envelope)
    except MemoryError:
        return ("memory", f"it ran out of memory (cap {config.memory_mb} MiB)")
    except Exception as exc:
        log.exception("scan failed in scan process %d", config.index)
        return ("error", f"{type(exc).__name__}: {exc}")
    findings = outcome.result.findings
    recycle = "a detector ran out of memory" if _hit_memory_limit(outcome) else None
    reply = for_gateway(_with_signature(outcome, config.settings, job.envelope))
    return ("ok", reply, recycle or await watch.reason(findings))


def for_gateway(outcome: ScanOutcome) -> ScanOutcome:
    """The outcome as sent back: its ParsedMessage without what the gateway has or never
    reads -- the bytes (the gateway has them), the header list and the HTML (the detectors'
    inputs), the attachments' contents (their MD5 and SHA-1, which the journal keeps, are
    computed here instead). What the gateway reads of it: Message-ID and Subject (message
    log), From, To, Cc, text, links and attachment names, sizes and digests (journal,
    campaigns). The tests compare the journal entry, message-log row and campaign signature
    made from it with those made from the whole ParsedMessage."""
    parsed = outcome.parsed
    if parsed is None:
        return outcome
    attachments = tuple(
        dataclasses.replace(
            a, content=b"",
            md5=a.md5 or hashlib.md5(a.content, usedforsecurity=False).hexdigest(),
            sha1=a.sha1 or hashlib.sha1(a.content, usedforsecurity=False).hexdigest())
        for a in parsed.attachments)
    trimmed = dataclasses.replace(parsed, raw=b"", headers=(), html="", attachments=attachments)
    return dataclasses.replace(outcome, parsed=trimmed)


def _with_signature(outcome: ScanOutcome, settings: Settings,
                    envelope: Envelope | None) -> ScanOutcome:
    """The campaign signature made here, where the text is parsed already (the gateway's
    campaigns would make it again otherwise); none when there is nothing to cluster."""
    if (not settings.campaigns.enabled or envelope is None
            or outcome.verdict.action is Action.TEMPFAIL):
        return outcome
    try:
        sig = text_signature(settings, envelope, outcome.parsed)
    except Exception:  # the gateway makes it itself then
        log.exception("could not make the campaign signature")
        return outcome
    return dataclasses.replace(outcome, text_signature=sig)


def _hit_memory_limit(outcome: ScanOutcome) -> bool:
    """A detector that ran out of memory: answer, then start afresh (the heap may be torn)."""
    return any(
        f.symbol == "ENGINE_DETECTOR_ERROR" and "MemoryError" in f.explanation
        for f in outcome.result.findings
    )


async def _readable(conn: Connection) -> None:
    """Wait for the next job without blocking the loop (DNS lookups may still finish)."""
    if conn.poll():
        return
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = conn.fileno()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


def _reload_feeds(clients: dict[str, Any]) -> None:
    feeds = clients.get("feeds")
    if feeds is not None:
        try:
            feeds.reload_if_changed()
        except Exception:
            log.exception("could not re-read the threat feeds")


def _close_clients(clients: dict[str, Any]) -> None:
    for client in clients.values():
        close = getattr(client, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()


def _die_with_parent() -> None:
    """Exit when the gateway does, even in the middle of a scan."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _cap_memory(memory_mb: int) -> str | None:
    """Set the cap; a reason not to start when it leaves too little room to scan."""
    if memory_mb <= 0:
        return None
    needed = _address_space_mb() + _MIN_HEADROOM_MB
    if memory_mb < needed:
        return (
            f"engine.scan_memory_mb = {memory_mb} leaves no room to scan: a scan process "
            f"needs at least {needed} MiB of address space"
        )
    cap = memory_mb << 20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return None


def _address_space_mb() -> int:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * resource.getpagesize() >> 20


def _test_hook(config: ChildConfig, raw: bytes) -> None:
    """See the module docstring; a no-op unless the gateway was started with the hook."""
    if not config.test_hook:
        return
    token = config.test_hook.encode()
    if token + b":stall" in raw:
        while True:  # a runaway parse: CPU-bound, deaf to asyncio timeouts
            pass
    if token + b":alloc" in raw:
        if config.memory_mb <= 0:
            raise MemoryError("test hook: no memory cap to run into")
        # numpy.empty mallocs without touching the pages: the cap is hit at once, as a
        # decompression bomb would hit it, without using real memory.
        chunks = (config.memory_mb << 20) // _ALLOC_CHUNK + 1
        hog = [numpy.empty(_ALLOC_CHUNK, dtype=numpy.uint8) for _ in range(chunks)]
        raise AssertionError(f"allocated {len(hog)} chunks past the cap")
    if token + b":crash" in raw:
        os.kill(os.getpid(), signal.SIGSEGV)
