"""The fork server of the scan processes (:mod:`mailward.engine.isolation`), startable early.

The fork server imports mailward and warms a default Engine once
(:mod:`mailward.engine.isolation._warm`), then forks every scan process from itself. This
module imports only :mod:`multiprocessing`, so ``mailward serve`` starts the fork server
before it imports the gateway: the fork server's imports run on another CPU while the gateway
imports and opens its store, instead of after.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing import forkserver
from multiprocessing.process import BaseProcess

_PRELOAD = ["mailward.engine.isolation._warm"]
_start_lock = threading.Lock()


def start_fork_server() -> None:
    """Start the fork server now if it is not running (it imports mailward in the
    background); returns at once. Scan processes are forked from it later."""
    with _start_lock:
        multiprocessing.set_forkserver_preload(_PRELOAD)
        forkserver.ensure_running()


def start_process(proc: BaseProcess) -> None:
    """``proc.start()`` for a process of the 'forkserver' context, which starts the fork server
    first (with the preload) if it is not running."""
    with _start_lock:
        multiprocessing.set_forkserver_preload(_PRELOAD)
        proc.start()
