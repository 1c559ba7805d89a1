"""The `mailward` command in-process: scan, eval, configuration errors, quarantine."""

from __future__ import annotations

import email.policy
import json
import mailbox
import os
import shutil
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailward.cli.main import main
from mailward.delivery.maildir import iter_messages
from mailward.model import Action, Finding
from mailward.spool.queue import new_spool_id
from mailward.store import MessageRecord, open_store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
EXPECTED = {
    "clean/plain_text.eml": Action.DELIVER,
    "clean/html_matching_link.eml": Action.DELIVER,
    "attachments/harmless_pdf.eml": Action.DELIVER,
    "phish/display_name_address.eml": Action.TAG,
    "phish/link_text_mismatch.eml": Action.TAG,
}
JSON_KEYS = {"path", "message_id", "action", "score", "findings", "elapsed_ms"}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MAILWARD"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "300")  # rich tables: no truncated ids


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mailward.toml"
    # The expected actions are those of the rule detectors; the statistical model, whose scores
    # move with every retraining, has tests of its own.
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[engine]\ndisabled = ["content"]\n')
    return path


def data_dir(config: Path) -> Path:
    return config.parent / "data"


def pe_bytes() -> bytes:
    """A minimal Windows program header, built at test time (never committed)."""
    return b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00\x4c\x01" + b"\0" * 200


def executable_message(to: str = "carol@example.com") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Billing <billing@supplier.example.net>"
    msg["To"] = to
    msg["Subject"] = "Invoice 7"
    msg["Message-ID"] = "<exe-7@supplier.example.net>"
    msg.set_content("Invoice attached.")
    msg.add_attachment(pe_bytes(), maintype="application", subtype="pdf", filename="invoice.pdf")
    return msg.as_bytes(policy=email.policy.SMTP)


def scan_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def symbols(line: dict[str, Any]) -> list[str]:
    return [f["symbol"] for f in line["findings"]]


# --- scan ---------------------------------------------------------------------------------


