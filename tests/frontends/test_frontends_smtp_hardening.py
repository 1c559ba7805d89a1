"""GatewaySMTP in-process: the error budget, argument checks and pipelining synchronisation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mailward.config.settings import SmtpSettings
from mailward.frontends.smtp.server import COMMAND_BUFFER_LIMIT, ConnectionCounter, GatewaySMTP


class NullHandler:
    """No hooks: aiosmtpd's defaults answer."""


async def listen(settings: Any) -> tuple[asyncio.Server, int, ConnectionCounter]:
    """A GatewaySMTP server on a free loopback port: the server, its port, its counter."""
    counter = ConnectionCounter()
    server = await asyncio.get_running_loop().create_server(
        lambda: GatewaySMTP(NullHandler(), settings, counter, None),  # type: ignore[arg-type]
        host="127.0.0.1", port=0,
    )
    return server, server.sockets[0].getsockname()[1], counter


async def session(
    settings: Any, lines: list[bytes], replies: int, then: bytes = b""
) -> tuple[list[bytes], bytes]:
    """Send ``lines`` in one packet; read ``replies`` reply lines, send ``then``; return them
    and all the server says until it closes."""
    server, port, _counter = await listen(settings)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert (await reader.readline()).startswith(b"220")
        writer.write(b"".join(line + b"\r\n" for line in lines))
        got = [(await asyncio.wait_for(reader.readline(), 5)).rstrip() for _ in range(replies)]
        writer.write(then)
        return got, await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


def run(settings: Any, lines: list[bytes], replies: int) -> tuple[list[bytes], bool]:
    """Send ``lines`` and QUIT in one packet; the first replies, and whether nothing followed."""
    got, rest = asyncio.run(session(settings, [*lines, b"QUIT"], replies))
    return got, rest == b""


def test_error_budget_closes_with_421_and_skips_buffered_commands() -> None:
    settings = SmtpSettings(max_errors=2)
    got, closed = run(settings, [b"RSET x", b"NOOP", b"RSET x", b"NOOP"], 4)
    assert got[0].startswith(b"501") and got[1] == b"250 OK" and got[2].startswith(b"501")
    assert got[3] == b"421 4.7.0 Too many errors, closing connection"
    assert closed  # neither the buffered NOOP nor QUIT was answered


def test_under_the_error_budget_the_session_goes_on() -> None:
    settings = SmtpSettings(max_errors=3)
    got, closed = run(settings, [b"RSET x", b"RSET x", b"NOOP"], 4)
    assert [g[:3] for g in got] == [b"501", b"501", b"250", b"221"]
    assert closed


def test_default_error_budget_is_ten_without_the_setting() -> None:
    got, _ = run(SmtpSettings(), [b"RSET x"] * 10, 11)
    assert [g[:3] for g in got] == [b"501"] * 10 + [b"421"]
    got, _ = run(SmtpSettings(), [b"RSET x"] * 9, 10)
    assert [g[:3] for g in got] == [b"501"] * 9 + [b"221"]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"HELO a\x00b", b"501"),
        (b"HELO a\rb", b"501"),
        (b"HELO a\tb", b"250"),  # TAB is not refused
        (b"HELO \xc3\xa4.example", b"501"),
        (b"HELO a.example", b"250"),
        (b"NOOP \xff", b"501"),
    ],
)
def test_argument_checks(line: bytes, code: bytes) -> None:
    got, _ = run(SmtpSettings(), [line], 2)
    assert got[0][:3] == code, got


def test_data_with_content_in_the_same_packet_is_a_synchronisation_error() -> None:
    got, closed = run(SmtpSettings(), [b"HELO c.example", b"DATA", b"MAIL FROM:<a@b.example>"], 2)
    assert got == [b"250 mailward.local", b"554 5.5.0 Error: SMTP protocol synchronization"]
    assert closed


def test_data_alone_is_answered_normally() -> None:
    """Control: DATA that ends its packet (QUIT sent after the reply) is not an error."""
    got, rest = asyncio.run(
        session(SmtpSettings(), [b"HELO c.example", b"DATA"], 2, then=b"QUIT\r\n")
    )
    assert got[0] == b"250 mailward.local" and got[1].startswith(b"503 ")
    assert rest == b"221 Bye\r\n"


def test_reply_lines_never_echo_control_characters() -> None:
    """Regression (found by tests/fuzz/test_fuzz_smtp_session.py): aiosmtpd put the unknown
    command name, bare CR included, into its 500 reply."""
    got, _ = run(SmtpSettings(), [b"\rQUIT", b"X\x1b[2J\x00"], 2)
    assert got == [b'500 Error: command "?QUIT" not recognized',
                   b'500 Error: command "X?[2J?" not recognized']


class SlowStoringHandler:
    """DATA takes a while, as fsync and the inline scan do; what it stored is kept."""

    def __init__(self) -> None:
        self.stored: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.3)
        self.stored.append(envelope.original_content)
        return "250 2.0.0 Ok: queued as 1"


def test_half_close_while_the_message_is_stored_still_gets_the_reply() -> None:
    """Regression (found by tests/fuzz/test_fuzz_smtp_session.py): a client that half-closed
    right after the final dot had its message stored but the 250 was never sent (a duplicate
    when it retries). Now the reply goes out, then the connection is closed."""

    async def scenario() -> tuple[bytes, list[bytes]]:
        handler = SlowStoringHandler()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: GatewaySMTP(handler, SmtpSettings(), ConnectionCounter(), None),  # type: ignore[arg-type]
            host="127.0.0.1", port=0,
        )
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n")
        writer.write(b"DATA\r\n")
        said = b""
        while b"354" not in said:
            said += await asyncio.wait_for(reader.read(4096), 5)
        writer.write(b"Subject: x\r\n\r\nhi\r\n.\r\n")
        writer.write_eof()
        said += await asyncio.wait_for(reader.read(), 5)  # until the server closes
        writer.close()
        server.close()
        await server.wait_closed()
        return said, handler.stored

    said, stored = asyncio.run(scenario())
    assert said.endswith(b"354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as 1\r\n")
    assert stored == [b"Subject: x\r\n\r\nhi\r\n"]


