"""The running gateway with a real clamd (tests/clamdserver) and a signature the test writes.

A message carrying the generated sample is refused over SMTP with AV_VIRUS naming the signature;
a clean message is delivered. While clamd is down nothing is delivered unscanned: with the
default ``[policy] fail_closed_action = "tempfail"`` the client is told 451 and keeps the message
(and mail accepted before the scan finished waits in the spool), with ``"quarantine"`` it is
held in the quarantine. When clamd is back, the retry is scanned: the clean message is
delivered, the sample refused.
"""

from __future__ import annotations

import re
import smtplib
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from gateway_harness import GatewayProcess, maildir_files

from mailward.model import Finding
from mailward.spool.queue import Spool
from mailward.store import QuarantineEntry, open_store
from mailward.store.base import MessageRecord

sys.path.insert(0, str(Path(__file__).parents[1] / "clamdserver"))
from clamd_server import Clamd, generated_sample, reported_name, require_clamd

pytestmark = pytest.mark.slow

SIGNATURE = "Mailward.Test.GeneratedSample"
MARKER, SAMPLE = generated_sample()
VIRUS = reported_name(SIGNATURE)
MakeGateway = Callable[..., GatewayProcess]


@pytest.fixture(scope="module")
def clamd_daemon() -> Iterator[Clamd]:
    require_clamd()
    with Clamd({SIGNATURE: MARKER}) as server:
        yield server


@pytest.fixture
def clamd(clamd_daemon: Clamd) -> Clamd:
    """The module's clamd, running (a test before may have stopped it)."""
    clamd_daemon.start()
    return clamd_daemon


