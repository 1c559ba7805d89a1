"""Processor: scan, deliver to Maildir or relay, quarantine, retry, bounce; repeat nothing."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailward.config.settings import DeliverySettings, EngineSettings, RelaySettings, Settings
from mailward.delivery.maildir import iter_messages
from mailward.delivery.relay import RelayResult
from mailward.engine.pipeline import Engine
from mailward.model import Action, Envelope, Verdict
from mailward.response.journal import Journal
from mailward.spool.processor import Outcome, Processor, verdict_from_state, verdict_to_state
from mailward.spool.queue import Spool, SpoolState
from mailward.store import Store, open_store
from mailward.store.history import MemorySenderHistory, SqlSenderHistory

T0 = 1_717_000_000.0
SENDER = "bob@partner.example.net"
LOCAL = "alice@example.com"
REMOTE = "dave@elsewhere.example.org"


def clean_raw(n: int = 0) -> bytes:
    return (
        f"From: Bob <{SENDER}>\r\nTo: {LOCAL}\r\nSubject: Notes {n}\r\n"
        f"Message-ID: <notes-{n}@partner.example.net>\r\n\r\nHello Alice,\r\nsee you.\r\n"
    ).encode()


def pe_bytes() -> bytes:
    """A minimal Windows program header, built at test time (never committed)."""
    return b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00\x4c\x01" + b"\0" * 200


def executable_raw() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Billing <billing@supplier.example.net>"
    msg["To"] = LOCAL
    msg["Subject"] = "Invoice"
    msg["Message-ID"] = "<exe@supplier.example.net>"
    msg.set_content("Invoice attached.")
    msg.add_attachment(pe_bytes(), maintype="application", subtype="pdf", filename="invoice.pdf")
    msg.set_boundary("exe-boundary")  # the same bytes on every call
    return msg.as_bytes(policy=email.policy.SMTP)


def envelope(*rcpts: str, mail_from: str = SENDER, received_at: float = T0) -> Envelope:
    return Envelope(mail_from=mail_from, rcpt_tos=rcpts or (LOCAL,), received_at=received_at)


@dataclass
class RelayCall:
    mail_from: str
    recipients: tuple[str, ...]
    raw: bytes
    helo: str


@dataclass
class FakeRelay:
    """Stands in for relay_message: records calls, answers with ``temp``/``perm`` or accepts."""

    temp: dict[str, str] = field(default_factory=dict)
    perm: dict[str, str] = field(default_factory=dict)
    calls: list[RelayCall] = field(default_factory=list)

    async def __call__(
        self, settings: RelaySettings, mail_from: str, recipients: Sequence[str], raw: bytes,
        *, helo: str, on_accepted: Any = None,
    ) -> RelayResult:
        self.calls.append(RelayCall(mail_from, tuple(recipients), raw, helo))
        accepted = tuple(r for r in recipients if r not in self.temp and r not in self.perm)
        return RelayResult(
            accepted,
            {r: v for r, v in self.temp.items() if r in recipients},
            {r: v for r, v in self.perm.items() if r in recipients},
        )


@dataclass
class Rig:
    settings: Settings
    spool: Spool
    store: Store
    relay: FakeRelay
    processor: Processor

    def process(self, entry_id: str, now: float = T0 + 10) -> Outcome | None:
        return asyncio.run(self.processor.process(entry_id, now=now))

    def maildir(self, rcpt: str = LOCAL) -> list[Path]:
        return list(iter_messages(self.settings.maildir_root, rcpt))


@pytest.fixture
def make_rig(tmp_path: Path) -> Iterator[Any]:
    stores: list[Store] = []

    def make(**delivery: Any) -> Rig:
        settings = Settings(
            data_dir=tmp_path / f"data{len(stores)}",
            # these tests are about delivery; the statistical model has tests of its own
            engine=EngineSettings(disabled=("content",)),
            delivery=DeliverySettings(retry_initial=30.0, expire_after=3600.0, **delivery),
        )
        settings.data_dir.mkdir()
        store = open_store(f"sqlite:///{settings.data_dir}/db.sqlite")
        stores.append(store)
        spool = Spool(settings.spool_dir)
        relay = FakeRelay()
        processor = Processor(settings, Engine(settings), spool, store, relay=relay)
        return Rig(settings, spool, store, relay, processor)

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def rig(make_rig: Any) -> Rig:
    result: Rig = make_rig()
    return result


def tag_state(prefix: str = "[FROM-STATE]") -> SpoolState:
    verdict = Verdict(Action.TAG, 6.0, "stored", add_headers=(("X-Mailward-Verdict", "tag"),),
                      subject_prefix=prefix)
    return SpoolState(verdict=verdict_to_state(verdict))


# --- clean mail to a local recipient ------------------------------------------------------


def test_clean_local_message_goes_to_maildir_with_verdict_header(rig: Rig) -> None:
    entry_id = rig.spool.put(envelope(), clean_raw())
    outcome = rig.process(entry_id)
    assert outcome == Outcome(entry_id, True, "deliver")
    [path] = rig.maildir()
    delivered = path.read_bytes()
    assert delivered.startswith(b"Received: from ")
    verdict = delivered.split(b"X-Mailward-Verdict: ", 1)[1].split(b"\r\n", 1)[0]
    assert verdict.startswith(b"deliver; score=") and float(verdict.split(b"=")[1].split(b";")[0]) <= 0
    assert delivered.endswith(b"\r\n\r\nHello Alice,\r\nsee you.\r\n")
    assert rig.spool.ids() == []
    assert not (rig.spool.states / f"{entry_id}.json").exists()
    record = rig.store.get_message(entry_id)
    assert record is not None and record.action == "deliver"
    assert rig.relay.calls == []


def test_locked_entry_is_left_to_its_holder(rig: Rig) -> None:
    entry_id = rig.spool.put(envelope(), clean_raw())
    with Spool(rig.spool.root).locked(entry_id) as mine:
        assert mine
        assert rig.process(entry_id) is None
    assert rig.maildir() == []
    assert rig.spool.ids() == [entry_id]


# --- a crash between delivery and finish --------------------------------------------------



def test_a_message_just_accepted_is_delivered_from_memory_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt takes the bytes put kept (no read of the file just written); an entry
    not kept in memory (taken already, or after a restart) is read from the spool."""
    loads: list[str] = []
    load = rig.spool.load
    monkeypatch.setattr(rig.spool, "load", lambda i: loads.append(i) or load(i))
    fresh = rig.spool.put(envelope(), clean_raw(1))
    rig.spool.save_state(fresh, tag_state())
    read = rig.spool.put(envelope(), clean_raw(2))
    assert rig.spool.take_fresh(read) is not None
    assert rig.process(fresh) == Outcome(fresh, True, "tag")
    assert rig.process(read) == Outcome(read, True, "deliver")
    assert loads == [read]
    first, second = sorted(rig.maildir(), key=lambda p: b"Notes 2" in p.read_bytes())
    assert b"[FROM-STATE]" in first.read_bytes()  # the state on disk was read with it
    assert b"Notes 2" in second.read_bytes()
    assert rig.spool.ids() == []

