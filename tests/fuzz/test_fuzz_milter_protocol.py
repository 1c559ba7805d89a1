"""Random milter packets never crash the connection handler: each one is answered, ends the
connection (quit), or is a MilterProtocolError (the connection is closed; Postfix tempfails)."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mailward.frontends.milter import protocol as p
from mailward.frontends.milter.server import MilterConnection

COMMANDS = [p.ABORT, p.BODY, p.CONNECT, p.MACRO, p.BODYEOB, p.HELO, p.QUIT_NC, p.HEADER, p.MAIL,
            p.EOH, p.OPTNEG, p.QUIT, p.RCPT, p.DATA, p.UNKNOWN, b"Z", b"\0"]


class Verdicts:
    """Stands for MilterVerdicts: end of message gets a continue."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def end_of_message(self, msg: Any) -> list[bytes]:
        assert isinstance(msg.raw(), bytes)
        self.messages.append(msg)
        return [p.encode(p.CONTINUE)]


packet = st.tuples(
    st.sampled_from(COMMANDS),
    st.one_of(
        st.binary(max_size=64),
        st.just(struct.pack("!III", 6, 0x1FF, 0x1FFFFF)),
        st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\0", b"")), max_size=4)
        .map(lambda parts: b"".join(x + b"\0" for x in parts)),
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(packet, max_size=30))
def test_random_packets_are_answered_or_refused(packets: list[tuple[bytes, bytes]]) -> None:
    conn = MilterConnection(Verdicts(), 10_000)  # type: ignore[arg-type]

    async def run() -> None:
        for command, data in packets:
            try:
                replies = await conn.handle(p.Packet(command, data))
            except p.MilterProtocolError:
                return  # the server closes the connection
            if replies is None:
                return
            assert all(isinstance(r, bytes) and len(r) >= 5 for r in replies)

    asyncio.run(run())
