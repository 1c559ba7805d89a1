"""LMTP client: one reply per recipient after DATA (RFC 2033), each classified on its own; and
the processor retrying only the recipients that failed for now, bouncing the 5xx ones."""

from __future__ import annotations

import asyncio
import email
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailward.config.settings import DeliverySettings, EngineSettings, LmtpSettings, Settings
from mailward.delivery.lmtp import lmtp_message
from mailward.delivery.relay import RelayResult
from mailward.engine.pipeline import Engine
from mailward.model import Envelope
from mailward.spool.processor import Outcome, Processor, delivered_copies
from mailward.spool.queue import Spool
from mailward.store import open_store

ALICE, BOB = "alice@example.com", "bob@example.com"
RAW = b"From: x@partner.example.net\r\nSubject: hi\r\n\r\nline one\r\n.hidden dot\r\n"


@dataclass
class FakeLmtp:
    """A scripted LMTP server on 127.0.0.1: replies by command, per-recipient after DATA."""

    greeting: str = "220 lmtp ready"
    mail_reply: str = "250 2.1.0 ok"
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str = "354 go ahead"
    after_data: dict[str, str] = field(default_factory=dict)
    hang_up_after: int | None = None  # close after this many post-DATA replies
    lines: list[bytes] = field(default_factory=list)
    body: bytes = b""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def say(text: str) -> None:
            writer.write(text.encode() + b"\r\n")
            await writer.drain()

        await say(self.greeting)
        taken: list[str] = []
        while line := await reader.readline():
            self.lines.append(line)
            cmd = line.decode().strip()
            if cmd.startswith("LHLO"):
                await say("250-lmtp.example.com\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE")
            elif cmd.startswith("MAIL FROM"):
                await say(self.mail_reply)
            elif cmd.startswith("RCPT TO:<"):
                rcpt = cmd[9:-1]
                reply = self.rcpt_replies.get(rcpt, "250 2.1.5 ok")
                taken += [rcpt] if reply.startswith("2") else []
                await say(reply)
            elif cmd == "DATA":
                await say(self.data_reply)
                if not self.data_reply.startswith("354"):
                    continue
                while (chunk := await reader.readline()) != b".\r\n":
                    self.body += chunk
                for n, rcpt in enumerate(taken):
                    if self.hang_up_after is not None and n >= self.hang_up_after:
                        writer.close()
                        return
                    await say(self.after_data.get(rcpt, f"250 2.0.0 <{rcpt}> saved"))
            elif cmd == "QUIT":
                await say("221 bye")
                break
        writer.close()


def deliver(server: FakeLmtp, rcpts: tuple[str, ...] = (ALICE, BOB),
            settings: Callable[[int], LmtpSettings] | None = None) -> RelayResult:
    async def run() -> RelayResult:
        srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        conf = settings(port) if settings else LmtpSettings(host="127.0.0.1", port=port,
                                                            timeout=5)
        try:
            return await lmtp_message(conf, "x@partner.example.net", rcpts, RAW, helo="gw.test")
        finally:
            srv.close()
            await srv.wait_closed()

    return asyncio.run(run())


def test_every_recipient_accepted_and_dots_stuffed() -> None:
    server = FakeLmtp()
    result = deliver(server)
    assert result == RelayResult((ALICE, BOB), {}, {})
    assert server.lines[0] == b"LHLO gw.test\r\n"
    assert b"SIZE=" in server.lines[1]
    assert b"\r\n..hidden dot\r\n" in server.body and server.body.endswith(b"\r\n")


def test_post_data_replies_count_per_recipient() -> None:
    server = FakeLmtp(after_data={ALICE: "452 4.2.2 over quota", BOB: "250 2.0.0 saved"})
    result = deliver(server)
    assert result.accepted == (BOB,)
    assert list(result.temp_failed) == [ALICE] and "452 4.2.2 over quota" in result.temp_failed[ALICE]
    assert result.perm_failed == {}


def test_permanent_post_data_and_rcpt_refusals_are_permanent() -> None:
    server = FakeLmtp(rcpt_replies={BOB: "550 5.1.1 no such user"},
                      after_data={ALICE: "554 5.6.0 message refused"})
    result = deliver(server)
    assert result.accepted == ()
    assert set(result.perm_failed) == {ALICE, BOB}
    assert "no such user" in result.perm_failed[BOB]