def test_reprocessing_after_a_crash_delivers_once(rig: Rig) -> None:
    entry_id = rig.spool.put(envelope(), clean_raw())
    state = SpoolState(verdict=verdict_to_state(Verdict(Action.DELIVER, 0.0, "ok")))
    rig.spool.save_state(entry_id, state)
    assert rig.process(entry_id) == Outcome(entry_id, True, "deliver")
    # The crash: the entry and its state (verdict, no 'done') are back as before finish.
    assert rig.spool.put(envelope(), clean_raw(), entry_id=entry_id, state=state) == entry_id
    assert rig.process(entry_id) == Outcome(entry_id, True, "deliver")
    assert len(rig.maildir()) == 1
    assert rig.spool.ids() == []


def test_same_bytes_under_another_id_are_another_delivery(rig: Rig) -> None:
    rig.process(rig.spool.put(envelope(), clean_raw(), entry_id="a0000000000000"))
    rig.process(rig.spool.put(envelope(), clean_raw(), entry_id="b0000000000000"))
    assert len(rig.maildir()) == 2


# --- quarantine ---------------------------------------------------------------------------


def test_executable_is_quarantined_once_and_finished(rig: Rig) -> None:
    entry_id = rig.spool.put(envelope(), executable_raw())
    assert rig.process(entry_id) == Outcome(entry_id, True, "quarantine")
    assert rig.spool.ids() == []
    assert rig.maildir() == []
    [held] = rig.store.list_quarantine()
    assert held.id == entry_id
    assert held.recipients == {LOCAL: "held"}
    assert "ATT_EXECUTABLE" in {f.symbol for f in held.findings}
    assert rig.store.quarantine_raw(entry_id) == executable_raw()
    # Processed again under the same id (a crash before finish): no second entry.
    rig.spool.put(envelope(), executable_raw(), entry_id=entry_id)
    assert rig.process(entry_id) == Outcome(entry_id, True, "quarantine")
    assert [e.id for e in rig.store.list_quarantine(status=None)] == [entry_id]
    assert rig.spool.ids() == []


