"""Synchronous lookups for libraries that want them (pyspf, dkimpy), served by the async client.

Such a library runs in a worker thread (``asyncio.to_thread``); each lookup it makes is
submitted to the event loop with ``run_coroutine_threadsafe`` and the worker waits for the
answer. The loop goes on serving other scans meanwhile. Calling the bridge from the loop's own
thread would deadlock, so it refuses with RuntimeError.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from mailward.dns.client import DnsClient, DnsTempError

T = TypeVar("T")


class SyncDnsBridge:
    """Blocking views of a :class:`DnsClient` for code running in a worker thread.

    Build it on the loop (``SyncDnsBridge(client, asyncio.get_running_loop(), timeout)``), then
    hand its methods to the thread. ``temp_errors`` counts lookups that failed for now, so the
    caller can tell a temporary failure from a negative answer when a library hides the
    difference (dkimpy turns both into "signature does not verify").
    """

    def __init__(
        self, client: DnsClient, loop: asyncio.AbstractEventLoop, timeout: float = 5.0
    ) -> None:
        self.client = client
        self.loop = loop
        self.timeout = timeout
        self.temp_errors = 0
        self._lock = threading.Lock()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for it; DnsTempError when it cannot finish."""
        if _running_loop() is self.loop:
            coro.close()
            raise RuntimeError("SyncDnsBridge used from its own event loop thread")
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError as exc:  # the loop is closed: the scan was given up
            coro.close()
            raise self._temp(f"event loop gone: {exc}") from exc
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise self._temp("lookup timed out") from exc
        except concurrent.futures.CancelledError as exc:
            raise self._temp("lookup cancelled") from exc
        except DnsTempError:
            self._count()
            raise

    def txt(self, name: str) -> list[str]:
        return self.run(self.client.txt(name))

    def dkim_txt(self, name: bytes, timeout: float = 5.0) -> bytes | None:
        """dkimpy's ``dnsfunc``: the first TXT record of ``name`` as bytes, None when none.

        A temporary failure also answers None (dkimpy then reports the signature as not
        verifying) and is counted in ``temp_errors``.
        """
        del timeout  # the bridge's own timeout applies
        try:
            records = self.txt(name.decode("ascii", "replace").rstrip("."))
        except DnsTempError:
            return None
        return records[0].encode("utf-8") if records else None

    def _temp(self, why: str) -> DnsTempError:
        self._count()
        return DnsTempError(why)

    def _count(self) -> None:
        with self._lock:
            self.temp_errors += 1


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
