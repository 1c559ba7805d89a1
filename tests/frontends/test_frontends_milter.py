"""The milter front end over the wire: a test MTA (milter_client) negotiates, sends macros,
connect, HELO, MAIL, RCPT, headers, body and end of message, and checks the replies and the
modification actions for each verdict, on the real engine and policy."""

from __future__ import annotations

import asyncio
import email
import email.policy
import struct
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
sys.path.insert(0, str(Path(__file__).parents[1] / "detectors"))

import messages
from milter_client import MilterClient, apply_actions
from test_detectors_documents_samples import docm

from mailward.config.settings import Settings
from mailward.frontends.milter import protocol as p
from mailward.frontends.milter.ids import is_milter_id
from mailward.frontends.milter.server import start_milter_server
from mailward.frontends.milter.verdicts import MilterVerdicts
from mailward.model import Envelope
from mailward.response.lockdown import Level
from mailward.response.release import release_held
from mailward.runtime.gateway import Gateway

SENDER = "bob@partner.example.net"


def settings_for(tmp_path: Path, **milter: Any) -> Settings:
    data: dict[str, Any] = {
        # the content model and lure detector off: the small test messages score by their
        # claims alone (as the SMTP e2e tests do)
        "engine": {"disabled": ["content", "lures"]},
        "data_dir": tmp_path / "data",
        "dns": {"enabled": False},
        "organisation": {"accepted_domains": ["example.com"]},
        "milter": {"listen": "inet:127.0.0.1:0", "reinject": "127.0.0.1:10026", **milter},
    }
    return Settings.model_validate(data)


Run = Callable[[Callable[[MilterClient, Gateway], Awaitable[None]]], None]


def runner(settings: Settings, engine: Any = None) -> Run:
    """Runs ``body(client, gateway)`` against a milter listener on the settings' gateway."""

    def run(body: Callable[[MilterClient, Gateway], Awaitable[None]]) -> None:
        async def main() -> None:
            gw = Gateway.build(settings, history=False, offline=True)
            verdicts = MilterVerdicts(settings, engine or gw.engine, gw.processor)
            server = await start_milter_server(verdicts, settings)
            port = server.sockets[0].getsockname()[1]
            client = await MilterClient.connect("127.0.0.1", port)
            try:
                await client.negotiate()
                await client.macros(p.CONNECT, j="mx.example.com", client_addr="192.0.2.7",
                                    client_name="mail.partner.example.net")
                assert (await client.connect_info("mail.partner.example.net", "192.0.2.7")).code \
                    == p.CONTINUE
                assert (await client.command(p.HELO, b"mail.partner.example.net\0")).code \
                    == p.CONTINUE
                await body(client, gw)
            finally:
                await client.close()
                server.close()
                await server.wait_closed()
                await gw.aclose()

        asyncio.run(main())

    return run


def as_bytes(msg: Any) -> bytes:
    return bytes(msg.as_bytes(policy=email.policy.SMTP))


def headers_of(raw: bytes) -> list[tuple[str, str]]:
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    return [(k, str(v)) for k, v in parsed.items()]


def test_negotiation_asks_for_actions_leading_space_and_the_macros_it_reads(tmp_path) -> None:
    async def body(client: MilterClient, gw: Gateway) -> None:
        version, actions, steps = client.options
        assert version == 6
        assert actions & (p.F_ADDHDRS | p.F_CHGHDRS | p.F_CHGBODY | p.F_QUARANTINE)
        assert steps == p.P_NR_HDR | p.P_HDR_LEADSPC
        assert "{client_addr}" in client.symlists[p.STAGE_CONNECT]
        assert "{auth_authen}" in client.symlists[p.STAGE_MAIL]
        assert client.symlists[p.STAGE_EOM] == "i"

    runner(settings_for(tmp_path))(body)


def test_clean_mail_continues_with_verdict_headers_and_forged_ones_removed(tmp_path) -> None:
    msg = messages.clean(1)
    msg["Authentication-Results"] = "mailward.local; dkim=pass header.d=example.com"
    msg["X-Spam-Status"] = "No, score=-100"
    msg["X-Mailward-Verdict"] = "deliver; score=0"
    raw = as_bytes(msg)

    async def body(client: MilterClient, gw: Gateway) -> None:
        reply = await client.message(raw, SENDER, ["alice@example.com"], auth="carol")
        assert reply.code == p.CONTINUE
        out = headers_of(apply_actions(raw, reply.actions))
        names = [n for n, _ in out]
        assert names[:2] == ["X-Mailward-Verdict", "Authentication-Results"]
        assert out[0][1].startswith("deliver")
        assert "X-Spam-Status" not in names
        assert names.count("Authentication-Results") == 1  # the forged one is gone
        assert names.count("X-Mailward-Verdict") == 1
        assert ("Subject", "Project notes 1") in out
        assert not [a for a in reply.actions if a.command == p.REPLBODY]
        [rec] = gw.store.recent_messages()
        assert rec.id.endswith("-pf-4f2a31c0d2") and rec.action == "deliver"

    runner(settings_for(tmp_path))(body)


