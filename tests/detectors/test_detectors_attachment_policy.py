"""The operator's attachment policy: blocked_extensions / blocked_types -> ATT_BLOCKED_TYPE."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import zipfile
from typing import Any

from helpers_detectors import PDF_BYTES, attachment, by_symbol, make_message, pe_bytes, run

from mailward.config.settings import Settings
from mailward.detectors._attachment_policy import blocked_name, blocked_type
from mailward.detectors.attachments import ExecutableAttachmentDetector as Detector
from mailward.engine.pipeline import Engine
from mailward.model import Action, Attachment, Finding

SYMBOL = "ATT_BLOCKED_TYPE"


def findings(*atts: Attachment, **settings: Any) -> dict[str, Finding]:
    detector = Detector(Detector.Settings(**settings))
    return by_symbol(run(detector, make_message(attachments=atts)))


def zipped(**members: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name.replace("__", "/").replace("_", "."), data)
    return buf.getvalue()


def test_settings_are_normalised_and_empty_by_default() -> None:
    assert Detector.Settings().blocked_extensions == ()
    assert Detector.Settings().blocked_types == ()
    settings = Detector.Settings(blocked_extensions=[".ZIP", "iso", " .img ", "."])
    assert settings.blocked_extensions == ("zip", "iso", "img")
    assert Detector.Settings(blocked_types=[" Application/ZIP "]).blocked_types == (
        "application/zip",
    )


def test_blocked_extension_hits_the_file_name() -> None:
    found = findings(attachment("Invoice.ZIP", b"text"), blocked_extensions=[".zip"])
    assert found[SYMBOL].evidence == ("Invoice.ZIP",)
    assert '".zip"' in found[SYMBOL].explanation


def test_blocked_extension_hits_any_name_a_program_could_show() -> None:
    att = dataclasses.replace(
        attachment("photo.png", b"text"), names=("photo.png", "archive.zip")
    )
    found = findings(att, blocked_extensions=["zip"])
    assert found[SYMBOL].evidence == ("archive.zip",)
    assert "photo.png" in found[SYMBOL].explanation


def test_blocked_extension_misses_other_names_and_empty_policy() -> None:
    assert SYMBOL not in findings(attachment("report.pdf", PDF_BYTES), blocked_extensions=["zip"])
    assert SYMBOL not in findings(attachment("zip codes.txt", b"x"), blocked_extensions=["zip"])
    assert SYMBOL not in findings(attachment("a.zip", zipped(a_txt=b"x")))


def test_blocked_type_hits_the_true_type_whatever_the_name() -> None:
    found = findings(attachment("report.pdf", zipped(a_txt=b"x")), blocked_types=["application/zip"])
    assert "application/zip" in found[SYMBOL].explanation
    pattern = findings(attachment("x.bin", pe_bytes()), blocked_types=["application/*executable"])
    assert SYMBOL in pattern


def test_blocked_type_misses_other_types() -> None:
    assert SYMBOL not in findings(attachment("a.pdf", PDF_BYTES), blocked_types=["application/zip"])


def test_names_inside_archives_are_checked() -> None:
    data = zipped(docs__setup_iso=b"x" * 10, readme_txt=b"hello")
    found = findings(attachment("docs.zip", data), blocked_extensions=[".iso"])
    assert found[SYMBOL].evidence == ("docs.zip > docs/setup.iso",)
    assert SYMBOL not in findings(attachment("docs.zip", data), blocked_extensions=[".js"])


def test_types_inside_archives_are_checked() -> None:
    data = zipped(report_txt=PDF_BYTES)
    found = findings(attachment("docs.zip", data), blocked_types=["application/pdf"])
    assert found[SYMBOL].evidence == ("docs.zip > report.txt",)


def test_name_and_type_helpers() -> None:
    assert blocked_name(["a.pdf", "b.ZIP. "], ("zip",)) == ("b.ZIP. ", "zip")
    assert blocked_name(["a\u202e.zip"], ("zip",)) is not None
    assert blocked_name(["a.zipx"], ("zip",)) is None
    assert blocked_type("application/zip; charset=binary", ("application/zip",)) is not None
    assert blocked_type("", ("*",)) is None


def test_symbol_is_forced_to_quarantine_by_default() -> None:
    rules = {r.symbol: r.action for r in Settings().policy.force}
    assert rules[SYMBOL] == Action.QUARANTINE
    raw = (
        b"From: a@example.org\r\nTo: b@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
        b"Here they are.\r\n--b\r\nContent-Type: application/octet-stream; name=a.zip\r\n\r\n"
        b"plain text\r\n--b--\r\n"
    )
    settings = Settings.model_validate(
        {"detectors": {"attachments": {"blocked_extensions": [".zip"]}}}
    )
    verdict = asyncio.run(Engine(settings).scan(raw)).verdict
    assert verdict.action == Action.QUARANTINE and verdict.forced_by == SYMBOL
    assert asyncio.run(Engine(Settings()).scan(raw)).verdict.action == Action.DELIVER
