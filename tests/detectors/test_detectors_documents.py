"""DocumentDetector on Office files: macros, XLM, remote templates, DDE, encryption."""

from __future__ import annotations

import io

import msoffcrypto
import pytest
from helpers_detectors import attachment, by_symbol, make_message, run
from test_detectors_documents_samples import (
    AUTO_MACRO,
    PLAIN_MACRO,
    docm,
    docx,
    relationships,
    vba_project,
)

from mailward.detectors.documents import DocumentDetector
from mailward.model import Attachment, Finding

TEMPLATE_URL = "https://files.example.net/tpl/invoice.dotm"
DDE_FIELD = (
    '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve">'
    ' DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k echo inert" </w:instrText></w:r>'
    '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
)
PAGE_FIELD = (
    '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve">'
    ' PAGE </w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
)


def findings(*atts: Attachment) -> dict[str, Finding]:
    detector = DocumentDetector(DocumentDetector.Settings())
    return by_symbol(run(detector, make_message(attachments=atts)))


def test_autoopen_macro_in_a_docm_raises_macro_autoexec_and_suspicious() -> None:
    found = findings(attachment("order.docm", docm(AUTO_MACRO)))
    assert {"DOC_MACRO", "DOC_MACRO_AUTOEXEC", "DOC_MACRO_SUSPICIOUS"} <= set(found)
    assert "AutoOpen" in found["DOC_MACRO_AUTOEXEC"].evidence
    assert {"Shell", "CreateObject"} <= set(found["DOC_MACRO_SUSPICIOUS"].evidence)
    assert '"order.docm"' in found["DOC_MACRO"].explanation
    assert found["DOC_MACRO"].detector == "documents"


def test_macro_found_by_content_not_by_name() -> None:
    found = findings(attachment("photo.jpg", vba_project(AUTO_MACRO)))
    assert "DOC_MACRO_AUTOEXEC" in found


def test_plain_macro_raises_only_doc_macro() -> None:
    found = findings(attachment("calc.xlsm", vba_project(PLAIN_MACRO)))
    assert set(found) == {"DOC_MACRO"}


def test_plain_docx_misses() -> None:
    assert findings(attachment("minutes.docx", docx())) == {}


def test_vba_source_as_a_text_file_is_not_treated_as_a_document() -> None:
    # olevba would scan any text as VBA; the detector only hands it real Office containers.
    assert findings(attachment("notes.txt", AUTO_MACRO.encode())) == {}


def test_sylk_with_a_macro_sheet_raises_xlm() -> None:
    slk = b'ID;P\r\nO;E\r\nNN;NAuto_open;ER1C1\r\nC;X1;Y1;EEXEC("calc")\r\nC;X1;Y2;EHALT()\r\nE\r\n'
    found = findings(attachment("data.slk", slk))
    assert "DOC_XLM_MACRO" in found


def test_sylk_without_macro_sheet_misses() -> None:
    slk = b"ID;P\r\nC;X1;Y1;K42\r\nE\r\n"
    assert findings(attachment("data.slk", slk)) == {}


def test_external_attached_template_is_a_remote_template_with_the_url() -> None:
    rels = relationships(("attachedTemplate", TEMPLATE_URL, "External"))
    found = findings(attachment("letter.docx", docx(settings_rels=rels)))
    hit = found["DOC_REMOTE_TEMPLATE"]
    assert hit.evidence == (TEMPLATE_URL,)
    assert TEMPLATE_URL in hit.explanation


@pytest.mark.parametrize(
    "rels",
    [
        relationships(("attachedTemplate", "file:///C:/Templates/Normal.dotm", None)),
        relationships(("hyperlink", "https://www.example.org/", "External")),
    ],
)
def test_local_template_and_external_hyperlink_miss(rels: str) -> None:
    assert "DOC_REMOTE_TEMPLATE" not in findings(
        attachment("letter.docx", docx(settings_rels=rels))
    )


def test_rtf_remote_template_hits() -> None:
    rtf = b"{\\rtf1{\\*\\template https://files.example.net/x.dotm}hello}"
    found = findings(attachment("memo.rtf", rtf))
    assert found["DOC_REMOTE_TEMPLATE"].evidence == ("https://files.example.net/x.dotm",)


def test_dde_field_in_docx_hits_and_page_field_misses() -> None:
    found = findings(attachment("notice.docx", docx(body=DDE_FIELD)))
    assert "DDEAUTO" in found["DOC_DDE"].explanation
    assert "DOC_DDE" not in findings(attachment("notice.docx", docx(body=PAGE_FIELD)))


def test_dde_field_in_rtf_hits() -> None:
    rtf = b'{\\rtf1{\\field{\\*\\fldinst DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k x"}{\\fldrslt y}}}'
    assert "DOC_DDE" in findings(attachment("memo.rtf", rtf))


def test_password_protected_docx_is_encrypted_and_plain_one_is_not() -> None:
    plain = docx()
    source = msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(plain))
    out = io.BytesIO()
    source.encrypt("inert-password", out)
    found = findings(attachment("secure.docx", out.getvalue()))
    assert "DOC_ENCRYPTED" in found
    assert "DOC_ENCRYPTED" not in findings(attachment("open.docx", plain))


def test_one_finding_per_symbol_lists_every_attachment() -> None:
    found = findings(
        attachment("a.docm", docm(AUTO_MACRO)), attachment("b.doc", vba_project(AUTO_MACRO))
    )
    assert "1 more attachments too" in found["DOC_MACRO_AUTOEXEC"].explanation
    assert found["DOC_MACRO"].evidence == ("a.docm", "b.doc")


def test_damaged_office_container_neither_raises_nor_hits() -> None:
    damaged = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600) + b"\xff" * 2000
    assert findings(attachment("broken.doc", damaged)) == {}
    zip_like = b"PK\x03\x04" + b"[Content_Types].xml" + bytes(300)
    assert findings(attachment("broken.docx", zip_like)) == {}