def test_mail_from_refusal_fails_everyone_the_same_way() -> None:
    assert set(deliver(FakeLmtp(mail_reply="501 5.1.7 bad sender")).perm_failed) == {ALICE, BOB}
    assert set(deliver(FakeLmtp(mail_reply="451 4.3.0 later")).temp_failed) == {ALICE, BOB}


def test_bad_greeting_or_data_refusal_is_temporary_unless_5xx() -> None:
    assert set(deliver(FakeLmtp(greeting="421 4.3.2 shutting down")).temp_failed) == {ALICE, BOB}
    assert set(deliver(FakeLmtp(data_reply="554 5.3.4 too big")).perm_failed) == {ALICE, BOB}


def test_hang_up_mid_replies_keeps_those_already_answered() -> None:
    result = deliver(FakeLmtp(hang_up_after=1))
    assert result.accepted == (ALICE,)
    assert list(result.temp_failed) == [BOB]


def test_nothing_listening_is_temporary() -> None:
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = asyncio.run(lmtp_message(LmtpSettings(host="127.0.0.1", port=port, timeout=2),
                                      "x@y.example", [ALICE], RAW, helo="gw"))
    assert result.accepted == () and list(result.temp_failed) == [ALICE]
    none = asyncio.run(lmtp_message(LmtpSettings(), "x@y.example", [ALICE], RAW, helo="gw"))
    assert none.temp_failed == {ALICE: "no LMTP host configured"}


def test_unsafe_addresses_never_reach_the_wire() -> None:
    server = FakeLmtp()
    result = deliver(server, rcpts=(ALICE, "evil@example.com>\r\nDATA"))
    assert result.accepted == (ALICE,)
    assert list(result.perm_failed) == ["evil@example.com>\r\nDATA"]
    assert not any(b"evil" in line for line in server.lines)


# -- the processor with inbound = "lmtp" --------------------------------------------------------

@dataclass
class ScriptedLmtp:
    """Stands in for lmtp_message in the processor: answers from a list of scripts."""

    scripts: list[dict[str, str]]
    calls: list[tuple[str, ...]] = field(default_factory=list)

    async def __call__(self, settings: LmtpSettings, mail_from: str, recipients: list[str],
                       raw: bytes, *, helo: str, on_accepted: Any = None) -> RelayResult:
        self.calls.append(tuple(recipients))
        script = self.scripts.pop(0) if self.scripts else {}
        return RelayResult(
            tuple(r for r in recipients if r not in script),
            {r: v for r, v in script.items() if r in recipients and v.startswith("4")},
            {r: v for r, v in script.items() if r in recipients and v.startswith("5")},
        )


def test_processor_retries_only_the_deferred_recipient_and_bounces_5xx(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", engine=EngineSettings(disabled=("content",)),
        delivery=DeliverySettings(inbound="lmtp", lmtp=LmtpSettings(host="127.0.0.1", port=24)),
    )
    settings.data_dir.mkdir()
    store = open_store(f"sqlite:///{settings.data_dir}/db.sqlite")
    carol = "carol@example.com"
    lmtp = ScriptedLmtp([{BOB: "452 over quota", carol: "550 no such user"}, {}])
    try:
        spool = Spool(settings.spool_dir)
        processor = Processor(settings, Engine(settings), spool, store, lmtp=lmtp)
        env = Envelope(mail_from="x@partner.example.net", rcpt_tos=(ALICE, BOB, carol),
                       received_at=1000.0)
        entry_id = spool.put(env, RAW)
        first = asyncio.run(processor.process(entry_id, now=1010.0))
        assert first == Outcome(entry_id, False, "deferred")
        state = spool.state(entry_id)
        assert state.done == {ALICE: "lmtp", carol: "bounced"}
        bounce = [i for i in spool.ids() if i != entry_id]
        assert len(bounce) == 1 and b"no such user" in spool.load(bounce[0]).raw
        assert email.message_from_bytes(spool.load(bounce[0]).raw).get_content_type() == (
            "multipart/report")
        second = asyncio.run(processor.process(entry_id, now=1100.0))
        assert second == Outcome(entry_id, True, "deliver")
        assert lmtp.calls == [(ALICE, BOB, carol), (BOB,)]
        copies = delivered_copies(settings, entry_id, {ALICE: "lmtp"})
        assert copies == [(ALICE, "lmtp:127.0.0.1:24")]
    finally:
        store.close()