def test_scan_json_over_the_fixture_folder(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-c", str(config), "scan", "--json", str(FIXTURES)]) == 0
    lines = scan_lines(capsys)
    by_path = {str(Path(str(d["path"])).relative_to(FIXTURES)): d for d in lines}
    assert set(by_path) == set(EXPECTED)
    for name, want in EXPECTED.items():
        got = by_path[name]
        assert set(got) >= JSON_KEYS
        assert isinstance(got["elapsed_ms"], float | int) and got["elapsed_ms"] >= 0
        action = Action(str(got["action"]))
        if want is Action.DELIVER:
            assert action is Action.DELIVER, name
            # clean: nothing suspicious; a sender whose links stay with it may earn credit
            assert all(float(f["score"]) <= 0 for f in got["findings"]), name
            assert float(got["score"]) <= 0, name
        else:
            assert action.severity >= want.severity, name
            assert float(str(got["score"])) >= 5.0, name
            for finding in got["findings"]:
                assert {"symbol", "score", "explanation"} <= set(finding)
                assert finding["explanation"]
    assert by_path["clean/plain_text.eml"]["message_id"] == "plain-text@partner.example.net"
    assert "IMP_DISPLAY_NAME_ADDRESS" in symbols(by_path["phish/display_name_address.eml"])
    assert "URL_TEXT_MISMATCH" in symbols(by_path["phish/link_text_mismatch.eml"])


def test_scan_json_quarantines_an_executable_built_at_test_time(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exe = tmp_path / "invoice_exe.eml"
    exe.write_bytes(executable_message())
    clean = FIXTURES / "clean" / "plain_text.eml"
    assert main(["-c", str(config), "scan", "--json", str(exe), str(clean)]) == 0
    first, second = scan_lines(capsys)
    assert first["path"] == str(exe)
    assert first["action"] == "quarantine"
    assert "ATT_EXECUTABLE" in symbols(first)
    assert second["path"] == str(clean)
    assert second["action"] == "deliver"


def test_scan_of_an_mbox_prints_one_line_per_message(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "box.mbox"
    box = mailbox.mbox(path)
    try:
        for name in ("clean/plain_text.eml", "phish/display_name_address.eml",
                     "clean/html_matching_link.eml"):
            box.add((FIXTURES / name).read_bytes())
        box.flush()
    finally:
        box.close()
    assert main(["-c", str(config), "scan", "--json", str(path)]) == 0
    lines = scan_lines(capsys)
    assert [d["path"] for d in lines] == [f"{path}#0", f"{path}#1", f"{path}#2"]
    assert [d["message_id"] for d in lines] == [
        "plain-text@partner.example.net",
        "display-name@mailer.example.org",
        "html-matching@partner.example.net",
    ]
    assert [d["action"] for d in lines] == ["deliver", "tag", "deliver"]


def test_scan_table_without_json(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = FIXTURES / "phish" / "display_name_address.eml"
    assert main(["-c", str(config), "scan", str(target)]) == 0
    out = capsys.readouterr().out
    assert "IMP_DISPLAY_NAME_ADDRESS" in out
    assert "tag" in out
    assert not out.lstrip().startswith("{")


def test_scan_of_a_missing_path_exits_1_naming_it(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-message.eml"
    assert main(["-c", str(config), "scan", "--json", str(missing)]) == 1
    captured = capsys.readouterr()
    assert str(missing) in captured.err
    assert captured.out == ""


# --- eval ---------------------------------------------------------------------------------


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    for cls, src in (("ham", "clean"), ("phish", "phish")):
        shutil.copytree(FIXTURES / src, root / cls)
    return root


def test_eval_json_gives_rates_and_throughput(
    config: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-c", str(config), "eval", "--json", str(corpus)]) == 0
    summary = json.loads(capsys.readouterr().out)
    ham, phish = summary["classes"]["ham"], summary["classes"]["phish"]
    assert ham["messages"] == 2 and phish["messages"] == 2
    assert ham["caught_rate"] == 0.0
    assert ham["actions"]["deliver"] == 2
    assert phish["caught_rate"] == 1.0
    assert phish["actions"]["deliver"] == 0
    assert phish["blocked_rate"] == 0.0
    assert {"IMP_DISPLAY_NAME_ADDRESS", "URL_TEXT_MISMATCH"} <= set(phish["top_symbols"])
    assert summary["messages"] == 4
    assert summary["messages_per_second"] > 0


def test_eval_counts_a_blocked_executable(
    config: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (corpus / "malware").mkdir()
    (corpus / "malware" / "exe.eml").write_bytes(executable_message())
    assert main(["-c", str(config), "eval", "--json", str(corpus)]) == 0
    malware = json.loads(capsys.readouterr().out)["classes"]["malware"]
    assert malware["actions"]["quarantine"] == 1
    assert malware["blocked_rate"] == 1.0


def test_eval_prints_a_table(
    config: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-c", str(config), "eval", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "mailward eval" in out
    assert "ham" in out and "phish" in out
    assert "0.00%" in out and "100.00%" in out
    assert "messages/s" in out


def test_eval_without_class_folders_exits_1_naming_the_dir(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(FIXTURES / "clean" / "plain_text.eml", flat)
    assert main(["-c", str(config), "eval", "--json", str(flat)]) == 1
    captured = capsys.readouterr()
    assert str(flat) in captured.err
    assert "class folders" in captured.err
    assert captured.out == ""


def test_eval_of_a_missing_dir_exits_1(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-c", str(config), "eval", str(tmp_path / "nowhere")]) == 1
    assert str(tmp_path / "nowhere") in capsys.readouterr().err


# --- configuration ------------------------------------------------------------------------


def test_unknown_config_key_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[smtp]\nlisten_prot = 25\n')
    target = FIXTURES / "clean" / "plain_text.eml"
    assert main(["-c", str(path), "scan", "--json", str(target)]) == 2
    captured = capsys.readouterr()
    assert "smtp.listen_prot" in captured.err
    assert "unknown key" in captured.err
    assert captured.out == ""


def test_known_config_keys_are_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "good.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[smtp]\nlisten_port = 25\n')
    target = FIXTURES / "clean" / "plain_text.eml"
    assert main(["-c", str(path), "scan", "--json", str(target)]) == 0
    assert capsys.readouterr().err == ""


# --- quarantine ---------------------------------------------------------------------------

EXE_RAW = executable_message()


@pytest.fixture
def held_id(config: Path) -> str:
    entry_id = new_spool_id()
    rec = MessageRecord(
        id=entry_id, received_at=time.time(), mail_from="billing@supplier.example.net",
        rcpt_tos=("carol@example.com",), peer_ip="192.0.2.9",
        message_id="exe-7@supplier.example.net", subject="Invoice 7", size=len(EXE_RAW),
        sha256="0" * 64, score=12.0, action="quarantine", reason="ATT_EXECUTABLE forces quarantine",
        findings=(Finding("ATT_EXECUTABLE", "invoice.pdf is a Windows program.", score=12.0),),
    )
    store = open_store(f"sqlite:///{data_dir(config) / 'mailward.db'}")
    try:
        assert store.quarantine(rec, EXE_RAW)
    finally:
        store.close()
    return entry_id


def quarantine(config: Path, *args: str) -> int:
    return main(["-c", str(config), "quarantine", *args])


def test_quarantine_list_shows_held_entries(
    config: Path, held_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert quarantine(config, "list") == 0
    out = capsys.readouterr().out
    assert held_id in out and "Invoice 7" in out
    assert quarantine(config, "list", "--status", "released") == 0
    assert held_id not in capsys.readouterr().out


def test_quarantine_show_and_raw(
    config: Path, held_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert quarantine(config, "show", held_id) == 0
    out = capsys.readouterr().out
    assert held_id in out and "ATT_EXECUTABLE" in out and "carol@example.com: held" in out
    assert quarantine(config, "show", "--raw", held_id) == 0
    assert "Subject: Invoice 7" in capsys.readouterr().out


def test_quarantine_show_of_an_unknown_id_exits_1(
    config: Path, held_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert quarantine(config, "show", "0000000000000nothere") == 1
    assert "0000000000000nothere" in capsys.readouterr().err


def test_quarantine_release_delivers_and_audits(
    config: Path, held_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    maildir = data_dir(config) / "maildir"
    assert list(iter_messages(maildir, "carol@example.com")) == []
    assert quarantine(config, "release", held_id, "--reason", "checked: a test file",
                      "--actor", "analyst") == 0
    assert "delivered" in capsys.readouterr().out
    [path] = iter_messages(maildir, "carol@example.com")
    assert path.read_bytes().endswith(EXE_RAW)
    store = open_store(f"sqlite:///{data_dir(config) / 'mailward.db'}")
    try:
        [audit] = store.audit_log(held_id)
        assert (audit.actor, audit.action, audit.reason) == (
            "analyst", "release", "checked: a test file")
        assert audit.recipients == ("carol@example.com",)
        entry = store.get_quarantine(held_id)
        assert entry is not None and entry.status == "released"
    finally:
        store.close()
    # Released once: a second release finds nothing held, and nothing more is delivered.
    assert quarantine(config, "release", held_id, "--reason", "again") == 1
    assert "not held" in capsys.readouterr().err
    assert len(list(iter_messages(maildir, "carol@example.com"))) == 1


def test_quarantine_delete_requires_a_reason(
    config: Path, held_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        quarantine(config, "delete", held_id)
    assert exc.value.code == 2
    assert "--reason" in capsys.readouterr().err
    store = open_store(f"sqlite:///{data_dir(config) / 'mailward.db'}")
    try:
        assert store.audit_log(held_id) == []
        entry = store.get_quarantine(held_id)
        assert entry is not None and entry.status == "held"
    finally:
        store.close()


def test_quarantine_delete_audits(
    config: Path, held_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert quarantine(config, "delete", held_id, "--reason", "malware", "--actor", "sec") == 0
    assert "deleted" in capsys.readouterr().out
    store = open_store(f"sqlite:///{data_dir(config) / 'mailward.db'}")
    try:
        [audit] = store.audit_log(held_id)
        assert (audit.actor, audit.action, audit.reason) == ("sec", "delete", "malware")
        entry = store.get_quarantine(held_id)
        assert entry is not None and entry.status == "deleted"
    finally:
        store.close()
    assert list(iter_messages(data_dir(config) / "maildir", "carol@example.com")) == []
