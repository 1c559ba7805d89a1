"""Mail over real SMTP through the running gateway, to Maildir, quarantine or a next hop."""

from __future__ import annotations

import smtplib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import messages
from gateway_harness import free_port, maildir_files, next_hop

pytestmark = pytest.mark.slow


def send(port: int, msg: object, sender: str = "sender@partner.example.net") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(msg, from_addr=sender)  # type: ignore[arg-type]


def test_each_message_lands_where_its_verdict_says(make_gateway) -> None:
    # The rule detectors alone, so that each message's verdict is known in advance (the
    # statistical model would also quarantine the "quick favour" lure).
    gw = make_gateway(engine='disabled = ["content", "lures"]')
    send(gw.port, messages.clean(1))
    send(gw.port, messages.lookalike_link())
    send(gw.port, messages.executable())
    gw.wait_spool_empty()

    alice = list((gw.data_dir / "maildir/example.com/alice/new").iterdir())
    bob = list((gw.data_dir / "maildir/example.com/bob/new").iterdir())
    assert len(alice) == 1 and len(bob) == 1
    assert not (gw.data_dir / "maildir/example.com/carol").exists()

    clean_bytes = alice[0].read_bytes()
    assert b"X-Mailward-Verdict: deliver" in clean_bytes
    assert b"Received: from " in clean_bytes
    assert b"Authentication-Results: mailward.local; none" in clean_bytes
    tagged = bob[0].read_bytes()
    assert b"X-Mailward-Verdict: tag" in tagged
    assert b"Subject: [SUSPICIOUS] Quick favour" in tagged

    listing = gw.cli("quarantine", "list")
    assert listing.returncode == 0, listing.stderr
    assert "Invoice" in listing.stdout


def test_release_from_quarantine_delivers_and_audits(make_gateway) -> None:
    gw = make_gateway()
    send(gw.port, messages.executable())
    gw.wait_spool_empty()
    gw.stop()
    from mailward.store import open_store

    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        [entry] = store.list_quarantine(status="held")
    finally:
        store.close()
    done = gw.cli("quarantine", "release", entry.id, "--reason", "known supplier",
                  "--actor", "analyst1")
    assert done.returncode == 0, done.stderr
    assert len(list((gw.data_dir / "maildir/example.com/carol/new").iterdir())) == 1
    # the released copy is journaled, so a later hunt and claw-back can find it
    hunted = gw.cli("hunt", "--message-id", "<exe@supplier.example.net>", "--json")
    assert hunted.returncode == 0 and "carol@example.com" in hunted.stdout, hunted.stderr
    shown = gw.cli("quarantine", "show", entry.id)
    assert "analyst1" in shown.stdout and "known supplier" in shown.stdout
    again = gw.cli("quarantine", "release", entry.id, "--reason", "twice")
    assert again.returncode == 1 and "not held" in again.stderr


def test_relays_to_next_hop(make_gateway) -> None:
    hop_port = free_port()
    with next_hop(hop_port) as hop:
        gw = make_gateway(f'inbound = "relay"\n[delivery.relay]\nhost = "127.0.0.1"\n'
                          f"port = {hop_port}\n")
        send(gw.port, messages.clean(2))
        gw.wait_spool_empty()
        assert len(hop.received) == 1
        mail_from, rcpts, content = hop.received[0]
        assert rcpts == ["alice@example.com"]
        assert mail_from == "sender@partner.example.net"
        assert b"X-Mailward-Verdict: deliver" in content
    assert maildir_files(gw.data_dir) == []


def test_outage_holds_mail_then_delivers_everything(make_gateway) -> None:
    hop_port = free_port()
    gw = make_gateway(f'inbound = "relay"\n[delivery.relay]\nhost = "127.0.0.1"\n'
                      f"port = {hop_port}\n")
    for n in range(5):
        send(gw.port, messages.clean(n))
    import time

    time.sleep(1.5)
    assert gw.spool_count() == 5, "mail must wait in the spool while the next hop is down"
    with next_hop(hop_port) as hop:
        gw.wait_spool_empty(timeout=30)
        subjects = sorted(c.split(b"Subject: ")[1].split(b"\r\n")[0] for _, _, c in hop.received)
    assert subjects == [f"Project notes {n}".encode() for n in range(5)]


def test_not_an_open_relay(make_gateway) -> None:
    hop_port = free_port()
    with next_hop(hop_port) as hop:
        gw = make_gateway(f'[delivery.relay]\nhost = "127.0.0.1"\nport = {hop_port}\n')
        probes = [
            "victim@outside.example.org",
            "victim%outside.example.org@example.com",
            "outside.example.org!victim@example.com",
            '"victim@outside.example.org"@example.com',
            "@example.com:victim@outside.example.org",
        ]
        with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
            smtp.ehlo("probe.example.org")
            for rcpt in probes:
                smtp.mail("spammer@outside.example.org")
                code, reply = smtp.rcpt(rcpt)
                assert code >= 500, (rcpt, code, reply)
                smtp.rset()
            # the control: a local recipient is still accepted
            smtp.mail("someone@outside.example.org")
            assert smtp.rcpt("alice@example.com")[0] == 250
            smtp.rset()
        assert gw.spool_count() == 0
        assert hop.received == []


def test_internal_network_may_relay_outbound(make_gateway) -> None:
    hop_port = free_port()
    with next_hop(hop_port) as hop:
        gw = make_gateway(f'[delivery.relay]\nhost = "127.0.0.1"\nport = {hop_port}\n',
                          org='internal_networks = ["127.0.0.0/8"]')
        send(gw.port, messages.clean(3, to="partner@outside.example.org"),
             sender="alice@example.com")
        gw.wait_spool_empty()
        assert [r for _, r, _ in hop.received] == [["partner@outside.example.org"]]


def test_size_limit_gives_552(make_gateway) -> None:
    gw = make_gateway(smtp="max_message_size = 2000")
    big = messages.clean(4)
    big.set_content("x" * 5000)
    with pytest.raises(smtplib.SMTPException) as err:
        send(gw.port, big)
    assert "552" in str(err.value)
    assert gw.spool_count() == 0