def test_macros_become_the_envelope_and_the_queue_id_is_in_the_message_log(tmp_path) -> None:
    settings = settings_for(tmp_path)
    seen: list[tuple[Envelope, str]] = []

    class Spy:
        def __init__(self, engine: Any) -> None:
            self.engine = engine
            self.clients = engine.clients

        async def scan(self, raw: bytes, envelope: Envelope | None = None) -> Any:
            assert envelope is not None
            seen.append((envelope, raw.decode()))
            return await self.engine.scan(raw, envelope)

    async def body(client: MilterClient, gw: Gateway) -> None:
        reply = await client.message(as_bytes(messages.clean(2)), SENDER,
                                     ["alice@example.com", "dave@example.com"],
                                     queue_id="7C1D2E3F4A", auth="carol")
        assert reply.code == p.CONTINUE
        [(env, raw)] = seen
        assert env.peer_ip == "192.0.2.7"
        assert env.helo == "mail.partner.example.net"
        assert env.mail_from == SENDER
        assert env.rcpt_tos == ("alice@example.com", "dave@example.com")
        assert env.authenticated_as == "carol"
        assert "Subject: Project notes 2\r\n" in raw
        ids = [r for r in _message_ids(gw) if is_milter_id(r)]
        assert len(ids) == 1 and ids[0].endswith("-pf-7c1d2e3f4a")

    async def with_spy(client: MilterClient, gw: Gateway) -> None:
        await body(client, gw)

    def run() -> None:
        async def main() -> None:
            gw = Gateway.build(settings, history=False, offline=True)
            verdicts = MilterVerdicts(settings, Spy(gw.engine), gw.processor)  # type: ignore[arg-type]
            server = await start_milter_server(verdicts, settings)
            client = await MilterClient.connect("127.0.0.1", server.sockets[0].getsockname()[1])
            try:
                await client.negotiate()
                await client.macros(p.CONNECT, client_addr="192.0.2.7")
                await client.connect_info("mail.partner.example.net", "192.0.2.7")
                await client.command(p.HELO, b"mail.partner.example.net\0")
                await with_spy(client, gw)
                await client.close()
            finally:
                server.close()
                await server.wait_closed()
                await gw.aclose()

        asyncio.run(main())

    run()


def _message_ids(gw: Gateway) -> list[str]:
    return [r.id for r in gw.store.recent_messages()]


def test_tag_verdict_changes_the_subject_in_place(tmp_path) -> None:
    raw = as_bytes(messages.lookalike_link())

    async def body(client: MilterClient, gw: Gateway) -> None:
        reply = await client.message(raw, "ceo.office@mailer.example.org", ["bob@example.com"])
        assert reply.code == p.CONTINUE
        out = headers_of(apply_actions(raw, reply.actions))
        assert out[0][1].startswith("tag")
        assert ("Subject", "[SUSPICIOUS] Quick favour") in out
        assert [n for n, _ in out].count("Subject") == 1
        assert any(a.command == p.CHGHEADER for a in reply.actions)

    runner(settings_for(tmp_path))(body)


def test_reject_verdict_is_a_550_reply_code_with_the_reason(tmp_path) -> None:
    settings = settings_for(tmp_path).model_copy(update={"policy": Settings.model_validate(
        {"policy": {"force": [{"symbol": "ATT_EXECUTABLE", "action": "reject"}]}}).policy})
    raw = as_bytes(messages.executable())

    async def body(client: MilterClient, gw: Gateway) -> None:
        reply = await client.message(raw, "billing@supplier.example.net", ["carol@example.com"])
        assert reply.code == p.REPLYCODE
        assert reply.text.startswith("550 5.7.1 Message rejected as unsafe (ATT_EXECUTABLE")
        assert "-pf-4f2a31c0d2" in reply.text
        assert reply.actions == []

    runner(settings)(body)


def test_quarantine_keeps_the_original_in_mailward_and_discards(tmp_path) -> None:
    raw = as_bytes(messages.executable())

    async def body(client: MilterClient, gw: Gateway) -> None:
        reply = await client.message(raw, "billing@supplier.example.net", ["carol@example.com"])
        assert reply.code == p.DISCARD
        [entry] = gw.store.list_quarantine()
        assert is_milter_id(entry.id) and entry.recipients == {"carol@example.com": "held"}
        assert gw.store.quarantine_raw(entry.id) == raw

    runner(settings_for(tmp_path))(body)