def test_clean_message_is_not_quarantined(rig: Rig) -> None:
    rig.process(rig.spool.put(envelope(), clean_raw()))
    assert rig.store.list_quarantine(status=None) == []


# --- relay --------------------------------------------------------------------------------


def test_remote_recipient_is_relayed_with_crlf_bytes(make_rig: Any) -> None:
    rig: Rig = make_rig(inbound="relay")
    entry_id = rig.spool.put(envelope(LOCAL), clean_raw())
    assert rig.process(entry_id) == Outcome(entry_id, True, "deliver")
    [call] = rig.relay.calls
    assert call.mail_from == SENDER
    assert call.recipients == (LOCAL,)
    assert call.helo == rig.settings.smtp.hostname
    assert b"X-Mailward-Verdict: deliver" in call.raw
    assert b"\n" not in call.raw.replace(b"\r\n", b"")
    assert b"\r" not in call.raw.replace(b"\r\n", b"")
    assert call.raw.endswith(b"see you.\r\n")
    assert rig.maildir() == []
    assert rig.spool.ids() == []


def test_with_maildir_inbound_only_outside_domains_are_relayed(rig: Rig) -> None:
    entry_id = rig.spool.put(envelope(LOCAL, REMOTE), clean_raw())
    rig.process(entry_id)
    assert [c.recipients for c in rig.relay.calls] == [(REMOTE,)]
    assert len(rig.maildir(LOCAL)) == 1


def test_temporary_failure_keeps_the_entry_and_schedules_a_retry(make_rig: Any) -> None:
    rig: Rig = make_rig(inbound="relay")
    rig.relay.temp = {LOCAL: "relay said 451 try later"}
    entry_id = rig.spool.put(envelope(), clean_raw())
    now = T0 + 10
    assert rig.process(entry_id, now) == Outcome(entry_id, False, "deferred")
    state = rig.spool.state(entry_id)
    assert rig.spool.ids() == [entry_id]
    assert state.attempts == 1
    assert state.next_attempt == now + 30.0
    assert state.last_errors == {LOCAL: "relay said 451 try later"}
    assert state.verdict is not None and state.done == {}
    assert rig.spool.due(now + 29) == []
    assert rig.spool.due(now + 30) == [entry_id]
    assert rig.process(entry_id, now + 30) == Outcome(entry_id, False, "deferred")
    assert rig.spool.state(entry_id).attempts == 2
    assert rig.spool.state(entry_id).next_attempt == now + 30 + 60.0
    assert len(rig.spool.ids()) == 1  # no bounce before expiry


def test_retry_after_a_temporary_failure_delivers_and_finishes(make_rig: Any) -> None:
    rig: Rig = make_rig(inbound="relay")
    rig.relay.temp = {LOCAL: "451"}
    entry_id = rig.spool.put(envelope(), clean_raw())
    rig.process(entry_id)
    rig.relay.temp = {}
    assert rig.process(entry_id, T0 + 100) == Outcome(entry_id, True, "deliver")
    assert rig.spool.ids() == []
    assert len(rig.relay.calls) == 2


