"""Scan isolation in the running gateway: a stuck scan is killed by the watchdog and its message
quarantined while other mail is delivered; a killed scan process is replaced; no scan process
outlives the gateway, whether it stops cleanly or is killed.

The stuck message uses the scan processes' test hook (``MAILWARD_TEST_SCAN_HOOK``), which the
gateway only arms when that environment variable is set, as these tests do.
"""

from __future__ import annotations

import os
import re
import signal
import smtplib
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import messages
from gateway_harness import GatewayProcess, maildir_files

from mailward.engine.isolation import SCAN_KILLED_SYMBOL, TEST_HOOK_ENV
from mailward.store import open_store

pytestmark = pytest.mark.slow

HOOK = "e2e-watchdog-51c2"
HARD_TIMEOUT = 4.0
ENGINE = f"detector_timeout = 1.0\nscan_hard_timeout = {HARD_TIMEOUT}\nscan_processes = 2"


def send(port: int, msg: object) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.send_message(msg, from_addr="bob@partner.example.net")  # type: ignore[arg-type]


def stuck_message() -> object:
    msg = messages.clean(99)
    msg.replace_header("Subject", "This one never finishes scanning")
    msg.set_content(f"Hi,\n\n{HOOK}:stall\n")
    return msg


def ready_pids(gw: GatewayProcess, starts: int = 2, timeout: float = 120.0) -> list[int]:
    """Pids of the two newest scan processes, once the gateway reported ``starts`` ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.findall(r"scan process \d+ \(pid (\d+)\) ready", gw.log.read_text())
        if len(found) >= starts:
            return [int(p) for p in found[-2:]]
        time.sleep(0.1)
    raise AssertionError("scan processes not ready:\n" + gw.log.read_text()[-3000:])


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[-1].split()[1])


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def hooked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_HOOK_ENV, HOOK)  # the harness passes our environment on


def test_stuck_scan_is_quarantined_while_other_mail_is_delivered(make_gateway, hooked) -> None:
    gw = make_gateway(engine=ENGINE)
    ready_pids(gw)
    stuck_done: list[float] = []

    def send_stuck() -> None:
        send(gw.port, stuck_message())  # a 250: the message is in the spool either way
        stuck_done.append(time.monotonic())

    started = time.monotonic()
    sender = threading.Thread(target=send_stuck)
    sender.start()
    time.sleep(0.3)
    send(gw.port, messages.clean(1))
    assert wait_until(lambda: len(maildir_files(gw.data_dir)) == 1, 30)
    delivered = time.monotonic()
    sender.join(60)
    assert stuck_done, "the stuck message got no reply"
    assert delivered < stuck_done[0], "the clean message waited for the stuck one"
    assert stuck_done[0] - started >= HARD_TIMEOUT - 0.5
    gw.wait_spool_empty()

    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        [entry] = store.list_quarantine(status="held")
    finally:
        store.close()
    assert entry.reason == f"{SCAN_KILLED_SYMBOL} forces quarantine"
    [finding] = [f for f in entry.findings if f.symbol == SCAN_KILLED_SYMBOL]
    assert f"hard limit of {HARD_TIMEOUT:g} s" in finding.explanation
    assert len(maildir_files(gw.data_dir)) == 1
    # scanned once: the spool sweep left it to the inline scan, which got the killed verdict
    assert gw.log.read_text().count("killed: a scan (from 127.0.0.1") == 1


def test_scan_process_killed_from_outside_is_replaced(make_gateway) -> None:
    gw = make_gateway(engine=ENGINE)
    first = ready_pids(gw)
    os.kill(first[0], signal.SIGKILL)
    assert first[0] not in ready_pids(gw, starts=3)
    send(gw.port, messages.clean(1))
    send(gw.port, messages.clean(2))
    gw.wait_spool_empty()
    assert len(maildir_files(gw.data_dir)) == 2
    assert "starting another" in gw.log.read_text()


def test_no_scan_process_outlives_the_gateway(make_gateway) -> None:
    gw = make_gateway(engine=ENGINE)
    pids = ready_pids(gw)
    servers = {parent_of(pid) for pid in pids}  # the fork server that started them
    gw.stop()
    assert wait_until(lambda: not any(alive(p) for p in pids + sorted(servers)))

    gw = make_gateway(engine=ENGINE)
    pids = ready_pids(gw)
    servers = {parent_of(pid) for pid in pids}
    gw.kill()  # SIGKILL: no chance to clean up
    assert wait_until(lambda: not any(alive(p) for p in pids + sorted(servers))), [
        p for p in pids + sorted(servers) if alive(p)
    ]