def test_quarantine_to_postfix_hold_queue_when_configured(tmp_path) -> None:
    raw = as_bytes(messages.executable())

    async def body(client: MilterClient, gw: Gateway) -> None:
        reply = await client.message(raw, "billing@supplier.example.net", ["carol@example.com"])
        assert reply.code == p.CONTINUE
        [q] = [a for a in reply.actions if a.command == p.QUARANTINE]
        assert b"-pf-4f2a31c0d2" in q.data
        out = headers_of(apply_actions(raw, reply.actions))
        assert out[0][0] == "X-Mailward-Verdict" and out[0][1].startswith("quarantine")
        assert gw.store.list_quarantine() == []

    runner(settings_for(tmp_path, hold="postfix"))(body)


MACRO = 'Sub Hello()\n    MsgBox "hi"\nEnd Sub\n'


def disarm_message_bytes() -> bytes:
    msg = messages.clean(3)
    msg.replace_header("Subject", "Quarterly report")
    msg.add_attachment(docm(MACRO), maintype="application",
                       subtype="vnd.ms-word.document.macroEnabled.12", filename="report.docm")
    return as_bytes(msg)


def test_disarm_replaces_the_body_and_keeps_the_original(tmp_path) -> None:
    raw = disarm_message_bytes()

    async def body(client: MilterClient, gw: Gateway) -> None:
        reply = await client.message(raw, SENDER, ["alice@example.com"])
        assert reply.code == p.CONTINUE
        assert any(a.command == p.REPLBODY for a in reply.actions)
        out = apply_actions(raw, reply.actions)
        parsed = email.message_from_bytes(out, policy=email.policy.default)
        names = [part.get_filename() for part in parsed.walk() if part.get_filename()]
        assert "report.docm" not in names
        assert parsed["X-Mailward-Disarmed"]
        assert str(parsed["X-Mailward-Verdict"]).startswith("disarm")
        [entry] = gw.store.list_quarantine()
        assert gw.store.quarantine_raw(entry.id) == raw

    runner(settings_for(tmp_path))(body)


class SlowEngine:
    clients: dict[str, Any] = {}

    async def scan(self, raw: bytes, envelope: Envelope | None = None) -> Any:
        await asyncio.Event().wait()


class BrokenEngine:
    clients: dict[str, Any] = {}

    async def scan(self, raw: bytes, envelope: Envelope | None = None) -> Any:
        raise RuntimeError("scan process pool is gone")


@pytest.mark.parametrize("engine", [SlowEngine(), BrokenEngine()], ids=["timeout", "error"])
def test_a_scan_that_times_out_or_fails_is_a_tempfail(tmp_path, engine) -> None:
    settings = settings_for(tmp_path, scan_timeout=0.5)

    async def body(client: MilterClient, gw: Gateway) -> None:
        reply = await client.message(as_bytes(messages.clean(4)), SENDER, ["alice@example.com"])
        assert reply.code == p.REPLYCODE
        assert reply.text.startswith("451 4.7.1 ")
        assert reply.actions == []

    runner(settings, engine)(body)


def test_lockdown_hold_waits_in_the_spool_and_release_reinjects(tmp_path) -> None:
    raw = as_bytes(messages.clean(5))
    relayed: list[tuple[Any, str, list[str], bytes]] = []

    async def fake_relay(where: Any, mail_from: str, rcpts: list[str], data: bytes,
                         **_: Any) -> Any:
        from mailward.delivery.relay import RelayResult

        relayed.append((where, mail_from, list(rcpts), data))
        return RelayResult(accepted=tuple(rcpts), temp_failed={}, perm_failed={})

    async def body(client: MilterClient, gw: Gateway) -> None:
        gw.lockdown.set(Level.HOLD_ALL, actor="test", reason="upgrade", store=gw.store)
        gw.lockdown._cached = None
        reply = await client.message(raw, SENDER, ["alice@example.com"])
        assert reply.code == p.DISCARD
        [held] = gw.spool.held()
        assert is_milter_id(held) and gw.spool.load(held).flags["reinject"] is True
        gw.lockdown.set(Level.NORMAL, actor="test", reason="done", store=gw.store)
        gw.processor.relay = fake_relay
        report = await release_held(gw.spool, gw.processor, gw.settings.lockdown)
        assert report.delivered == 1
        [(where, mail_from, rcpts, data)] = relayed
        assert (where.host, where.port) == ("127.0.0.1", 10026)
        assert (mail_from, rcpts) == (SENDER, ["alice@example.com"])
        assert b"X-Mailward-Verdict: deliver" in data
        assert gw.spool.ids() == []

    runner(settings_for(tmp_path))(body)