# --- bounces ------------------------------------------------------------------------------


def test_permanent_failure_bounces_to_the_sender_with_null_sender(make_rig: Any) -> None:
    rig: Rig = make_rig(inbound="relay")
    rig.relay.perm = {LOCAL: "relay said 550 no such user"}
    entry_id = rig.spool.put(envelope(), clean_raw())
    assert rig.process(entry_id) == Outcome(entry_id, True, "deliver")
    [bounce_id] = rig.spool.ids()
    assert bounce_id != entry_id
    bounce = rig.spool.load(bounce_id)
    assert bounce.envelope.mail_from == ""
    assert bounce.envelope.rcpt_tos == (SENDER,)
    assert bounce.flags["bounce"] is True and bounce.flags["skip_scan"] is True
    dsn = email.message_from_bytes(bounce.raw)
    assert dsn.get_content_type() == "multipart/report"
    assert b"550 no such user" in bounce.raw
    # The bounce itself goes out through the relay from <> to the original sender.
    rig.relay.perm = {}
    assert rig.process(bounce_id) == Outcome(bounce_id, True, "deliver")
    assert (rig.relay.calls[-1].mail_from, rig.relay.calls[-1].recipients) == ("", (SENDER,))
    assert rig.spool.ids() == []


def test_expired_temporary_failure_bounces(make_rig: Any) -> None:
    rig: Rig = make_rig(inbound="relay")
    rig.relay.temp = {LOCAL: "relay said 451 later"}
    entry_id = rig.spool.put(envelope(), clean_raw())
    assert rig.process(entry_id, T0 + 3600 + 1) == Outcome(entry_id, True, "deliver")
    [bounce_id] = rig.spool.ids()
    bounce = rig.spool.load(bounce_id)
    assert bounce.envelope.rcpt_tos == (SENDER,)
    assert b"expired" in bounce.raw


def test_temporary_failure_before_expiry_does_not_bounce(make_rig: Any) -> None:
    rig: Rig = make_rig(inbound="relay")
    rig.relay.temp = {LOCAL: "relay said 451 later"}
    entry_id = rig.spool.put(envelope(), clean_raw())
    assert rig.process(entry_id, T0 + 3600 - 1) == Outcome(entry_id, False, "deferred")
    assert rig.spool.ids() == [entry_id]


def test_null_sender_is_never_bounced(make_rig: Any) -> None:
    rig: Rig = make_rig(inbound="relay")
    rig.relay.perm = {LOCAL: "550 no"}
    entry_id = rig.spool.put(envelope(mail_from=""), clean_raw())
    assert rig.process(entry_id) == Outcome(entry_id, True, "deliver")
    assert rig.spool.ids() == []


def test_a_bounce_is_never_bounced(make_rig: Any) -> None:
    rig: Rig = make_rig(inbound="relay")
    rig.relay.perm = {SENDER: "550 no"}
    entry_id = rig.spool.put(
        Envelope(mail_from="postmaster@example.com", rcpt_tos=(SENDER,), received_at=T0),
        clean_raw(), flags={"bounce": True, "skip_scan": True},
    )
    assert rig.process(entry_id) == Outcome(entry_id, True, "deliver")
    assert rig.spool.ids() == []


# --- inbound verdict headers ---------------------------------------------------------------

FORGED = (
    b"Authentication-Results: mx.inside.example.net; spf=pass smtp.mailfrom=bob@example.net\r\n"
    b"Authentication-Results: mailward.local; dmarc=pass\r\n"
    b"X-Spam-Status: No, score=-10\r\nX-Virus-Scanned: clean\r\nReceived-SPF: pass\r\n"
    b"X-Quarantine-ID: <r1>\r\nX-Mailward-Verdict: deliver; score=-99.00\r\n"
)


