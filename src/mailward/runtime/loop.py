"""The event loop of the long-running processes (the gateway and its scan processes).

uvloop (libuv) when it is installed and ``MAILWARD_EVENT_LOOP`` is not ``asyncio``: its loop,
timers, transports and thread wake-ups cost less CPU than asyncio's pure-Python ones, and the
gateway's event loop runs every SMTP session, spool worker and worker-thread hop. Without it,
asyncio's own loop: the gateway behaves the same, only slower. The one-shot commands (scan,
eval...) keep asyncio's.
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

#: Environment variable: ``asyncio`` keeps asyncio's own loop even with uvloop installed.
EVENT_LOOP_ENV = "MAILWARD_EVENT_LOOP"


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop`` when it is installed and wanted; None: asyncio's."""
    if os.environ.get(EVENT_LOOP_ENV, "").strip().lower() == "asyncio":
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
