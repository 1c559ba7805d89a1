"""The test hook's detector: leftover threads on demand, for the scan-process recycling tests.

Only built when the gateway runs with ``MAILWARD_TEST_SCAN_HOOK`` set to a token (never by
default; see :mod:`mailward.engine.isolation._child`). For a message containing

- ``<token>:slowthread``: it sleeps in ``asyncio.to_thread`` for longer than
  ``engine.detector_timeout``, so the Engine gives it up (``ENGINE_DETECTOR_TIMEOUT``) while its
  thread goes on, as a runaway pypdf parse would;
- ``<token>:straythread``: it starts a plain thread that sleeps as long and returns at once, so
  the scan ends without a timeout but with one thread more than the process started with.

It raises no symbols of its own and has no settings.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence
from typing import ClassVar

from mailward.engine.contract import ScanContext, SymbolSpec
from mailward.model import Finding, ParsedMessage


class HookDetector:
    """Leaves a thread running when a message asks for it (tests only)."""

    name: ClassVar[str] = "test_hook"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {}
    timeout: ClassVar[float] = 3600.0  # engine.detector_timeout is the limit that applies
    fail_closed: ClassVar[bool] = False

    def __init__(self, token: str, detector_timeout: float) -> None:
        self.token = token.encode()
        #: How long the left-behind thread sleeps: well past the detector's time.
        self.seconds = detector_timeout * 3 + 2

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        raw = msg.raw
        if self.token + b":slowthread" in raw:
            await asyncio.to_thread(time.sleep, self.seconds)
        elif self.token + b":straythread" in raw:
            stray = threading.Thread(
                target=time.sleep, args=(self.seconds,), name="test-hook-stray", daemon=True
            )
            stray.start()
        return []