def with_attachment(n: int, content: bytes, name: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Bob Sender <bob@partner.example.net>"
    msg["To"] = "alice@example.com"
    msg["Subject"] = f"Measurements {n}"
    msg["Message-ID"] = f"<av-{n}@partner.example.net>"
    msg["Date"] = "Mon, 07 Dec 2026 09:00:00 +0000"
    msg.set_content(f"Hi Alice,\n\nthe measurements of run {n} are attached.\n\nBob\n")
    msg.add_attachment(content, maintype="application", subtype="octet-stream", filename=name)
    return msg


def infected(n: int) -> EmailMessage:
    return with_attachment(n, SAMPLE, "measurements.dat")


def clean(n: int) -> EmailMessage:
    return with_attachment(n, b"run,value\n1,0.25\n2,0.5\n" * 40, "measurements.csv")


def send(port: int, msg: EmailMessage) -> tuple[int, str]:
    """(code, text) of the reply to the message's DATA: 250, or the refusal."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.send_message(msg, from_addr="bob@partner.example.net")
    except smtplib.SMTPDataError as exc:
        return exc.smtp_code, exc.smtp_error.decode(errors="replace")
    return 250, ""


def entry_id(reply: str) -> str:
    match = re.search(r"id (\S+)", reply)
    assert match, reply
    return match.group(1)


def record(gw: GatewayProcess, message_id: str) -> MessageRecord:
    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        rec = store.get_message(message_id)
    finally:
        store.close()
    assert rec is not None, message_id
    return rec


def records_of(gw: GatewayProcess, msg: EmailMessage) -> list[MessageRecord]:
    """What the gateway recorded for each time ``msg`` was sent, newest first."""
    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        recent = store.recent_messages(limit=100)
    finally:
        store.close()
    return [r for r in recent if f"<{r.message_id}>" == msg["Message-ID"]]


def delivered_ids(gw: GatewayProcess) -> list[str]:
    found = []
    for path in maildir_files(gw.data_dir):
        match = re.search(rb"(?im)^Message-ID:\s*(<[^>]+>)", path.read_bytes())
        found += [match.group(1).decode()] if match else []
    return sorted(found)


def wait_for(check: Callable[[], bool], what: str, gw: GatewayProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n" + (
            gw.log.read_text()[-4000:])
        time.sleep(0.1)


def refused_or_held(gw: GatewayProcess, msg: EmailMessage) -> tuple[Finding, ...]:
    """Send ``msg`` and return the findings of its refusal (550) or of its quarantine (250 and
    held: the score decides reject, the AV_VIRUS force rule makes quarantine the least)."""
    code, reply = send(gw.port, msg)
    if code == 550:
        rec = record(gw, entry_id(reply))
        assert rec.action == "reject", rec
        return rec.findings
    assert code == 250, reply
    gw.wait_spool_empty()
    held = [q for q in open_quarantine(gw) if f"<{q.message_id}>" == msg["Message-ID"]]
    assert len(held) == 1, (reply, gw.log.read_text()[-3000:])
    assert held[0].action == "quarantine"
    return held[0].findings


def virus_names(findings: tuple[Finding, ...]) -> set[str]:
    return {e for f in findings if f.symbol == "AV_VIRUS" for e in f.evidence}


def gateway(make_gateway: MakeGateway, av: str, policy: str = "") -> GatewayProcess:
    """A gateway scanning with clamd (``av``: the [detectors.yara] lines)."""
    return make_gateway(extra=f"[detectors.yara]\n{av}\n[policy]\n{policy}\n")


def test_sample_is_refused_with_av_virus_and_clean_mail_delivered(
    make_gateway: MakeGateway, clamd: Clamd
) -> None:
    gw = gateway(make_gateway, f'clamd_socket = "{clamd.socket_path}"')
    [virus] = [f for f in refused_or_held(gw, infected(1)) if f.symbol == "AV_VIRUS"]
    assert virus.evidence == (VIRUS,)
    assert VIRUS in virus.explanation and '"measurements.dat"' in virus.explanation

    assert f"{VIRUS} FOUND" in clamd.scans()

    before = len(clamd.scans())
    assert send(gw.port, clean(2)) == (250, "")
    gw.wait_spool_empty()
    assert delivered_ids(gw) == ["<av-2@partner.example.net>"]
    # the clean message was scanned by clamd too (its attachment and its text), and found clean
    assert clamd.scans()[before:] == ["OK", "OK"]


def test_clamd_down_tempfails_and_the_retry_is_scanned(
    make_gateway: MakeGateway, clamd: Clamd
) -> None:
    gw = gateway(make_gateway, f'clamd_host = "127.0.0.1"\nclamd_port = {clamd.port}')
    clamd.stop()
    for msg in (clean(3), infected(4)):
        code, reply = send(gw.port, msg)
        assert code == 451, reply  # the client keeps the message and tries again
        assert "cannot be checked now" in reply
        [rec] = records_of(gw, msg)
        assert rec.action == "tempfail"
        assert {"ENGINE_DETECTOR_ERROR", "ENGINE_FAIL_CLOSED"} <= {f.symbol for f in rec.findings}
        assert any("ClamdError" in f.explanation for f in rec.findings)
    assert gw.spool_count() == 0 and delivered_ids(gw) == [] and not open_quarantine(gw)

    clamd.start()  # the client's retry
    before = len(clamd.scans())
    assert send(gw.port, clean(3)) == (250, "")
    assert virus_names(refused_or_held(gw, infected(4))) == {VIRUS}
    gw.wait_spool_empty()
    assert delivered_ids(gw) == ["<av-3@partner.example.net>"]
    assert records_of(gw, clean(3))[0].action == "deliver"
    # both retries went through clamd: attachment and text of each, the sample found
    assert clamd.scans()[before:] == ["OK", "OK", f"{VIRUS} FOUND", "OK"]


def test_clamd_down_after_accept_keeps_mail_in_the_spool_until_it_can_scan(
    make_gateway: MakeGateway, clamd: Clamd, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No scan while the client waits: the message is accepted (250, fsynced) and scanned from
    # the spool, where a tempfail means "scan again later".
    monkeypatch.setenv("MAILWARD__SMTP__INLINE_SCAN_TIMEOUT", "0")
    gw = gateway(make_gateway, f'clamd_socket = "{clamd.socket_path}"')
    clamd.stop()
    assert send(gw.port, clean(5)) == (250, "")
    assert send(gw.port, infected(6)) == (250, "")
    spool = Spool(gw.data_dir / "spool")

    def deferred_twice() -> bool:
        states = [spool.state(i) for i in spool.ids()]
        return len(states) == 2 and all(
            s.attempts >= 2 and s.verdict is None and s.last_errors == {"*": "scan deferred"}
            for s in states
        )

    wait_for(deferred_twice, "two deferred scans of each message", gw)
    assert delivered_ids(gw) == [] and not open_quarantine(gw)

    clamd.start()
    gw.wait_spool_empty(timeout=60)
    assert delivered_ids(gw) == ["<av-5@partner.example.net>"]
    [held] = open_quarantine(gw)
    assert held.message_id == "av-6@partner.example.net"
    assert virus_names(held.findings) == {VIRUS}


def test_clamd_down_with_quarantine_action_holds_mail_unscanned(
    make_gateway: MakeGateway, clamd: Clamd, tmp_path: Path
) -> None:
    gw = gateway(make_gateway, f'clamd_socket = "{clamd.socket_path}"',
                 policy='fail_closed_action = "quarantine"')
    clamd.stop()
    assert send(gw.port, infected(7)) == (250, "")
    gw.wait_spool_empty()
    assert delivered_ids(gw) == []
    [held] = open_quarantine(gw)
    assert held.message_id == "av-7@partner.example.net"
    assert held.reason == "a fail-closed detector could not finish"
    assert "ENGINE_FAIL_CLOSED" in {f.symbol for f in held.findings}

    # The held copy is whole: with clamd back, scanning it finds the sample.
    clamd.start()
    raw = tmp_path / "held.eml"
    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        raw.write_bytes(store.quarantine_raw(held.id) or b"")
    finally:
        store.close()
    scanned = gw.cli("scan", "--json", str(raw))
    assert scanned.returncode == 0, scanned.stderr
    assert '"AV_VIRUS"' in scanned.stdout and VIRUS in scanned.stdout


def open_quarantine(gw: GatewayProcess) -> list[QuarantineEntry]:
    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        return store.list_quarantine(status="held")
    finally:
        store.close()
