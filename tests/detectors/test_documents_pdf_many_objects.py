"""PDFs with very many objects skip pypdf (its cost grows with them) for the raw token scan."""

from __future__ import annotations

import pytest
from helpers_detectors import attachment, by_symbol, make_message, run
from test_detectors_documents_samples import LONG_TEXT, pdf

import mailward.detectors._documents_pdf as pdf_module
from mailward.detectors._documents_pdf import DEFAULT_MAX_OBJECTS, object_count
from mailward.detectors.documents import DocumentDetector, DocumentSettings
from mailward.model import Finding

OPEN_JS = "/OpenAction << /S /JavaScript /JS (app.alert\\(1\\);) >>"
OPEN_LAUNCH = "/OpenAction << /S /Launch /Win << /F (cmd.exe) >> >>"


def many_objects_pdf(catalog_extra: str, fillers: int) -> bytes:
    """A one-page PDF with ``fillers`` extra small objects after its five real ones."""
    stream = f"BT /F1 11 Tf 72 720 Td ({LONG_TEXT.splitlines()[0]}) Tj ET"
    objects = [
        f"<< /Type /Catalog /Pages 2 0 R {catalog_extra} >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    objects.extend(f"<< /Filler {i} >>" for i in range(fillers))
    return pdf(*objects)


@pytest.fixture
def reader_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the PdfReader constructions (pypdf parses) of the PDF analysis."""
    calls: list[int] = []
    real = pdf_module.PdfReader

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pdf_module, "PdfReader", counting)
    return calls


def findings(doc: bytes, max_objects: int = DEFAULT_MAX_OBJECTS) -> dict[str, Finding]:
    detector = DocumentDetector(DocumentSettings(pdf_max_objects=max_objects))
    msg = make_message(attachments=(attachment("invoice.pdf", doc),))
    return by_symbol(run(detector, msg))


def test_object_count_counts_objects_and_object_streams() -> None:
    assert object_count(many_objects_pdf("", 300)) == 305
    packed = (
        b"%PDF-1.7\n1 0 obj\n<< /Type /ObjStm /N 4000 /First 9 >>\nstream\nx\nendstream\nendobj\n"
    )
    assert object_count(packed) == 4001


def test_many_objects_use_the_raw_scan_and_still_find_open_action_js(
    reader_calls: list[int],
) -> None:
    found = findings(many_objects_pdf(OPEN_JS, 300), max_objects=100)
    assert reader_calls == []
    js = found["PDF_JAVASCRIPT"]
    assert {"/JavaScript", "/OpenAction"} <= set(js.evidence)
    assert "raw scan" in js.explanation and "305 objects" in js.explanation
    assert js.factor == 1.0


def test_default_threshold_skips_pypdf_for_a_huge_pdf(reader_calls: list[int]) -> None:
    found = findings(many_objects_pdf(OPEN_JS, DEFAULT_MAX_OBJECTS + 10))
    assert reader_calls == []
    assert "raw scan" in found["PDF_JAVASCRIPT"].explanation


def test_raw_scan_of_a_huge_plain_pdf_misses(reader_calls: list[int]) -> None:
    assert findings(many_objects_pdf("", 300), max_objects=100) == {}
    assert reader_calls == []


def test_under_the_threshold_pypdf_parses_as_before(reader_calls: list[int]) -> None:
    found = findings(many_objects_pdf(OPEN_LAUNCH, 300), max_objects=1000)
    assert reader_calls == [1]
    assert "cmd.exe" in found["PDF_LAUNCH"].explanation  # only pypdf reads the target
    js = findings(many_objects_pdf(OPEN_JS, 300), max_objects=1000)["PDF_JAVASCRIPT"]
    assert "raw scan" not in js.explanation
    assert "when opened" in js.explanation


def test_over_the_threshold_launch_has_no_parsed_target(reader_calls: list[int]) -> None:
    found = findings(many_objects_pdf(OPEN_LAUNCH, 300), max_objects=100)
    assert reader_calls == []
    assert "cmd.exe" not in found["PDF_LAUNCH"].explanation
    assert "raw scan" in found["PDF_LAUNCH"].explanation


def test_threshold_setting_must_be_positive() -> None:
    with pytest.raises(ValueError):
        DocumentSettings(pdf_max_objects=0)