async def close_then_keep_sending(settings: Any, lines: list[bytes], more: int) -> bytes:
    """Send ``lines`` in one packet without reading; once the server has closed its side, send
    ``more`` commands one by one; then read all the server said."""
    server, port, counter = await listen(settings)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    transport: Any = writer.transport
    transport.pause_reading()  # the replies stay in the kernel's buffer, unread, like a busy client's
    try:
        writer.write(b"".join(line + b"\r\n" for line in lines))
        async with asyncio.timeout(10):  # the server has closed the connection on its side
            while not counter.total:
                await asyncio.sleep(0.01)
            while counter.total:
                await asyncio.sleep(0.01)
        for _ in range(more):  # a busy client goes on sending, one segment at a time
            if transport.is_closing():
                break
            writer.write(b"NOOP\r\n")
            await asyncio.sleep(0)
        transport.resume_reading()
        return await asyncio.wait_for(reader.read(), 10)
    except ConnectionError as exc:  # what the client saw instead of its replies
        return repr(exc).encode()
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


def test_replies_survive_a_client_that_keeps_sending_after_the_close() -> None:
    # Regression (found by tests/fuzz/test_fuzz_smtp_session.py): a pipelining client got its
    # message queued, then hit the error budget and kept sending. The server closed its socket
    # at once, its kernel answered the next segment with a RST, the client's next send failed
    # and the client dropped the connection with replies it had not read yet, the 250 among
    # them: it would send the message again. The lingering close keeps them readable.
    settings = SmtpSettings(max_errors=2)
    said = asyncio.run(close_then_keep_sending(
        settings, [b"EHLO c.example", b"RSET x", b"NOOP", b"RSET x", b"NOOP"], 50,
    ))
    codes = [line[:4] for line in said.split(b"\r\n") if line and line[3:4] == b" "]
    assert codes == [b"220 ", b"250 ", b"501 ", b"250 ", b"501 ", b"421 "]


async def long_line(settings: Any, size: int) -> tuple[bytes, int]:
    """Send a command line of ``size`` octets with no line end, in 16 kB writes, stopping when
    the server closes; what it said, and how much was sent."""
    server, port, _counter = await listen(settings)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    try:
        assert (await reader.readline()).startswith(b"220")
        writer.write(b"NOOP ")
        while sent < size and not reader.at_eof():
            writer.write(b"x" * 16384)
            sent += 16384
            try:
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0)
        return await asyncio.wait_for(reader.read(), 10), sent
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


def test_a_megabyte_command_line_without_end_gets_500_and_close() -> None:
    said, sent = asyncio.run(long_line(SmtpSettings(), 1024 * 1024))
    assert said.startswith(b"500 5.5.2 Error: command line too long")
    assert said.endswith(b"\r\n")  # then EOF: the server closed
    assert sent >= COMMAND_BUFFER_LIMIT  # the reply came once the limit was crossed


def test_a_long_but_ended_command_line_is_answered_and_the_session_goes_on() -> None:
    got, closed = run(SmtpSettings(), [b"NOOP " + b"x" * 300_000], 2)
    assert got[0].startswith(b"500") and got[1].startswith(b"221")  # line too long, then QUIT
    assert closed


async def trickle(settings: Any, content: bytes, pause: float) -> tuple[bytes, float]:
    """A transaction whose DATA content comes one octet every ``pause`` seconds; what the
    server said after the 354, and after how many seconds it closed."""
    server, port, _counter = await listen(settings)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await reader.readline()
        for line in (b"HELO c.example", b"MAIL FROM:<a@example.net>", b"RCPT TO:<b@example.com>"):
            writer.write(line + b"\r\n")
            await reader.readline()
        writer.write(b"DATA\r\n")
        assert (await reader.readline()).startswith(b"354")
        started = asyncio.get_running_loop().time()
        said = b""
        for octet in content:
            writer.write(bytes([octet]))
            try:
                said = await asyncio.wait_for(reader.read(1000), pause)
                break  # the server spoke: a 421, or the reply to the whole message
            except TimeoutError:
                pass
        if said.startswith(b"250"):
            writer.write(b"QUIT\r\n")
        said += await asyncio.wait_for(reader.read(), 10)
        return said, asyncio.get_running_loop().time() - started
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


def test_a_trickling_client_gets_421_after_the_grace() -> None:
    settings = SmtpSettings(min_data_rate=100, min_data_rate_grace=0.5)
    content = b"Subject: slow\r\n\r\n" + b"x" * 400 + b"\r\n.\r\n"
    said, seconds = asyncio.run(trickle(settings, content, 0.05))  # about 20 octets/s
    assert b"421 4.4.2" in said
    assert seconds < 10  # not data_timeout (600 s)


def test_a_client_above_the_data_rate_is_not_cut() -> None:
    settings = SmtpSettings(min_data_rate=1, min_data_rate_grace=0.5)
    content = b"Subject: fine\r\n\r\nhello\r\n.\r\n"
    said, _ = asyncio.run(trickle(settings, content, 0.05))  # about 20 octets/s, over 1
    assert said.startswith(b"250") and b"421" not in said