def test_abort_forgets_the_message_and_the_next_one_on_the_connection_is_judged(tmp_path) -> None:
    async def body(client: MilterClient, gw: Gateway) -> None:
        await client.macros(p.MAIL, i="AAAA1")
        await client.command(p.MAIL, b"<evil@bad.example>\0")
        await client.command(p.RCPT, b"<carol@example.com>\0")
        await client.send(p.HEADER, b"Subject\0 half a message\0")
        await client.send(p.ABORT)  # no reply to abort
        reply = await client.message(as_bytes(messages.clean(6)), SENDER, ["alice@example.com"],
                                     queue_id="BBBB2")
        assert reply.code == p.CONTINUE
        out = headers_of(apply_actions(as_bytes(messages.clean(6)), reply.actions))
        assert ("Subject", "Project notes 6") in out
        ids = _message_ids(gw)
        assert len(ids) == 1 and ids[0].endswith("-pf-bbbb2")

    runner(settings_for(tmp_path))(body)


def test_protocol_garbage_closes_the_connection_and_unix_socket_has_its_mode(tmp_path) -> None:
    sock = tmp_path / "milter.sock"
    settings = settings_for(tmp_path, listen=f"unix:{sock}", socket_mode=0o660)

    async def main() -> None:
        gw = Gateway.build(settings, history=False, offline=True)
        server = await start_milter_server(MilterVerdicts(settings, gw.engine, gw.processor),
                                           settings)
        try:
            assert sock.stat().st_mode & 0o777 == 0o660
            client = await MilterClient.connect_unix(str(sock))
            client.writer.write(struct.pack("!I", 0xFFFFFFF) + b"O")
            assert await asyncio.wait_for(client.reader.read(), 10) == b""  # closed
            client.writer.close()
            client = await MilterClient.connect_unix(str(sock))
            await client.negotiate()
            await client.send(b"Z")
            assert await asyncio.wait_for(client.reader.read(), 10) == b""
            client.writer.close()
        finally:
            server.close()
            await server.wait_closed()
            await gw.aclose()

    asyncio.run(main())


def test_a_bare_cr_inside_a_header_is_not_cut_into_two_headers() -> None:
    from mailward.frontends.milter.edits import message_edits, parse_message

    raw = b"From: a@b.example\r\nX-Note: hi\rContent-Type: multipart/mixed; boundary=b\r\n\r\nx\r\n"
    headers, body = parse_message(raw)
    assert [h.name for h in headers] == [b"From", b"X-Note"]
    assert message_edits(headers, body, raw, prepended=0, leading_space=True) == []


def test_an_mta_without_leading_space_gets_values_without_it(tmp_path) -> None:
    """Sendmail-style negotiation (no SMFIP_HDR_LEADSPC, a reply to each header)."""
    settings = settings_for(tmp_path)
    raw = as_bytes(messages.lookalike_link())

    async def main() -> None:
        gw = Gateway.build(settings, history=False, offline=True)
        server = await start_milter_server(MilterVerdicts(settings, gw.engine, gw.processor),
                                           settings)
        client = await MilterClient.connect("127.0.0.1", server.sockets[0].getsockname()[1])
        try:
            await client.negotiate(steps=0)
            assert client.options[2] == 0
            await client.connect_info("mail.partner.example.net", "192.0.2.7")
            await client.macros(p.MAIL, i="C0FFEE1")
            await client.command(p.MAIL, b"<ceo.office@mailer.example.org>\0")
            await client.command(p.RCPT, b"<bob@example.com>\0")
            head, _, body = raw.partition(b"\r\n\r\n")
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                reply = await client.command(p.HEADER, name + b"\0" + value.lstrip() + b"\0")
                assert reply.code == p.CONTINUE  # a reply to each header
            await client.command(p.EOH)
            await client.command(p.BODY, body)
            reply = await client.command(p.BODYEOB)
            assert reply.code == p.CONTINUE
            for action in reply.actions:
                if action.command in (p.INSHEADER, p.CHGHEADER):
                    value = p.cstrings(action.data[4:])[1:2]
                    assert not value or not value[0].startswith(b" "), action
            [subject] = [a for a in reply.actions if a.command == p.CHGHEADER
                         and a.data[4:].startswith(b"Subject\0")]
            assert subject.data.endswith(b"\0[SUSPICIOUS] Quick favour\0")
        finally:
            await client.close()
            server.close()
            await server.wait_closed()
            await gw.aclose()

    asyncio.run(main())


def test_a_message_over_the_size_limit_gets_552(tmp_path) -> None:
    settings = settings_for(tmp_path).model_copy(
        update={"smtp": Settings.model_validate({"smtp": {"max_message_size": 2000}}).smtp})
    msg = messages.clean(8)
    msg.set_content("x" * 5000 + "\n")

    async def body(client: MilterClient, gw: Gateway) -> None:
        reply = await client.message(as_bytes(msg), SENDER, ["alice@example.com"])
        assert reply.code == p.REPLYCODE and reply.text.startswith("552 5.3.4")
        assert gw.store.recent_messages() == []

    runner(settings)(body)