def test_inbound_verdict_headers_are_removed_from_every_delivered_copy(rig: Rig) -> None:
    scanned = rig.spool.put(envelope(LOCAL, REMOTE), FORGED + clean_raw())
    released = rig.spool.put(envelope("carol@example.com"), FORGED + clean_raw(1),
                             flags={"skip_scan": True, "why": "released"})
    for entry_id in (scanned, released):
        outcome = rig.process(entry_id)
        assert outcome is not None and outcome.finished
    copies = [p.read_bytes() for p in (*rig.maildir(), *rig.maildir("carol@example.com"))]
    copies.append(rig.relay.calls[0].raw)
    for copy in copies:
        head = copy.partition(b"\r\n\r\n")[0]
        for forged in (b"X-Spam", b"X-Virus", b"Received-SPF", b"X-Quarantine", b"inside",
                       b"dmarc=pass", b"score=-99"):
            assert forged not in head, (forged, head)
        assert copy.endswith(b"\r\n\r\nHello Alice,\r\nsee you.\r\n")
    assert b"X-Mailward-Verdict: deliver; score=" in copies[0]  # ours, written after


def test_authentication_results_of_a_trusted_upstream_are_kept(rig: Rig) -> None:
    auth = {"auth": {"trust_authentication_results_from": ["MX.Inside.example.net"]}}
    rig.processor.settings = rig.settings.model_copy(update={"detectors": auth})
    entry_id = rig.spool.put(envelope(), FORGED + clean_raw(), flags={"skip_scan": True})
    rig.process(entry_id)
    [path] = rig.maildir()
    delivered = path.read_bytes()
    assert b"Authentication-Results: mx.inside.example.net; spf=pass" in delivered
    assert b"mailward.local; dmarc=pass" not in delivered and b"X-Spam" not in delivered


# --- skip_scan and stored verdicts ---------------------------------------------------------


def test_skip_scan_delivers_without_scanning(rig: Rig) -> None:
    entry_id = rig.spool.put(envelope(), executable_raw(), flags={"skip_scan": True,
                                                                  "why": "released"})
    assert rig.process(entry_id) == Outcome(entry_id, True, "deliver")
    [path] = rig.maildir()
    assert path.read_bytes().endswith(executable_raw())
    assert rig.store.get_message(entry_id) is None  # no scan recorded
    assert rig.store.list_quarantine(status=None) == []


def test_without_skip_scan_the_same_message_is_scanned(rig: Rig) -> None:
    entry_id = rig.spool.put(envelope(), executable_raw(), flags={"why": "not skipped"})
    assert rig.process(entry_id) == Outcome(entry_id, True, "quarantine")
    assert rig.store.get_message(entry_id) is not None


def test_stored_verdict_is_honoured_without_a_rescan(rig: Rig) -> None:
    entry_id = rig.spool.put(envelope(), clean_raw(), state=tag_state("[FROM-STATE]"))
    assert rig.process(entry_id) == Outcome(entry_id, True, "tag")
    [path] = rig.maildir()
    assert b"\r\nSubject: [FROM-STATE] Notes 0\r\n" in path.read_bytes()
    assert b"X-Mailward-Verdict: tag\r\n" in path.read_bytes()
    assert rig.store.get_message(entry_id) is None  # the engine never ran


def test_without_a_stored_verdict_the_scan_decides(rig: Rig) -> None:
    entry_id = rig.spool.put(envelope(), clean_raw())
    assert rig.process(entry_id) == Outcome(entry_id, True, "deliver")
    [path] = rig.maildir()
    assert b"\r\nSubject: Notes 0\r\n" in path.read_bytes()
    assert b"[FROM-STATE]" not in path.read_bytes()


def test_verdict_state_round_trip() -> None:
    verdict = Verdict(Action.TAG, 6.5, "why", add_headers=(("X-A", "1"),), subject_prefix="[S]")
    back = verdict_from_state(verdict_to_state(verdict))
    assert (back.action, back.score, back.reason) == (Action.TAG, 6.5, "why")
    assert (back.add_headers, back.subject_prefix) == ((("X-A", "1"),), "[S]")


