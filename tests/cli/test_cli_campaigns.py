"""`mailward campaigns list|show|bad` in-process, with and without --json; the analyst's report
claws back the delivered members of a campaign and raises its alert."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailward.activity.campaigns import Campaigns
from mailward.cli.main import main
from mailward.config import load_settings
from mailward.config.settings import LimitSettings, Settings
from mailward.delivery.maildir import MaildirDelivery, iter_messages, maildir_for, message_name
from mailward.mime import parse_message
from mailward.model import Action, Envelope, Verdict
from mailward.response.indicators import entry_from_message, maildir_location
from mailward.response.journal import Journal
from mailward.store import open_store

CLEAN = Verdict(Action.DELIVER, 0.0, "clean")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MAILWARD"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "300")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mailward.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[dns]\nenabled = false\n'
                    '[organisation]\naccepted_domains = ["example.com"]\n')
    return path


def _lure(i: int) -> bytes:
    return (f"From: Desk <it@helpdesk{i}.example.net>\r\nTo: user{i}@example.com\r\n"
            f"Subject: Mailbox {i}00 full\r\nMessage-ID: <box{i}@helpdesk{i}.example.net>\r\n\r\n"
            f"Dear user{i}, your mailbox is full. Keep your messages at "
            f"https://box{i}.example.org/{i} today or lose them.\r\n").encode()


@pytest.fixture
def campaign(config: Path) -> Iterator[tuple[Settings, str]]:
    """Three delivered (Maildir and journal) members of one campaign."""
    settings = load_settings(config, environ={})
    store = open_store(settings.store_url)
    journal = Journal(settings.store_url)
    found = Campaigns(settings, store, journal)
    maildir = MaildirDelivery(settings.maildir_root)
    placed = None
    for i in range(3):
        raw, rcpt, spool_id = _lure(i), f"user{i}@example.com", f"spool{i}"
        env = Envelope(mail_from=f"b@helpdesk{i}.example.net", rcpt_tos=(rcpt,),
                       peer_ip="198.51.100.9", received_at=1_800_000_000.0 + i)
        placed = found.observe(spool_id, env, parse_message(raw, LimitSettings()), CLEAN)
        maildir.deliver(spool_id, rcpt, raw)
        path = maildir_for(settings.maildir_root, rcpt) / "new" / message_name(spool_id, rcpt)
        journal.record(entry_from_message(spool_id, raw, env, CLEAN,
                                          [(rcpt, maildir_location(path))]))
    found.close()
    journal.close()
    store.close()
    assert placed is not None and placed.is_campaign
    yield settings, placed.campaign_id


def _delivered(settings: Settings) -> int:
    return sum(len(list(iter_messages(settings.maildir_root, f"user{i}@example.com")))
               for i in range(3))


def test_list_and_show(config: Path, campaign: tuple[Settings, str],
                       capsys: pytest.CaptureFixture[str]) -> None:
    _, cid = campaign
    assert main(["-c", str(config), "campaigns", "list", "--json"]) == 0
    (listed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed["id"] == cid and listed["members"] == 3 and listed["state"] == "active"
    assert main(["-c", str(config), "campaigns", "show", cid, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["recipients"] == [f"user{i}@example.com" for i in range(3)]
    assert shown["senders"] == [f"it@helpdesk{i}.example.net" for i in range(3)]
    assert shown["verdicts"] == {"deliver": 3}
    assert main(["-c", str(config), "campaigns", "list"]) == 0
    assert cid in capsys.readouterr().out
    assert main(["-c", str(config), "campaigns", "show", cid]) == 0
    assert "spool2" in capsys.readouterr().out


def test_show_an_unknown_campaign_fails(config: Path, campaign: tuple[Settings, str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(config), "campaigns", "show", "c-nope"]) == 1
    assert "no campaign c-nope" in capsys.readouterr().err


def test_an_analyst_report_claws_back_the_campaign_and_alerts(
        config: Path, campaign: tuple[Settings, str], capsys: pytest.CaptureFixture[str]) -> None:
    settings, cid = campaign
    assert _delivered(settings) == 3
    assert main(["-c", str(config), "campaigns", "bad", cid, "--reason", "user report",
                 "--actor", "analyst", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(out["clawed_back"]) == ["spool0", "spool1", "spool2"]
    assert _delivered(settings) == 0
    assert main(["-c", str(config), "alerts", "list", "--kind", "campaign", "--json"]) == 0
    (alert,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert alert["subject"] == cid and alert["symbols"] == ["ACT_CAMPAIGN_BAD"]
    store = open_store(settings.store_url)
    try:
        actions = {(a.actor, a.action) for a in store.audit_log(limit=20)}
    finally:
        store.close()
    assert ("analyst", "campaign bad") in actions and ("analyst", "clawback") in actions


def test_a_report_with_clawback_off_only_marks_and_alerts(
        config: Path, campaign: tuple[Settings, str], capsys: pytest.CaptureFixture[str]) -> None:
    settings, cid = campaign
    config.write_text(config.read_text() + "[campaigns]\nclawback = false\n")
    assert main(["-c", str(config), "campaigns", "bad", cid, "--reason", "r", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["clawed_back"] == []
    assert _delivered(settings) == 3


_NOTES = ["The quarterly report is attached; figures for March are on page two.",
          "Lunch on Friday at the usual place? Bring the slides from the offsite.",
          "The build server will be down tonight for maintenance between nine and ten.",
          "Thanks for the review, I merged your changes into the release branch.",
          "Reminder: the fire drill is tomorrow morning, leave by the east stairs.",
          "Can you send me the contract draft before the meeting with the lawyers?",
          "Our team offsite moves to the lake house; travel details follow next week."]


def _with_file(i: int, *payloads: bytes) -> bytes:
    import base64
    files = "".join(f"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: "
                    f"attachment; filename=f{n}.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                    f"{base64.b64encode(p).decode()}\r\n" for n, p in enumerate(payloads))
    return (f"From: s{i}@host{i}.test\r\nTo: user{i}@example.com\r\nSubject: file {i}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            f"--b\r\nContent-Type: text/plain\r\n\r\n{_NOTES[i]}\r\n"
            f"{files}--b--\r\n").encode()


def test_show_a_merged_campaign_names_the_one_it_joined(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings(config, environ={})
    store = open_store(settings.store_url)
    found = Campaigns(settings, store)
    ids = []
    try:
        for i, files in enumerate([(b"X",)] * 3 + [(b"Y",)] * 3 + [(b"X", b"Y")]):
            env = Envelope(mail_from=f"b@mx{i}.test", rcpt_tos=(f"user{i}@example.com",),
                           peer_ip=f"198.51.{i}.9", received_at=1_800_000_000.0 + i)
            placed = found.observe(f"m{i}", env, parse_message(_with_file(i, *files),
                                                               LimitSettings()), CLEAN)
            assert placed is not None
            ids.append(placed.campaign_id)
    finally:
        found.close()
        store.close()
    old, merged = ids[0], ids[3]
    assert old != merged and ids[6] == old
    assert main(["-c", str(config), "campaigns", "show", merged, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == old and shown["requested"] == merged and shown["merged"] == [merged]
    assert shown["members"] == 7 and len(shown["recipients"]) == 7
    assert main(["-c", str(config), "campaigns", "show", merged]) == 0
    assert f"campaign {merged} was merged into {old}" in capsys.readouterr().out
    assert main(["-c", str(config), "campaigns", "show", old, "--json"]) == 0
    assert "requested" not in json.loads(capsys.readouterr().out)
