"""Relay client against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from mailward.config.settings import RelaySettings
from mailward.delivery.relay import (
    NO_RELAY_HOST,
    RelayResult,
    normalise_line_endings,
    relay_message,
)

RAW = b"From: a@example.org\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"
BARE = re.compile(rb"\r(?!\n)|(?<!\r)\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Recorder:
    """aiosmtpd handler that records envelopes and answers scripted replies."""

    def __init__(
        self, rcpt: dict[str, str] | None = None, mail: str | None = None, data: str | None = None
    ) -> None:
        self.rcpt = rcpt or {}
        self.mail = mail
        self.data = data
        self.envelopes: list[Any] = []
        self.authenticated: list[bool] = []

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.mail:
            return self.mail
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.rcpt:
            return self.rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data:
            return self.data
        self.envelopes.append(envelope)
        self.authenticated.append(bool(session.authenticated))
        return "250 Message accepted"


class Server:
    def __init__(self, handler: Recorder, **smtp_kwargs: Any) -> None:
        self.handler = handler
        self.port = _free_port()
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port, **smtp_kwargs)

    def settings(self, **kwargs: Any) -> RelaySettings:
        return RelaySettings(host="127.0.0.1", port=self.port, timeout=5, **kwargs)


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[Server] = []

    def start(handler: Recorder, **smtp_kwargs: Any) -> Server:
        server = Server(handler, **smtp_kwargs)
        server.controller.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.controller.stop()


def _relay(settings: RelaySettings, recipients: list[str], raw: bytes = RAW) -> RelayResult:
    return asyncio.run(
        relay_message(settings, "a@example.org", recipients, raw, helo="mailward.test")
    )


def test_all_recipients_accepted(serve: Any) -> None:
    server = serve(Recorder())
    result = _relay(server.settings(), ["b@example.com", "c@example.com"])
    assert result == RelayResult(("b@example.com", "c@example.com"), {}, {})
    (envelope,) = server.handler.envelopes
    assert envelope.mail_from == "a@example.org"
    assert envelope.rcpt_tos == ["b@example.com", "c@example.com"]
    assert envelope.original_content == RAW


def test_partial_acceptance_550_and_451(serve: Any) -> None:
    server = serve(
        Recorder(
            rcpt={
                "gone@example.com": "550 5.1.1 no such user",
                "busy@example.com": "451 4.2.1 try later",
            }
        )
    )
    result = _relay(server.settings(), ["b@example.com", "gone@example.com", "busy@example.com"])
    assert result.accepted == ("b@example.com",)
    assert set(result.perm_failed) == {"gone@example.com"}
    assert "550 5.1.1 no such user" in result.perm_failed["gone@example.com"]
    assert f"127.0.0.1:{server.port}" in result.perm_failed["gone@example.com"]
    assert set(result.temp_failed) == {"busy@example.com"}
    assert "451" in result.temp_failed["busy@example.com"]
    (envelope,) = server.handler.envelopes
    assert envelope.rcpt_tos == ["b@example.com"]


def test_every_recipient_refused_sends_no_data(serve: Any) -> None:
    server = serve(Recorder(rcpt={"b@example.com": "550 nope", "c@example.com": "452 full"}))
    result = _relay(server.settings(), ["b@example.com", "c@example.com"])
    assert result.accepted == ()
    assert set(result.perm_failed) == {"b@example.com"}
    assert set(result.temp_failed) == {"c@example.com"}
    assert server.handler.envelopes == []


def test_mail_from_550_fails_everyone_permanently(serve: Any) -> None:
    server = serve(Recorder(mail="550 5.7.1 sender blocked"))
    result = _relay(server.settings(), ["b@example.com", "c@example.com"])
    assert result.accepted == ()
    assert result.temp_failed == {}
    assert set(result.perm_failed) == {"b@example.com", "c@example.com"}
    assert "sender blocked" in result.perm_failed["b@example.com"]


def test_mail_from_421_fails_everyone_temporarily(serve: Any) -> None:
    server = serve(Recorder(mail="451 4.3.0 later"))
    result = _relay(server.settings(), ["b@example.com"])
    assert result.perm_failed == {}
    assert set(result.temp_failed) == {"b@example.com"}


@pytest.mark.parametrize(
    ("reply", "permanent"), [("554 5.6.0 content rejected", True), ("451 4.3.0 later", False)]
)
def test_data_reply_classifies_accepted_recipients(serve: Any, reply: str, permanent: bool) -> None:
    server = serve(Recorder(rcpt={"gone@example.com": "550 no such user"}, data=reply))
    result = _relay(server.settings(), ["b@example.com", "gone@example.com"])
    assert result.accepted == ()
    assert "no such user" in result.perm_failed["gone@example.com"]
    bucket = result.perm_failed if permanent else result.temp_failed
    assert reply in bucket["b@example.com"]


def test_closed_port_is_temp_failed_for_all() -> None:
    port = _free_port()
    settings = RelaySettings(host="127.0.0.1", port=port, timeout=5)
    result = _relay(settings, ["b@example.com", "c@example.com"])
    assert result.accepted == ()
    assert result.perm_failed == {}
    assert set(result.temp_failed) == {"b@example.com", "c@example.com"}
    assert f"127.0.0.1:{port}" in result.temp_failed["b@example.com"]


def test_silent_server_times_out_as_temp_failure() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(listener.getsockname()[1])
        settings = RelaySettings(host="127.0.0.1", port=port, timeout=0.3)
        result = _relay(settings, ["b@example.com"])
    assert set(result.temp_failed) == {"b@example.com"}
    assert result.accepted == ()


def test_no_relay_host_is_temp_failed() -> None:
    result = _relay(RelaySettings(), ["b@example.com", "c@example.com"])
    assert result.temp_failed == {"b@example.com": NO_RELAY_HOST, "c@example.com": NO_RELAY_HOST}
    assert result.accepted == ()


def test_starttls_required_but_not_offered_is_temp_and_sends_nothing(serve: Any) -> None:
    server = serve(Recorder())
    result = _relay(server.settings(security="starttls"), ["b@example.com"])
    assert set(result.temp_failed) == {"b@example.com"}
    assert server.handler.envelopes == []


def test_non_ascii_recipient_without_smtputf8_is_perm_failed(serve: Any) -> None:
    server = serve(Recorder(), enable_SMTPUTF8=False)
    result = _relay(server.settings(), ["jörg@example.com"])
    assert set(result.perm_failed) == {"jörg@example.com"}
    assert "SMTPUTF8" in result.perm_failed["jörg@example.com"]
    assert server.handler.envelopes == []


def test_non_ascii_recipient_with_smtputf8_is_relayed(serve: Any) -> None:
    server = serve(Recorder(), enable_SMTPUTF8=True)
    result = _relay(server.settings(), ["jörg@example.com"])
    assert result.accepted == ("jörg@example.com",)
    (envelope,) = server.handler.envelopes
    assert envelope.rcpt_tos == ["jörg@example.com"]
    assert "SMTPUTF8" in envelope.mail_options


def test_bare_lf_and_cr_arrive_as_crlf(serve: Any) -> None:
    server = serve(Recorder())
    raw = b"From: a@example.org\nSubject: bare\r\n\nline one\rline two\n.dot line\nlast"
    result = _relay(server.settings(), ["b@example.com"], raw)
    assert result.accepted == ("b@example.com",)
    (envelope,) = server.handler.envelopes
    assert BARE.search(envelope.original_content) is None
    assert envelope.original_content == (
        b"From: a@example.org\r\nSubject: bare\r\n\r\nline one\r\nline two\r\n.dot line\r\nlast\r\n"
    )


def test_crlf_message_arrives_unchanged(serve: Any) -> None:
    server = serve(Recorder())
    raw = b"Subject: x\r\n\r\n\xc3\xa4 8bit body\r\n"
    _relay(server.settings(), ["b@example.com"], raw)
    (envelope,) = server.handler.envelopes
    assert envelope.original_content == raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"a\nb", b"a\r\nb"),
        (b"a\rb", b"a\r\nb"),
        (b"a\r\nb", b"a\r\nb"),
        (b"a\r\r\nb\n\n", b"a\r\n\r\nb\r\n\r\n"),
        (b"\n\r", b"\r\n\r\n"),
        (b"no line end", b"no line end"),
    ],
)
def test_normalise_line_endings(raw: bytes, expected: bytes) -> None:
    assert normalise_line_endings(raw) == expected


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"relayuser",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535


def _auth_server(serve: Any) -> Server:
    server: Server = serve(
        Recorder(),
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    return server


def test_login_with_right_password_relays(serve: Any) -> None:
    server = _auth_server(serve)
    result = _relay(server.settings(username="relayuser", password="s3cret"), ["b@example.com"])
    assert result.accepted == ("b@example.com",)
    assert server.handler.authenticated == [True]


def test_no_username_means_no_login(serve: Any) -> None:
    server = _auth_server(serve)
    result = _relay(server.settings(), ["b@example.com"])
    assert result.accepted == ("b@example.com",)
    assert server.handler.authenticated == [False]


def test_login_refused_is_temp_not_bounce(serve: Any) -> None:
    server = _auth_server(serve)
    result = _relay(server.settings(username="relayuser", password="wrong"), ["b@example.com"])
    assert result.perm_failed == {}
    assert set(result.temp_failed) == {"b@example.com"}
    assert "535" in result.temp_failed["b@example.com"]
    assert server.handler.envelopes == []


class QuitWatcher(Recorder):
    """Records, at the next hop's QUIT, what ``look`` returns (the sender's durable state)."""

    def __init__(self, look: Any) -> None:
        super().__init__(rcpt={"c@example.com": "550 no such user"})
        self.look = look
        self.at_quit: list[Any] = []

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.at_quit.append(self.look())
        return "221 Bye"


def test_on_accepted_runs_after_data_and_before_quit(serve: Any) -> None:
    told: list[tuple[str, ...]] = []
    server = serve(QuitWatcher(lambda: list(told)))

    async def on_accepted(accepted: tuple[str, ...]) -> None:
        told.append(accepted)

    result = asyncio.run(relay_message(
        server.settings(), "a@example.org", ["b@example.com", "c@example.com"], RAW,
        helo="mailward.test", on_accepted=on_accepted,
    ))
    assert result.accepted == ("b@example.com",)
    assert told == [("b@example.com",)]
    assert server.handler.at_quit == [[("b@example.com",)]]  # told before the QUIT


def test_on_accepted_is_not_called_when_data_is_refused(serve: Any) -> None:
    told: list[tuple[str, ...]] = []
    server = serve(Recorder(data="554 no thanks"))

    async def on_accepted(accepted: tuple[str, ...]) -> None:
        told.append(accepted)

    asyncio.run(relay_message(server.settings(), "a@example.org", ["b@example.com"], RAW,
                              helo="mailward.test", on_accepted=on_accepted))
    assert told == []


def test_processor_marks_relayed_recipients_done_on_disk_before_quit(
    serve: Any, tmp_path: Any
) -> None:
    # The duplicate window of a crash: from the next hop's 250 to the durable done mark. The
    # mark is on disk when the next hop sees QUIT, so a kill after the 250 re-delivers nothing
    # once QUIT is on its way (issue #16's chaos run: 36 duplicates of 2,000).
    from mailward.config.settings import DeliverySettings, EngineSettings, Settings
    from mailward.engine.pipeline import Engine
    from mailward.model import Envelope
    from mailward.spool.processor import Outcome, Processor
    from mailward.spool.queue import Spool
    from mailward.store import open_store

    spool_box: list[Spool] = []
    ids: list[str] = []
    watcher = QuitWatcher(lambda: dict(spool_box[0].state(ids[0]).done))
    watcher.rcpt = {}
    server = serve(watcher)
    settings = Settings(
        data_dir=tmp_path, engine=EngineSettings(disabled=("content",)),
        delivery=DeliverySettings(relay=server.settings()),
    )
    store = open_store(f"sqlite:///{tmp_path}/db.sqlite")
    try:
        spool = Spool(settings.spool_dir)
        spool_box.append(spool)
        env = Envelope(mail_from="a@example.org", rcpt_tos=("b@remote.example.net",))
        ids.append(spool.put(env, RAW))
        outcome = asyncio.run(Processor(settings, Engine(settings), spool, store).process(ids[0]))
        assert outcome == Outcome(ids[0], True, "deliver")
        assert server.handler.at_quit == [{"b@remote.example.net": "relayed"}]
    finally:
        store.close()