def test_lf_only_message_is_delivered_with_crlf_throughout(rig: Rig) -> None:
    raw = b"From: a@partner.example.net\nTo: alice@example.com\nSubject: lf\n\nline one\nline two\n"
    entry_id = rig.spool.put(envelope(), raw)
    rig.process(entry_id)
    [path] = rig.maildir()
    delivered = path.read_bytes()
    assert b"\r\n" in delivered
    assert delivered.count(b"\n") == delivered.count(b"\r\n")
    assert delivered.endswith(b"\r\n\r\nline one\r\nline two\r\n")


def test_disarm_delivers_the_harmless_rest_and_keeps_the_original(rig: Rig) -> None:
    verdict = Verdict(Action.DISARM, 5.0, "DOC_MACRO forces disarm",
                      add_headers=(("X-Mailward-Verdict", "disarm"),))
    state = SpoolState(verdict=verdict_to_state(verdict))
    raw = executable_raw()
    entry_id = rig.spool.put(envelope(), raw, state=state)
    outcome = rig.process(entry_id)
    assert outcome == Outcome(entry_id, True, "disarm")
    [path] = rig.maildir()
    delivered = path.read_bytes()
    assert b"X-Mailward-Disarmed: " in delivered
    assert pe_bytes() not in delivered and b".removed.txt" in delivered
    [held] = rig.store.list_quarantine(status="held")
    assert held.id == entry_id and rig.store.quarantine_raw(entry_id) == raw
    # processing again after a crash delivers nothing twice
    rig.spool.put(envelope(), raw, entry_id=entry_id, state=state)
    rig.process(entry_id)
    assert len(rig.maildir()) == 1
    assert len(rig.store.list_quarantine(status="held")) == 1


# --- sender history after delivery --------------------------------------------------------


@pytest.mark.parametrize("kind", ["sql", "memory"])
def test_delivered_outside_mail_is_remembered_in_the_sender_history(
    rig: Rig, kind: str
) -> None:
    """SqlSenderHistory is written in the worker thread that finishes the entry, an
    async-only history from the event loop; both see the From address, internal ones never."""
    history: Any = (SqlSenderHistory(f"sqlite:///{rig.settings.data_dir}/history.db")
                    if kind == "sql" else MemorySenderHistory())
    engine = Engine(rig.settings, clients={"history": history})
    processor = Processor(rig.settings, engine, rig.spool, rig.store, relay=rig.relay)
    outside = rig.spool.put(envelope(), clean_raw())
    inside = clean_raw(1).replace(f"<{SENDER}>".encode(), b"<carol@example.com>")
    internal = rig.spool.put(envelope(mail_from="carol@example.com"), inside)
    for entry_id in (outside, internal):
        assert asyncio.run(processor.process(entry_id, now=T0 + 10)) == Outcome(
            entry_id, True, "deliver")
    seen = asyncio.run(history.seen(SENDER))
    assert seen is not None and seen.count == 1 and seen.last_seen == T0
    assert asyncio.run(history.seen("carol@example.com")) is None
    assert rig.spool.ids() == []
    if kind == "sql":
        history.close()


def test_sender_history_in_the_journal_database_is_written_with_the_journal_entry(
    rig: Rig,
) -> None:
    """History and journal on one database: the sighting is written in the journal entry's
    transaction (one commit); the entry and the sighting are both there."""
    url = f"sqlite:///{rig.settings.data_dir}/shared.db"
    history = SqlSenderHistory(url)
    journal = Journal(url)
    written: list[str] = []
    record_in = history.record_in

    def spy(conn: Any, address: str, at: float) -> None:
        written.append(address)
        record_in(conn, address, at)

    history.record_in = spy  # type: ignore[method-assign]
    engine = Engine(rig.settings, clients={"history": history})
    processor = Processor(rig.settings, engine, rig.spool, rig.store, relay=rig.relay,
                          journal=journal)
    entry_id = rig.spool.put(envelope(), clean_raw())
    assert asyncio.run(processor.process(entry_id, now=T0 + 10)) == Outcome(
        entry_id, True, "deliver")
    assert written == [SENDER]
    seen = history.seen_sync(SENDER)
    assert seen is not None and seen.count == 1
    assert [h.spool_id for h in journal.find("sender", SENDER)] == [entry_id]
    history.close()
    journal.close()
