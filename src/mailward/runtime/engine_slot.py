"""The engine in force, behind one holder, so a configuration reload can swap it everywhere.

The SMTP handler, the spool processor and the zero-hour watcher all hold the gateway's
:class:`EngineSlot` as their engine. ``slot.swap(new)`` puts a new engine in force for every
scan that starts afterwards; scans already running finish on the engine they started with.
``await slot.retire(old)`` waits until the last of those has ended, then closes ``old`` (its
``close()`` if it has one, sync or async, and its clients').
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Mapping
from typing import Any

from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.model import Envelope

__all__ = ["EngineSlot", "close_clients", "close_engine"]

log = logging.getLogger(__name__)


class EngineSlot(Engine):
    """An Engine that is whichever engine is in force: every attribute but ``scan`` is the
    current engine's, and ``scan`` counts the scans in flight on each engine.

    It does not call ``Engine.__init__`` on purpose: it builds nothing of its own.
    """

    def __init__(self, engine: Engine) -> None:
        self._current = engine
        self._inflight: dict[Engine, int] = {}
        self._drained: dict[Engine, asyncio.Event] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # our own, not yet set: never recurse into __getattr__
            raise AttributeError(name)
        return getattr(self._current, name)

    @property
    def current(self) -> Engine:
        return self._current

    def inflight(self, engine: Engine) -> int:
        """How many scans are running on ``engine`` now."""
        return self._inflight.get(engine, 0)

    async def scan(self, raw: bytes, envelope: Envelope | None = None) -> ScanOutcome:
        engine = self._current
        self._inflight[engine] = self._inflight.get(engine, 0) + 1
        try:
            return await engine.scan(raw, envelope)
        finally:
            left = self._inflight[engine] - 1
            if left:
                self._inflight[engine] = left
            else:
                del self._inflight[engine]
                event = self._drained.get(engine)
                if event is not None:
                    event.set()

    def swap(self, engine: Engine) -> Engine:
        """Put ``engine`` in force for every scan from now on; returns the one it replaces."""
        old, self._current = self._current, engine
        return old

    async def retire(self, engine: Engine) -> None:
        """Wait until no scan runs on ``engine`` any more, then close it."""
        if engine is self._current:
            raise ValueError("cannot retire the engine in force")
        if self._inflight.get(engine):
            event = self._drained.setdefault(engine, asyncio.Event())
            await event.wait()
            self._drained.pop(engine, None)
        await close_engine(engine)


async def close_engine(engine: Engine) -> None:
    """``engine.close()`` when it has one (awaited if it is a coroutine), then its clients."""
    close = getattr(engine, "close", None)
    if callable(close):
        try:
            result = close()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("closing a replaced engine failed")
    close_clients(engine.clients)


def close_clients(clients: Mapping[str, Any]) -> None:
    """Close every client that has a ``close()`` (DNS, sender history...)."""
    for name, client in clients.items():
        close = getattr(client, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                log.exception("closing client %s failed", name)
