"""Campaigns through the running gateway (issue #12, test 2): 30 near-identical messages from
rotating senders and domains are clustered into one campaign; a feed update naming one
member's link claws back every delivered member from the Maildirs, and a campaign alert is
raised. Prints the time to cluster a new message and the time to claw the campaign back."""

from __future__ import annotations

import json
import smtplib
import statistics
import time
from email.message import EmailMessage

import pytest
from gateway_harness import maildir_files

from mailward.store import open_store

pytestmark = pytest.mark.slow

NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "ken", "laura", "mallory", "nina", "oscar", "peggy", "quentin", "rupert", "sybil",
         "trent", "ursula", "victor", "wendy", "xavier", "yvonne", "zach", "amber", "boris",
         "chloe", "dmitri", "edith"]
SIZE = 30


def member(i: int) -> EmailMessage:
    """One wave member: its own sender, sender domain, link domain, recipient and numbers."""
    name = NAMES[i]
    msg = EmailMessage()
    msg["From"] = f"Parcel Service <notice@shipping-{i}.example.net>"
    msg["To"] = f"{name.title()} Example <{name}@example.com>"
    msg["Subject"] = f"Your parcel {48120 + i * 7} is waiting"
    msg["Message-ID"] = f"<parcel-{i}@shipping-{i}.example.net>"
    msg.set_content(
        f"Hello {name.title()},\n\nyour parcel {48120 + i * 7} could not be delivered on "
        f"{i % 28 + 1} March because nobody was at home. You can choose a new delivery day "
        f"on the tracking page https://track{i}.parcels-{i}.example.org/p/{9000 + i} until "
        f"Friday; after that the parcel goes back to the sender.\n\n"
        f"Thank you for choosing our service.\nCustomer care\n")
    return msg


def test_campaign_is_clustered_and_clawed_back_when_a_feed_names_one_link(
        make_gateway, tmp_path) -> None:
    feed = tmp_path / "feed.txt"
    feed.write_text("# indicators from the incident team\n")
    gw = make_gateway(start=False)
    gw.config.write_text(
        gw.config.read_text()
        + f'\n[feeds]\npaths = ["{feed}"]\nreload_interval = 0.5\n'
        + "[journal]\nzero_hour_check_seconds = 0.5\n"
        + "[campaigns]\nclawback = true\nmin_members = 3\n"
    )
    gw.start()
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        for i in range(SIZE):
            smtp.send_message(member(i), from_addr=f"bounce-{i}@mta{i}.shipping-{i}.example.net")
        smtp.send_message(_ham(), from_addr="bob@partner.example.net")
    gw.wait_spool_empty(60)
    assert len(maildir_files(gw.data_dir)) == SIZE + 1, gw.log.read_text()[-3000:]

    listed = gw.cli("campaigns", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    campaigns = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(campaigns) == 1, campaigns
    campaign = campaigns[0]
    assert campaign["members"] == SIZE and campaign["state"] == "active"
    shown = json.loads(gw.cli("campaigns", "show", campaign["id"], "--json").stdout)
    assert len(shown["senders"]) == SIZE and len(shown["recipients"]) == SIZE
    assert shown["verdicts"] == {"deliver": SIZE}
    times = [m["cluster_ms"] for m in shown["member_list"]]
    print(f"time to cluster a new message in the gateway: median {statistics.median(times):.2f}"
          f" ms, max {max(times):.2f} ms CPU over {SIZE} members")

    started = time.monotonic()
    feed.write_text("# indicators from the incident team\nhttps://track7.parcels-7.example.org"
                    "/p/9007\n")
    deadline = started + 30
    while len(maildir_files(gw.data_dir)) > 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    clawed = time.monotonic() - started
    left = maildir_files(gw.data_dir)
    assert [p.parts[-3] for p in left] == ["bob"], gw.log.read_text()[-4000:]
    # the feed names one member's link: the re-scan flags that one, its campaign adds the rest
    # (the purge logs its summary once the last copy is gone: wait for it as for the removal)
    summary = f"1 now malicious, {SIZE} clawed back (with their campaigns)"
    while summary not in gw.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert summary in gw.log.read_text()
    print(f"time to claw back the campaign: {clawed:.2f} s from the feed change to the last of "
          f"{SIZE} copies removed")

    after = json.loads(gw.cli("campaigns", "show", campaign["id"], "--json").stdout)
    while after["state"] != "bad" and time.monotonic() < deadline:
        time.sleep(0.2)
        after = json.loads(gw.cli("campaigns", "show", campaign["id"], "--json").stdout)
    assert after["state"] == "bad" and "zero-hour" in after["bad_why"]
    alerts = [json.loads(line) for line in
              gw.cli("alerts", "list", "--kind", "campaign", "--json").stdout.splitlines()]
    assert [(a["subject"], a["symbols"]) for a in alerts] == [
        (campaign["id"], ["ACT_CAMPAIGN_BAD"])]

    # a late member of the campaign, now known bad, is quarantined instead of delivered
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        smtp.send_message(member(SIZE), from_addr="bounce@late.example.net")
    gw.wait_spool_empty(60)
    assert [p.parts[-3] for p in maildir_files(gw.data_dir)] == ["bob"]
    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        held = store.list_quarantine()
    finally:
        store.close()
    assert [e.reason for e in held] == [f"member of campaign {campaign['id']}, found bad"]


def _ham() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Bob Sender <bob@partner.example.net>"
    msg["To"] = "bob@example.com"
    msg["Subject"] = "Project notes"
    msg["Message-ID"] = "<notes@partner.example.net>"
    msg.set_content("Hi Bob,\n\nhere are the notes of Tuesday's meeting and the new plan.\n")
    return msg
