"""`mailward eval` with a labels file: per kind and per source, false positives, missed
messages, unlabelled files, malformed labels, and `--disable` (on `scan` too)."""

from __future__ import annotations

import email.policy
import json
import os
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailward.cli import _eval_report
from mailward.cli._labels import UNLABELLED, Label, Labels
from mailward.cli.main import main

HEADER = "file,class,source,kind\n"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MAILWARD"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "300")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mailward.toml"
    # rule detectors only: the statistical model's scores move with every retraining
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[engine]\ndisabled = ["content"]\n')
    return path


def message(sender: str, subject: str, body: str, exe: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Alice <alice@example.com>"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 04 Jun 2024 10:00:00 +0000"
    msg["Message-ID"] = f"<{subject.lower().replace(' ', '-')}@partner.example.net>"
    msg.set_content(body)
    if exe:  # a minimal Windows program header, built at test time
        pe = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00\x4c\x01" + b"\0" * 200
        msg.add_attachment(pe, maintype="application", subtype="pdf", filename="invoice.pdf")
    return msg.as_bytes(policy=email.policy.SMTP)


BOB = "Bob Sender <bob@partner.example.net>"
MESSAGES = {
    "ham/notes.eml": message(BOB, "Notes from Tuesday", "Here are the notes. Nothing urgent."),
    "ham/agenda.eml": message(BOB, "Agenda", "The agenda for Thursday is attached below."),
    "ham/invoice.eml": message(BOB, "Invoice 7", "Invoice attached.", exe=True),
    "ham/extra.eml": message(BOB, "Lunch", "Lunch at noon?"),  # not in the labels
    "phish/display.eml": message(
        '"ceo@example.com" <ceo.office@mailer.example.org>', "Quick favour",
        "Are you at your desk? I need a quick favour, reply as soon as you can.",
    ),
    "phish/plain.eml": message(BOB, "Friday", "See you on Friday."),
    "spam/offer.eml": message(BOB, "Offer", "A fine offer for you."),
}
LABELS = {
    "ham/notes.eml": "ham,enron,business",
    "ham/agenda.eml": "ham,enron,business",
    "ham/invoice.eml": "ham,vendor-x,transactional",
    "phish/display.eml": "phish,pp-old,phish",
    "phish/plain.eml": "phish,pp-new,phish",
    "spam/offer.eml": "spam,spam-1,spam",
}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    for rel, raw in MESSAGES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(raw)
    (root / "SOURCES.csv").write_text(HEADER + "".join(f"{f},{v}\n" for f, v in LABELS.items()))
    return root


def eval_json(config: Path, corpus: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert main(["-c", str(config), "eval", "--json", *args, str(corpus)]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_counts_per_kind_and_source(
    config: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = eval_json(config, corpus, capsys)
    assert summary["labels"] == str(corpus / "SOURCES.csv")
    assert {"classes", "messages", "by_kind", "by_source", "false_positives", "missed"} <= set(
        summary
    )
    ham = summary["by_kind"]["ham"]
    assert set(ham) == {"business", "transactional", UNLABELLED}
    assert ham["business"]["messages"] == 2 and ham["business"]["actions"]["deliver"] == 2
    assert ham["transactional"]["actions"]["quarantine"] == 1
    assert ham["transactional"]["caught_rate"] == 1.0
    assert ham[UNLABELLED]["messages"] == 1
    assert summary["by_kind"]["spam"]["spam"]["messages"] == 1
    phish = summary["by_source"]["phish"]
    assert phish["pp-old"]["actions"]["deliver"] == 0
    assert phish["pp-new"]["actions"]["deliver"] == 1
    assert summary["by_source"]["ham"]["enron"]["messages"] == 2
    assert summary["classes"]["ham"]["messages"] == 4  # the class table is unchanged


def test_json_lists_false_positives_and_missed_with_their_symbols(
    config: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = eval_json(config, corpus, capsys)
    [fp] = summary["false_positives"]
    assert fp["path"] == "ham/invoice.eml"
    assert (fp["source"], fp["kind"], fp["action"]) == ("vendor-x", "transactional", "quarantine")
    assert "ATT_EXECUTABLE" in fp["top_symbols"]
    assert 0 < len(fp["top_symbols"]) <= 3
    assert fp["score"] >= max(fp["top_symbols"].values()) > 0
    [missed] = summary["missed"]
    assert (missed["path"], missed["kind"], missed["action"]) == ("phish/plain.eml", "phish", "deliver")


def test_text_report_has_kind_and_source_tables_and_the_lists(
    config: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-c", str(config), "eval", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "mailward eval" in out and "by kind" in out and "by source" in out
    assert re.search(r"ham\s*│\s*transactional\s*│\s*1\s*│\s*0\s*│", out)
    assert re.search(r"ham\s*│\s*unlabelled\s*│\s*1\s*│\s*1\s*│", out)
    assert re.search(r"phish\s*│\s*pp-new\s*│\s*1\s*│\s*1\s*│", out)
    assert "false positives: 1 of 4 ham not delivered" in out
    fp_line = next(line for line in out.splitlines() if "ham/invoice.eml" in line)
    assert re.search(r"transactional\s+quarantine\s+\d+\.\d\d\s+ATT_EXECUTABLE:\d", fp_line)
    assert "missed: 1 of 2 phish delivered" in out
    assert re.search(r"phish/plain\.eml\s+phish\s+deliver", out)
    last = out.strip().splitlines()[-1]
    assert re.match(r"7 messages in [\d.]+ s: [\d.]+ messages/s, [\d.]+ CPU ms/message", last)


def test_missed_messages_are_capped_in_the_text(
    config: Path, corpus: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (corpus / "phish" / "plain2.eml").write_bytes(message(BOB, "Monday", "See you on Monday."))
    monkeypatch.setattr(_eval_report, "MISSED_SHOWN", 1)
    assert main(["-c", str(config), "eval", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "missed: 2 of 3 phish delivered (the first 1)" in out
    assert "... and 1 more (--json lists them all)" in out
    assert out.count("  phish/plain") == 1


def test_sources_elsewhere_and_no_sources(
    config: Path, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "labels.csv"
    other.write_text("kind,file,class,source,note\nnewsletter,ham/notes.eml,ham,list-a,x\n")
    summary = eval_json(config, corpus, capsys, "--sources", str(other))
    assert summary["labels"] == str(other)
    assert summary["by_kind"]["ham"]["newsletter"]["messages"] == 1
    assert summary["by_kind"]["ham"][UNLABELLED]["messages"] == 3
    assert summary["by_source"]["ham"]["list-a"]["messages"] == 1
    summary = eval_json(config, corpus, capsys, "--no-sources")
    assert summary["labels"] is None and summary["by_kind"] == {} and summary["by_source"] == {}
    assert [fp["kind"] for fp in summary["false_positives"]] == [None]
    assert main(["-c", str(config), "eval", "--no-sources", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "by kind" not in out and "false positives: 1 of 4" in out


def test_holdout_and_training_part_still_split_the_corpus(
    config: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = eval_json(config, corpus, capsys, "--holdout")
    trained = eval_json(config, corpus, capsys, "--training-part", "--limit", "5")
    assert held["messages"] + trained["messages"] == len(MESSAGES)
    kinds = (held["by_kind"], trained["by_kind"])
    assert sum(k.get("ham", {}).get("business", {}).get("messages", 0) for k in kinds) == 2


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "is empty"),
        ("file,class,source\nham/notes.eml,ham,enron\n", "line 1: the header lacks the column(s) kind"),
        (HEADER + "ham/notes.eml,ham,enron\n", "line 2: 3 fields where the header has 4"),
        (HEADER + "ham/notes.eml,ham,enron,\n", "line 2: empty kind"),
        (HEADER + "ham/notes.eml,phish,enron,business\n", "in the folder ham/ but labelled 'phish'"),
        (HEADER + "notes.eml,ham,enron,business\n", "is not a path inside a class folder"),
        (HEADER + "ham/a.eml,ham,x,y\n\nham/a.eml,ham,x,z\n", "line 4: ham/a.eml is labelled again"),
        (HEADER + 'ham/a.eml,ham,"x\n', "not valid CSV"),
    ],
)
def test_a_malformed_labels_file_exits_1_naming_it_and_the_problem(
    config: Path, corpus: Path, capsys: pytest.CaptureFixture[str], content: str, problem: str
) -> None:
    labels = corpus / "SOURCES.csv"
    labels.write_text(content)
    assert main(["-c", str(config), "eval", str(corpus)]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(f"mailward: error: {labels}")
    assert problem in captured.err
    assert captured.out == ""


def test_a_missing_or_binary_sources_file_exits_1(
    config: Path, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.csv"
    assert main(["-c", str(config), "eval", "--sources", str(missing), str(corpus)]) == 1
    assert f"{missing}: cannot read the labels file" in capsys.readouterr().err
    binary = tmp_path / "labels.csv"
    binary.write_bytes(b"file,class\xff\n")
    assert main(["-c", str(config), "eval", "--sources", str(binary), str(corpus)]) == 1
    assert f"{binary}: the labels file is not UTF-8 text" in capsys.readouterr().err


def test_an_mbox_message_takes_the_label_of_its_file() -> None:
    labels = Labels(Path("SOURCES.csv"), {"ham/box.mbox": Label("list-a", "mailing-list")})
    assert labels.get("ham/box.mbox#3") == Label("list-a", "mailing-list")
    assert labels.get("ham/other.eml").kind == UNLABELLED


# --- --disable ----------------------------------------------------------------------------


def test_disable_removes_the_detector_and_its_symbols(
    config: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = eval_json(config, corpus, capsys)
    assert "IMP_DISPLAY_NAME_ADDRESS" in before["classes"]["phish"]["top_symbols"]
    # auth too: it reads the From header's tricks even without DNS (the display name's address)
    after = eval_json(config, corpus, capsys, "--disable", "impersonation,content,auth")
    assert not any(s.startswith("IMP_") for s in after["classes"]["phish"]["top_symbols"])
    assert {m["path"] for m in after["missed"]} == {"phish/display.eml", "phish/plain.eml"}
    # a second --disable adds to the first
    both = eval_json(config, corpus, capsys, "--disable", "impersonation", "--disable", "attachments")
    assert both["false_positives"] == []


def test_scan_disable_removes_the_symbols_too(
    config: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = str(corpus / "ham" / "invoice.eml")
    assert main(["-c", str(config), "scan", "--json", "--disable", "attachments", target]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["action"] == "deliver"
    assert not any(f["symbol"].startswith("ATT_") for f in line["findings"])


@pytest.mark.parametrize("command", ["eval", "scan"])
def test_an_unknown_detector_name_is_a_usage_error(
    config: Path, corpus: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["-c", str(config), command, "--disable", "content,nosuch", str(corpus)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --disable: unknown detector 'nosuch' (known: " in err
    assert "impersonation" in err
