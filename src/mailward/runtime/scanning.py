"""Which engine scans: inline in the event loop, or in watchdog-guarded scan processes.

``mailward serve`` scans in processes unless ``engine.isolation = "inline"``; the one-shot
commands (scan, eval, hunt, lockdown release, quarantine, clawback) keep the inline Engine.
An isolated engine's ``close()`` kills its scan processes
(:func:`mailward.runtime.engine_slot.close_engine` calls it).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from mailward.config.settings import Settings
from mailward.engine.isolation import TEST_HOOK_ENV, IsolatedEngine
from mailward.engine.pipeline import Engine
from mailward.response.lockdown import Level

log = logging.getLogger(__name__)
#: Seconds the gateway waits at start-up for its first scan process, at most (it stops
#: waiting earlier when every scan process has failed to start once).
READY_WAIT = 120.0


def make_engine(
    settings: Settings,
    clients: Mapping[str, Any],
    lockdown: Callable[[], Level] | None,
    *,
    isolated: bool = True,
) -> Engine:
    """The gateway's engine. An isolated one is returned once a scan process is ready (a
    few seconds on a quiet machine: the fork server imports mailward once), so the gateway
    opens its port only when it can scan: the first message is scanned at once, not queued
    behind the start (a sender that comes earlier finds the port closed and retries, as
    during the restart itself). When every scan process fails to start, or after
    ``READY_WAIT`` seconds, the gateway starts anyway: scans wait in the queue (mail is
    spooled; an inline scan that cannot run in time is finished from the spool).

    ``isolated`` False (the CLI) or ``engine.isolation = "inline"`` gives the inline Engine.
    The environment variable ``MAILWARD_TEST_SCAN_HOOK`` arms the scan processes' test hook
    (tests of the watchdog only; see :mod:`mailward.engine.isolation._child`).
    """
    if not isolated or settings.engine.isolation == "inline":
        return Engine(settings, clients=clients, lockdown=lockdown)
    engine = IsolatedEngine(
        settings, clients=clients, lockdown=lockdown,
        test_hook=os.environ.get(TEST_HOOK_ENV) or None,
    )
    engine.start()
    started = time.monotonic()
    if engine.pool.wait_started(READY_WAIT):
        log.info("scan processes ready %.2f s after start", time.monotonic() - started)
    else:
        log.warning("no scan process ready after %.0f s; scans wait until one is",
                    time.monotonic() - started)
    return engine

