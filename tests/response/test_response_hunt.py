"""Hunting the journal: merged lookups, the `mailward hunt` command (--json) and --rescan."""

from __future__ import annotations

import argparse
import email.policy
import hashlib
import json
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailward.cli import hunt as hunt_cmd
from mailward.config.settings import Settings
from mailward.model import Action, Envelope, Verdict
from mailward.response.hunt import HuntQuery, hunt
from mailward.response.indicators import entry_from_message, maildir_location
from mailward.response.journal import Journal

NOW = time.time()
PROGRAM = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00\x4c\x01" + b"\0" * 200


def message(subject: str, sender: str, body: str, attachment: bytes | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "carol@corp.example.org"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{abs(hash(subject))}@hunt.test>"
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf",
                           filename="statement.pdf")
    return msg.as_bytes(policy=email.policy.SMTP)


CLEAN = message("Minutes of Monday", "Dana <dana@partner.example.net>",
                "Notes are at https://wiki.partner.example.net/minutes/12 for review.\n")
MALWARE = message("Statement 5521", "Billing <billing@supplier.example.com>",
                  "Your statement is attached.\n", attachment=PROGRAM)


def journal_message(journal: Journal, spool_id: str, raw: bytes, at: float) -> None:
    envelope = Envelope(
        mail_from="bounces@relay.example.com", rcpt_tos=("carol@corp.example.org",),
        received_at=at,
    )
    copies = {"carol@corp.example.org": maildir_location(f"/srv/mail/carol/new/{spool_id}")}
    entry = entry_from_message(spool_id, raw, envelope, Verdict(Action.DELIVER, 0.0, "ok"),
                               copies)
    journal.record(entry)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The content model's scores move with retraining; the rule detectors decide here.
    return Settings(data_dir=tmp_path / "data", engine={"disabled": ["content"]})


@pytest.fixture
def journal(settings: Settings) -> Iterator[Journal]:
    opened = Journal(settings.store_url)
    journal_message(opened, "sp-clean", CLEAN, NOW - 3600)
    journal_message(opened, "sp-malware", MALWARE, NOW - 1800)
    journal_message(opened, "sp-old", CLEAN.replace(b"Monday", b"Sunday"), NOW - 30 * 86400)
    yield opened
    opened.close()


def run_hunt(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    hunt_cmd.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["hunt", *argv])
    code: int = args.run(args, settings)
    return code


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


# --- hunt() ----------------------------------------------------------------------------------


def test_domain_matches_links_and_senders(journal: Journal) -> None:
    by_link = hunt(journal, HuntQuery(domain="wiki.partner.example.net"))
    assert [h.spool_id for h in by_link] == ["sp-clean", "sp-old"]
    assert "host:wiki.partner.example.net" in by_link[0].matched
    by_sender = hunt(journal, HuntQuery(domain="supplier.example.com"))
    assert [h.spool_id for h in by_sender] == ["sp-malware"]
    assert hunt(journal, HuntQuery(domain="elsewhere.example.org")) == []


def test_several_indicators_are_ored_and_merged(journal: Journal) -> None:
    query = HuntQuery(sender="billing@supplier.example.com", subject="statement 5521")
    (hit,) = hunt(journal, query)
    assert hit.spool_id == "sp-malware"
    assert len(hit.matched) == 3  # sender, subject fingerprint, subject text


def test_sender_without_at_is_a_sender_domain(journal: Journal) -> None:
    assert len(hunt(journal, HuntQuery(sender="relay.example.com"))) == 3
    assert hunt(journal, HuntQuery(sender="example.com")) == []


def test_window_applies_to_every_lookup(journal: Journal) -> None:
    query = HuntQuery(domain="partner.example.net", since=NOW - 86400)
    assert [h.spool_id for h in hunt(journal, query)] == ["sp-clean"]


def test_empty_query() -> None:
    assert HuntQuery().empty
    assert not HuntQuery(subject="x").empty


# --- the command -----------------------------------------------------------------------------


def test_cli_hash_json(
    journal: Journal, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    sha256 = hashlib.sha256(PROGRAM).hexdigest()
    assert run_hunt(settings, "--hash", sha256, "--json") == 0
    (line,) = lines(capsys)
    assert line["spool_id"] == "sp-malware"
    assert line["subject"] == "Statement 5521"
    assert line["from"] == "billing@supplier.example.com"
    assert line["copies"] == [{"recipient": "carol@corp.example.org",
                               "location": "maildir:/srv/mail/carol/new/sp-malware"}]
    assert line["matched"] == [f"hash:{sha256}"]
    assert "received" in line


def test_cli_miss_exits_1(
    journal: Journal, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_hunt(settings, "--url", "https://nowhere.example/x", "--json") == 1
    assert lines(capsys) == []


def test_cli_hours_and_since_windows(
    journal: Journal, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_hunt(settings, "--url", "wiki.partner.example.net/minutes/12", "--json") == 0
    assert {line["spool_id"] for line in lines(capsys)} == {"sp-clean", "sp-old"}
    assert run_hunt(settings, "--url", "http://wiki.partner.example.net/minutes/12",
                    "--hours", "24", "--json") == 0
    assert [line["spool_id"] for line in lines(capsys)] == ["sp-clean"]
    assert run_hunt(settings, "--subject", "minutes", "--since", "2000-01-01T00:00",
                    "--until", "2000-01-02", "--json") == 1


def test_cli_table_output(
    journal: Journal, settings: Settings, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    assert run_hunt(settings, "--subject", "statement") == 0
    out = capsys.readouterr().out
    assert "sp-malware" in out and "sp-clean" not in out


def test_cli_without_indicator_is_a_usage_error(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_hunt(settings, "--json") == 2
    assert "give an indicator" in capsys.readouterr().err


def test_cli_bad_time_is_refused(settings: Settings) -> None:
    with pytest.raises(SystemExit):
        run_hunt(settings, "--domain", "x.example", "--since", "yesterday")


def test_cli_rescan_flags_the_program(
    journal: Journal, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_hunt(settings, "--rescan", "--json") == 0
    captured = capsys.readouterr()
    (line,) = [json.loads(x) for x in captured.out.splitlines()]
    assert line["spool_id"] == "sp-malware"
    assert line["was_action"] == "deliver"
    assert line["now_action"] in ("quarantine", "reject")
    assert "ATT_EXECUTABLE" in [f["symbol"] for f in line["findings"]]
    assert "re-scanned 2" in captured.err  # the 30-day-old one is outside the 24 h default


def test_cli_rescan_clean_window_flags_nothing(
    journal: Journal, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only the clean message is in this window.
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(NOW - 4000))
    until = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(NOW - 3000))
    assert run_hunt(settings, "--rescan", "--since", since, "--until", until, "--json") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "re-scanned 1" in captured.err


def test_cli_rescan_counts_purged_messages(
    journal: Journal, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    journal.purge(older_than=NOW)
    assert run_hunt(settings, "--rescan", "--hours", "48") == 1
    assert "without bytes 2" in capsys.readouterr().err
