"""Lock down while mail flows, upgrade the rules, release: nothing lost, nothing early."""

from __future__ import annotations

import smtplib
import threading
import time

import messages
import pytest
from gateway_harness import maildir_files

from mailward.store import open_store

pytestmark = pytest.mark.slow

CAMPAIGN = "evil-campaign.example.net"


def campaign_message(n: int) -> object:
    msg = messages.clean(1000 + n)
    msg.set_content(f"Your files are ready: https://{CAMPAIGN}/d/{n}\n")
    return msg


def test_lockdown_holds_then_release_rescans_with_new_rules(make_gateway, tmp_path) -> None:
    gw = make_gateway()
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        for n in range(3):
            smtp.send_message(messages.clean(n), from_addr="bob@partner.example.net")
    gw.wait_spool_empty()
    assert len(maildir_files(gw.data_dir)) == 3

    locked = gw.cli("lockdown", "hold-all", "--reason", "upgrade after incident", "--actor", "soc")
    assert locked.returncode == 0, locked.stderr
    time.sleep(1.5)  # the gateway reads the level at most once a second

    acked: list[str] = []

    def flow() -> None:
        with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
            for n in range(12):
                msg = campaign_message(n) if n % 3 == 0 else messages.clean(100 + n)
                smtp.send_message(msg, from_addr="bob@partner.example.net")
                acked.append(str(msg["Message-ID"]))

    sender = threading.Thread(target=flow)
    sender.start()
    sender.join(60)
    time.sleep(2.0)
    assert len(acked) == 12
    assert len(maildir_files(gw.data_dir)) == 3, "nothing may be delivered during the hold"
    status = gw.cli("lockdown", "status")
    assert "hold-all" in status.stdout and "held in the spool: 12" in status.stdout

    # upgrade the rules during the lockdown: a threat feed naming the campaign's domain
    feed = tmp_path / "campaign.txt"
    feed.write_text(f"# seen in the incident\n{CAMPAIGN}\n")
    gw.config.write_text(gw.config.read_text() + f'\n[feeds]\npaths = ["{feed}"]\n')

    released = gw.cli("lockdown", "release")
    assert released.returncode == 0, released.stderr
    assert "held 12: delivered 8, quarantined 4" in released.stdout
    gw.wait_spool_empty()

    delivered = len(maildir_files(gw.data_dir))
    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        quarantined = store.list_quarantine(status="held")
        audit = store.audit_log("lockdown")
    finally:
        store.close()
    assert delivered == 3 + 8 and len(quarantined) == 4
    assert 3 + len(acked) == delivered + len(quarantined), "accepted = delivered + quarantined"
    assert any(CAMPAIGN in " ".join(f.explanation for f in q.findings) for q in quarantined)
    assert any(a.actor == "soc" and "hold-all" in a.action for a in audit)


def test_hold_all_asks_senders_to_retry_once_the_spool_is_full(make_gateway) -> None:
    gw = make_gateway(start=False)
    gw.config.write_text(gw.config.read_text() + "\n[lockdown]\nmax_held_messages = 2\n")
    gw.start()
    assert gw.cli("lockdown", "hold-all", "--reason", "maintenance").returncode == 0
    time.sleep(1.5)
    codes = []
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        smtp.ehlo("client.example.net")
        for n in range(3):
            code, _ = smtp.mail("bob@partner.example.net")
            codes.append(code)
            if code == 250:
                smtp.rcpt("alice@example.com")
                smtp.data(messages.clean(n).as_bytes())
            else:
                smtp.rset()
    assert codes == [250, 250, 452]
    assert gw.spool_count() == 2 and maildir_files(gw.data_dir) == []
    # back to normal: mail is taken again (the held two wait for a release)
    assert gw.cli("lockdown", "normal", "--reason", "done").returncode == 0
    time.sleep(1.5)
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        smtp.send_message(messages.clean(9), from_addr="bob@partner.example.net")
    deadline = time.time() + 20
    while not maildir_files(gw.data_dir) and time.time() < deadline:
        time.sleep(0.1)
    assert len(maildir_files(gw.data_dir)) == 1 and gw.spool_count() == 2
