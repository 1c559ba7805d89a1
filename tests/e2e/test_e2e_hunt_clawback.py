"""Deliver through the gateway, hunt by indicator, claw the copies back out of the Maildirs."""

from __future__ import annotations

import json
import smtplib

import messages
import pytest
from gateway_harness import maildir_files

pytestmark = pytest.mark.slow

CAMPAIGN = "files-share.example.net"


def test_hunt_finds_delivered_copies_and_clawback_removes_them(make_gateway, tmp_path) -> None:
    gw = make_gateway()
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        for n, rcpt in enumerate(["alice@example.com", "bob@example.com", "carol@example.com"]):
            msg = messages.clean(n, to=rcpt)
            if n < 2:
                msg.set_content(
                    "Hi,\n\nthe minutes of Tuesday's project meeting are on the team page at "
                    f"https://{CAMPAIGN}/f/{n} together with the updated schedule for the "
                    "rollout.\n\nSee you on Thursday,\nBob\n"
                )
            smtp.send_message(msg, from_addr="bob@partner.example.net")
    gw.wait_spool_empty()
    assert len(maildir_files(gw.data_dir)) == 3

    hunt = gw.cli("hunt", "--domain", CAMPAIGN, "--json")
    assert hunt.returncode == 0, hunt.stderr
    hits = [json.loads(line) for line in hunt.stdout.splitlines() if line.strip()]
    assert sorted(r for h in hits for r in h["recipients"]) == [
        "alice@example.com", "bob@example.com"]
    hits_file = tmp_path / "hits.json"
    hits_file.write_text(json.dumps(hits))

    miss = gw.cli("hunt", "--domain", "nothing-here.example.org", "--json")
    assert miss.returncode == 1 and miss.stdout.strip() == ""

    back = gw.cli("clawback", "--from-hunt", str(hits_file), "--maildir",
                  "--reason", "campaign link", "--actor", "soc", "--json")
    assert back.returncode == 0, back.stderr + back.stdout
    left = maildir_files(gw.data_dir)
    assert [p.parts[-3] for p in left] == ["carol"], left
    moved = list((gw.data_dir / "maildir/example.com").glob("*/.Quarantine/*/*"))
    assert len(moved) == 2
