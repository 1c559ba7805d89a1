"""The event loop of the long-running processes (the gateway and its scan processes).

asyncio's own loop, unless ``MAILWARD_EVENT_LOOP=uvloop`` and uvloop is installed (the
optional extra ``speed``): its loop, timers, transports and thread wake-ups cost less CPU than
asyncio's pure-Python ones (about 3-4% of the CPU per message under SMTP load), and the
gateway's event loop runs every SMTP session, spool worker and worker-thread hop. Not the
default yet: under uvloop the gateway's "421 too many connections" written in
``connection_made`` does not reach the client (it sees the connection closed;
tests/e2e/test_e2e_smtp_session.py::test_connection_limit_per_address). The one-shot commands
(scan, eval...) keep asyncio's.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Environment variable: ``uvloop`` runs uvloop's loop when it is installed.
EVENT_LOOP_ENV = "MAILWARD_EVENT_LOOP"


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop`` when it is asked for and installed; None: asyncio's."""
    if os.environ.get(EVENT_LOOP_ENV, "").strip().lower() != "uvloop":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_factory` chooses."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
