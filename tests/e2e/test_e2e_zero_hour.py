"""Zero-hour purge: a feed names a domain after delivery; the delivered copies leave the
mailboxes on their own, and the time it took is measured."""

from __future__ import annotations

import smtplib
import time

import messages
import pytest
from gateway_harness import maildir_files

from mailward.store import open_store

pytestmark = pytest.mark.slow

CAMPAIGN = "late-detected.example.net"


def test_feed_change_claws_back_recent_mail(make_gateway, tmp_path) -> None:
    feed = tmp_path / "feed.txt"
    feed.write_text("# indicators from the incident team\n")
    gw = make_gateway(start=False)
    gw.config.write_text(
        gw.config.read_text()
        + f'\n[feeds]\npaths = ["{feed}"]\nreload_interval = 0.5\n'
        + "[journal]\nzero_hour_check_seconds = 0.5\n"
    )
    gw.start()
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        for n, rcpt in enumerate(["alice@example.com", "bob@example.com"]):
            msg = messages.clean(n, to=rcpt)
            if n == 0:
                msg.set_content(
                    "Hi,\n\nthe minutes of Tuesday's project meeting are on the team page at "
                    f"https://{CAMPAIGN}/f/{n} together with the updated schedule.\n\nBob\n"
                )
            smtp.send_message(msg, from_addr="bob@partner.example.net")
    gw.wait_spool_empty()
    assert len(maildir_files(gw.data_dir)) == 2

    started = time.monotonic()
    feed.write_text(f"# indicators from the incident team\n{CAMPAIGN}\n")
    deadline = started + 20
    while len(maildir_files(gw.data_dir)) == 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    remediated = time.monotonic() - started
    left = maildir_files(gw.data_dir)
    assert [p.parts[-3] for p in left] == ["bob"], gw.log.read_text()[-3000:]
    print(f"time to remediate: {remediated:.2f} s from the feed change to the last copy removed")
    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:  # the claw-back writes its audit line just after the removal: wait for it too
        while True:
            audit = store.audit_log(limit=20)
            purged = any(a.actor == "mailward-zero-hour" and a.recipients == ("alice@example.com",)
                         for a in audit)
            if purged or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        store.close()
    assert purged, audit
