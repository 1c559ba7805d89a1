"""ScanPool.wait_started: the gateway opens its port once a scan process is ready, and does
not wait out its whole bound when every scan process has failed to start."""

from __future__ import annotations

import threading
import time
from typing import Any

from mailward.engine.isolation._pool import ScanPool, _Handle


def idle_pool(processes: int = 2) -> ScanPool:
    def no_config(index: int) -> Any:
        raise AssertionError("never started in these tests")

    return ScanPool(no_config, processes, hard_timeout=60.0)


class _Proc:
    pid = 4242


def test_waits_until_a_scan_process_is_ready() -> None:
    pool = idle_pool()

    def become_ready() -> None:
        time.sleep(0.2)
        slot = pool._slots[1]
        slot.handle = _Handle(1, _Proc(), None)  # type: ignore[arg-type]
        slot.is_ready = True
        pool._notify()

    threading.Thread(target=become_ready).start()
    started = time.monotonic()
    assert pool.wait_started(60.0)
    assert 0.1 < time.monotonic() - started < 30.0


def test_stops_waiting_when_every_scan_process_failed_to_start() -> None:
    pool = idle_pool()

    def fail_all() -> None:
        for _ in range(2):
            time.sleep(0.1)
            pool.start_failures += 1
            pool._notify()

    threading.Thread(target=fail_all).start()
    started = time.monotonic()
    assert not pool.wait_started(60.0)
    assert time.monotonic() - started < 30.0


def test_one_failure_of_two_keeps_waiting() -> None:
    pool = idle_pool()
    pool.start_failures = 1
    assert not pool.wait_started(0.3)
