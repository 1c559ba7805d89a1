"""A (re)started gateway scans its first message as soon as its port opens (issue #15).

The port opens only once a scan process is ready, so a message sent the moment it opens is
scanned while its sender waits (its message-log row exists when the 250 arrives) instead of
queueing behind the scan processes' start.
"""

from __future__ import annotations

import smtplib
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import messages
from gateway_harness import GatewayProcess

pytestmark = pytest.mark.slow

#: Generous for a busy shared machine; on a quiet one it takes a few tens of milliseconds.
FIRST_SCAN_BOUND = 5.0


def logged_ids(gw: GatewayProcess) -> set[str]:
    with sqlite3.connect(gw.data_dir / "mailward.db") as db:
        return {row[0] for row in db.execute("SELECT id FROM messages")}


def send_first(gw: GatewayProcess, n: int) -> tuple[str, float, set[str]]:
    """Send right after the port opened: the reply, its seconds since then, logged ids."""
    opened = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=60) as smtp:
        smtp.ehlo()
        smtp.mail("sender@partner.example.net")
        smtp.rcpt("alice@example.com")
        code, reply = smtp.data(messages.clean(n).as_bytes())
    took = time.perf_counter() - opened
    assert code == 250, reply
    return reply.decode(), took, logged_ids(gw)


def test_first_message_after_start_is_scanned_at_once(
    make_gateway: Callable[..., GatewayProcess],
) -> None:
    gw = make_gateway()  # start() returns as soon as the port accepts a connection
    reply, took, logged = send_first(gw, 0)
    print(f"\nfirst 250 {took * 1000:.0f} ms after the port opened")
    entry_id = reply.rsplit(" ", 1)[-1]
    assert entry_id in logged, "the 250 came before the scan (inline scan timed out)"
    assert took < FIRST_SCAN_BOUND
    # what `mailward serve` loaded is kept out of the collector's walks (runtime.warm)
    assert "loaded objects moved out of the garbage collector's reach" in gw.log.read_text()
