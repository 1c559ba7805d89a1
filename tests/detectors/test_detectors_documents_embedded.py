"""DOC_EMBEDDED_EXECUTABLE: an OLE Package ("Ole10Native") inside an Office document holding a
program, script or shortcut, as in oletools' test samples sample_with_lnk_file.doc and
sample_with_calc_embedded.doc (a double click on the icon in the document runs it)."""

from __future__ import annotations

import struct

from helpers_detectors import attachment, by_symbol, make_message, pe_bytes, run
from test_detectors_documents_samples import compound_file, docx

from mailward.detectors._documents_office import embedded_packages
from mailward.detectors.documents import DocumentDetector
from mailward.model import Finding

_FREE = 0xFFFFFFFF
LNK = bytes.fromhex("4c0000000114020000000000c000000000000046") + bytes(56)


def ole10native(name: str, data: bytes) -> bytes:
    """An OLENativeStream (MS-OLEDS 2.3.6) packaging ``data`` as the file ``name``."""
    label = name.encode("latin-1") + b"\0"
    body = struct.pack("<H", 2) + label + b"C:\\Users\\a\\" + label + struct.pack("<II", 0, 0)
    body += b"C:\\Temp\\" + label + struct.pack("<I", len(data)) + data + struct.pack("<H", 0)
    return (struct.pack("<I", len(body)) + body).ljust(4096, b"\0")


def document_with_package(name: str, data: bytes) -> bytes:
    """An OLE2 file whose root holds an "\\x01Ole10Native" stream (an embedded package)."""
    return compound_file([
        ("Root Entry", 5, _FREE, 1, None),
        ("\x01Ole10Native", 2, _FREE, _FREE, ole10native(name, data)),
    ])  # fmt: skip


def findings(name: str, content: bytes) -> dict[str, Finding]:
    detector = DocumentDetector(DocumentDetector.Settings())
    return by_symbol(run(detector, make_message(attachments=(attachment(name, content),))))


def test_the_package_is_read_back() -> None:
    assert embedded_packages(document_with_package("run.lnk", LNK)) == [("run.lnk", LNK)]


def test_a_shortcut_in_a_document_hits() -> None:
    hit = findings("report.doc", document_with_package("invoice.pdf.lnk", LNK))
    assert "invoice.pdf.lnk" in hit["DOC_EMBEDDED_EXECUTABLE"].explanation


def test_a_program_under_a_harmless_name_hits_by_content() -> None:
    hit = findings("report.doc", document_with_package("notes.txt", pe_bytes()))
    assert "Windows program" in hit["DOC_EMBEDDED_EXECUTABLE"].explanation


def test_a_script_by_name_hits() -> None:
    assert "DOC_EMBEDDED_EXECUTABLE" in findings(
        "report.doc", document_with_package("setup.vbs", b'MsgBox "hi"\r\n'))


def test_an_embedded_text_file_misses() -> None:
    got = findings("report.doc", document_with_package("notes.txt", b"quarterly figures\r\n"))
    assert "DOC_EMBEDDED_EXECUTABLE" not in got


def test_a_document_without_packages_misses() -> None:
    assert "DOC_EMBEDDED_EXECUTABLE" not in findings("report.docx", docx())


def test_through_the_engine_the_document_is_quarantined() -> None:
    import asyncio
    from email.message import EmailMessage

    from mailward.config.settings import EngineSettings, Settings
    from mailward.engine.pipeline import Engine

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bob@partner.example.net", "a@example.com", "Report"
    msg.set_content("The report is attached.")
    msg.add_attachment(document_with_package("invoice.pdf.lnk", LNK), maintype="application",
                       subtype="msword", filename="report.doc")
    engine = Engine(Settings(engine=EngineSettings(disabled=("content",))))
    outcome = asyncio.run(engine.scan(bytes(msg)))
    assert str(outcome.verdict.action) in ("quarantine", "reject")
