"""`mailward alerts list|show|ack|close` in-process, with and without --json."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailward.activity import ActivityMonitor
from mailward.cli.main import main
from mailward.config import load_settings
from mailward.delivery.maildir import iter_messages
from mailward.model import Action, Envelope, Finding, Verdict
from mailward.spool.queue import new_spool_id
from mailward.store import MessageRecord, open_store

PHISH = Verdict(Action.QUARANTINE, 14.0, "phish",
                (Finding("URL_CRED_FORM", "A password form.", score=8.0),))


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MAILWARD"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "300")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mailward.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[engine]\ndisabled = ["content"]\n'
                    "[dns]\nenabled = false\n"
                    "[activity.responses.account]\nhold_outbound = true\n")
    return path


@pytest.fixture
def monitor(config: Path) -> Iterator[ActivityMonitor]:
    settings = load_settings(config, environ={})
    store = open_store(settings.store_url)
    opened = ActivityMonitor(settings, store)
    yield opened
    opened.close()
    store.close()


def _message(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "alice@example.com"
    msg["To"] = "bob@example.com"
    msg["Subject"] = f"Notes {n}"
    msg["Message-ID"] = f"<notes-{n}@example.com>"
    msg.set_content("The notes of today's meeting.\n")
    return bytes(msg)


def _alert_with_held_mail(monitor: ActivityMonitor) -> tuple[int, str]:
    env = Envelope("alice@example.com", ("bob@example.com",), "10.0.0.5",
                   received_at=time.time(), authenticated_as="alice@example.com")
    [change] = monitor.observe_message("phish-1", env, PHISH, "<p1@example.com>")
    alert = change.alert
    entry_id = new_spool_id()
    raw = _message(1)
    rec = MessageRecord(
        id=entry_id, received_at=time.time(), mail_from="alice@example.com",
        rcpt_tos=("bob@example.com",), peer_ip="10.0.0.5", message_id="<notes-1@example.com>",
        subject="Notes 1", size=len(raw), sha256="0" * 64, score=0.0, action="hold",
        reason=f"held: alert {alert.id}", findings=())
    assert monitor.store.quarantine(rec, raw)
    monitor.record_hold(entry_id, alert, rec.rcpt_tos)
    return alert.id, entry_id


def alerts(config: Path, *args: str) -> int:
    return main(["-c", str(config), "alerts", *args])


def test_list_table_and_json(config: Path, monitor: ActivityMonitor,
                             capsys: pytest.CaptureFixture[str]) -> None:
    alert_id, _ = _alert_with_held_mail(monitor)
    assert alerts(config, "list") == 0
    out = capsys.readouterr().out
    assert "alice@example.com" in out and "ACT_INTERNAL_PHISH" in out and "open" in out
    assert alerts(config, "list", "--json") == 0
    [line] = capsys.readouterr().out.splitlines()
    data = json.loads(line)
    assert data["id"] == alert_id and data["state"] == "open" and data["kind"] == "account"
    assert alerts(config, "list", "--state", "closed", "--json") == 0
    assert capsys.readouterr().out == ""


def test_list_of_nothing(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert alerts(config, "list", "--json", "--state", "all") == 0
    assert capsys.readouterr().out == ""


def test_show_table_and_json(config: Path, monitor: ActivityMonitor,
                             capsys: pytest.CaptureFixture[str]) -> None:
    alert_id, held = _alert_with_held_mail(monitor)
    assert alerts(config, "show", str(alert_id)) == 0
    out = capsys.readouterr().out
    assert f"alert {alert_id}" in out and "ACT_INTERNAL_PHISH" in out and "phish-1" in out
    assert held in out and "hold_outbound" in out
    assert alerts(config, "show", str(alert_id), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["held"] == [held] and data["released"] == []
    assert data["evidence"][0]["evidence"]["message_ids"] == ["phish-1"]


def test_show_unknown_alert_exits_1(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert alerts(config, "show", "99") == 1
    assert "no alert with id 99" in capsys.readouterr().err


def test_ack_then_close_releases_held_mail(config: Path, monitor: ActivityMonitor,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    alert_id, held = _alert_with_held_mail(monitor)
    assert alerts(config, "ack", str(alert_id), "--reason", "on it", "--actor", "ann",
                  "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["state"], data["acted_by"], data["note"]) == ("acknowledged", "ann", "on it")
    maildir = config.parent / "data" / "maildir"
    assert list(iter_messages(maildir, "bob@example.com")) == []
    assert alerts(config, "close", str(alert_id), "--reason", "password reset",
                  "--actor", "ann", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["state"] == "closed" and data["released"] == [held]
    [path] = iter_messages(maildir, "bob@example.com")
    assert b"Subject: Notes 1" in path.read_bytes()
    entry = monitor.store.get_quarantine(held)
    assert entry is not None and entry.status == "released"
    assert ("ann", "release") in [(a.actor, a.action) for a in monitor.store.audit_log(held)]
    # closed already: a second close is an error, not a second release
    assert alerts(config, "close", str(alert_id), "--reason", "again") == 1
    assert "closed already" in capsys.readouterr().err
    assert alerts(config, "list", "--json") == 0  # default: active alerts only
    assert capsys.readouterr().out == ""


def test_ack_needs_a_reason(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        alerts(config, "ack", "1")
    assert "--reason" in capsys.readouterr().err
