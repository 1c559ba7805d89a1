"""DocumentDetector on PDFs: JavaScript, Launch, embedded files, link lures, malformed files."""

from __future__ import annotations

import io
import logging

import pytest
from helpers_detectors import attachment, by_symbol, make_message, pe_bytes, run
from pypdf import PdfWriter
from test_detectors_documents_samples import LONG_TEXT, link_annot, page_pdf, pdf

from mailward.detectors._documents_pdf import token_counts
from mailward.detectors.documents import DocumentDetector
from mailward.model import Attachment, Finding

LURE_URL = "https://secure-docs.example.net/view?id=42"


def findings(*atts: Attachment) -> dict[str, Finding]:
    detector = DocumentDetector(DocumentDetector.Settings())
    return by_symbol(run(detector, make_message(attachments=atts)))


def written(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_open_action_javascript_hits() -> None:
    doc = page_pdf(LONG_TEXT, "/OpenAction << /S /JavaScript /JS (app.alert\\(1\\);) >>")
    found = findings(attachment("statement.pdf", doc))
    assert found["PDF_JAVASCRIPT"].factor == 1.0
    assert '"statement.pdf"' in found["PDF_JAVASCRIPT"].explanation


def test_document_level_javascript_in_the_name_tree_hits() -> None:
    names = "/Names << /JavaScript << /Names [(init) << /S /JavaScript /JS (app.alert\\(1\\);) >>] >> >>"
    found = findings(attachment("form.pdf", page_pdf(LONG_TEXT, names)))
    assert found["PDF_JAVASCRIPT"].factor == 1.0


def test_plain_text_pdf_misses_everything() -> None:
    assert findings(attachment("report.pdf", page_pdf(LONG_TEXT))) == {}


def test_launch_action_hits_with_its_target() -> None:
    doc = page_pdf(LONG_TEXT, "/OpenAction << /S /Launch /Win << /F (cmd.exe) >> >>")
    found = findings(attachment("scan.pdf", doc))
    assert "cmd.exe" in found["PDF_LAUNCH"].explanation


def test_embedded_program_is_full_strength_and_embedded_text_is_weaker() -> None:
    def with_file(name: str, data: bytes) -> bytes:
        writer = PdfWriter()
        writer.add_blank_page(612, 792)
        writer.add_attachment(name, data)
        return written(writer)

    program = findings(attachment("a.pdf", with_file("update.exe", pe_bytes())))[
        "PDF_EMBEDDED_FILE"
    ]
    text = findings(attachment("b.pdf", with_file("notes.txt", b"see you at ten\n")))[
        "PDF_EMBEDDED_FILE"
    ]
    assert program.factor == 1.0 and "Windows program" in program.explanation
    assert text.factor < 1.0 and "notes.txt" in text.evidence


def test_one_page_link_only_pdf_is_a_lure_with_the_url() -> None:
    doc = page_pdf("View the shared document", annots=link_annot(LURE_URL))
    hit = findings(attachment("shared.pdf", doc))["PDF_LINK_LURE"]
    assert hit.evidence == (LURE_URL,)


def test_text_rich_pdf_with_a_link_is_not_a_lure() -> None:
    doc = page_pdf(LONG_TEXT, annots=link_annot(LURE_URL))
    assert "PDF_LINK_LURE" not in findings(attachment("paper.pdf", doc))


def test_hex_escaped_names_are_counted() -> None:
    counts = token_counts(b"<< /S /J#61vaScript /J#53 (x) /#4Caunch >>")
    assert counts["JavaScript"] == 1 and counts["JS"] == 1 and counts["Launch"] == 1
    assert token_counts(b"<< /Type /Page /Font /F1 >>") == {}


def test_malformed_pdf_with_escaped_javascript_still_hits() -> None:
    broken = b"%PDF-1.5\n1 0 obj << /OpenAction << /S /J#61vaScript /JS (x) >> \ngarbage\x00\xff"
    found = findings(attachment("broken.pdf", broken))
    assert found["PDF_JAVASCRIPT"].factor == 1.0
    assert "malformed" in found["PDF_JAVASCRIPT"].explanation


def test_malformed_pdf_without_active_tokens_misses() -> None:
    broken = b"%PDF-1.5\n1 0 obj << /Type /Catalog \ngarbage\x00\xff"
    assert findings(attachment("broken.pdf", broken)) == {}


def test_a_malformed_pdf_puts_no_pypdf_warnings_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = b"%PDF-1.5\n1 0 obj << /Type /Catalog >> endobj\nstartxref\n999\n"
    with caplog.at_level(logging.WARNING):
        findings(attachment("broken.pdf", broken))
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]


def test_unreferenced_javascript_object_is_weaker() -> None:
    doc = pdf(
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [] /Count 0 >>",
        "<< /S /JavaScript /JS (app.alert\\(1\\);) >>",
    )
    assert findings(attachment("odd.pdf", doc))["PDF_JAVASCRIPT"].factor == 0.5


def _encrypted_pdf(user_password: str) -> bytes:
    """A one-page PDF encrypted with ``user_password`` (empty: only an owner password)."""
    writer = PdfWriter()
    writer.append(io.BytesIO(page_pdf(LONG_TEXT)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_pdf_that_needs_a_password_to_open_hits() -> None:
    hit = findings(attachment("statement.pdf", _encrypted_pdf("4711")))["PDF_ENCRYPTED"]
    assert "password" in hit.explanation


def test_a_pdf_with_only_an_owner_password_or_none_misses() -> None:
    assert "PDF_ENCRYPTED" not in findings(attachment("invoice.pdf", _encrypted_pdf("")))
    assert "PDF_ENCRYPTED" not in findings(attachment("plain.pdf", page_pdf(LONG_TEXT)))
