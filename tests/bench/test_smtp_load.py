"""bench/smtp_load.py's clients against a small aiosmtpd server on loopback: the closed loop
sends every message it is asked for, and the open loop (``--rate``) keeps to its schedule."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from tests.bench.bench_modules import load_bench

sl = load_bench("smtp_load")


class Counting:
    def __init__(self) -> None:
        self.messages = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        return "250 2.0.0 Ok"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server() -> Iterator[tuple[int, Counting]]:
    handler = Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


def _payloads() -> list[bytes]:
    return [sl.smtp_payload(raw) for raw in sl.synthetic_messages(2)]


def test_closed_loop_sends_the_messages_asked_for(server: tuple[int, Counting]) -> None:
    port, handler = server
    result = asyncio.run(sl.run_level("127.0.0.1", port, _payloads(), 3, 12, 60.0, 5))
    row = result.row()
    assert row["messages"] == 12 and row["codes"] == {"250": 12}
    assert handler.messages == 12
    assert row["offered_msg_per_s"] is None and row["late"] == 0


def test_open_loop_keeps_to_its_schedule(server: tuple[int, Counting]) -> None:
    """10 messages offered at 20 msg/s over 2 clients: the last is due 0.45 s after the start,
    so the level cannot end sooner, however fast the server answers."""
    port, handler = server
    started = time.monotonic()
    result = asyncio.run(sl.run_level("127.0.0.1", port, _payloads(), 2, 10, 60.0, 100,
                                      rate=20.0))
    assert time.monotonic() - started >= 0.45
    row = result.row()
    assert row["messages"] == 10 and handler.messages == 10
    assert row["offered_msg_per_s"] == 20.0
    assert row["msg_per_s"] <= 20.0 * 10 / 9 + 0.1  # 10 messages over at least 9 intervals


class Pipelining(Counting):
    """Offers PIPELINING (as the gateway does) and counts the commands it reads."""

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


@pytest.mark.parametrize("offered", [True, False])
def test_the_client_pipelines_only_where_pipelining_is_offered(offered: bool) -> None:
    handler = Pipelining() if offered else Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()

    async def two() -> tuple[bool, list[str]]:
        client = sl.SmtpClient("127.0.0.1", controller.port)
        await client.connect()
        try:
            replies = [(await client.send(p))[0] for p in _payloads()]
        finally:
            await client.close()
        return client.pipelining, replies

    try:
        pipelined, replies = asyncio.run(two())
    finally:
        controller.stop()
    assert pipelined is offered
    assert [r[:3] for r in replies] == ["250", "250"] and handler.messages == 2
