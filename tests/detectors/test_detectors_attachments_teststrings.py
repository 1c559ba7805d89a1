"""EICAR and GTUBE: the standard test strings, anywhere in a message, through the engine too.

The EICAR string is joined from two halves here (and in the detector) so that no file of the
repository holds it whole: an anti-virus scanner on a developer's machine would quarantine it.
"""

from __future__ import annotations

import asyncio
import sys
import zlib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from helpers_detectors import PDF_BYTES, PNG_BYTES, attachment, by_symbol, make_message, run
from test_detectors_documents_samples import compound_file, docx

from mailward.config import Settings
from mailward.detectors import teststrings
from mailward.detectors.teststrings import StandardTestStringDetector
from mailward.engine.contract import ScanContext
from mailward.engine.pipeline import Engine
from mailward.model import Action, Attachment, Envelope, Finding

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "attachments"))
from helpers_archives import build, zipped

EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
ENV = Envelope(mail_from="admin@example.com", rcpt_tos=("alice@example.com",), helo="mx.test")


def pdf_with_stream(data: bytes, compress: bool) -> bytes:
    """A one-object PDF whose content stream holds ``data`` (deflated when ``compress``)."""
    body = zlib.compress(data) if compress else data
    filters = " /Filter /FlateDecode" if compress else ""
    return (
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        b"3 0 obj\n<< /Length " + str(len(body)).encode() + filters.encode() + b" >>\nstream\n"
        + body + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def test_the_string_is_the_standard_one() -> None:
    assert len(EICAR) == 68 and teststrings.EICAR.encode() == EICAR
    assert teststrings.GTUBE == GTUBE
    source = Path(teststrings.__file__).read_bytes()
    assert EICAR not in source  # the source file itself is not an EICAR file


def findings(*atts: Attachment, **fields: Any) -> dict[str, Finding]:
    detector = StandardTestStringDetector(StandardTestStringDetector.Settings())
    return by_symbol(run(detector, make_message(attachments=atts, **fields)))


@pytest.mark.parametrize(
    ("atts", "fields", "where"),
    [
        ((), {"text": "test: " + EICAR.decode()}, "The message body"),
        ((), {"html": "<p>" + EICAR.decode() + "</p>"}, "The message body"),
        ((), {"raw": b"Subject: x\r\n\r\n" + EICAR}, "The raw message"),
        ((attachment("eicar.txt", EICAR),), {}, 'The attachment "eicar.txt"'),
        ((attachment("r.pdf", pdf_with_stream(EICAR, False)),), {}, 'The attachment "r.pdf"'),
        ((attachment("r.pdf", pdf_with_stream(EICAR, True)),), {}, "compressed PDF stream"),
        ((attachment("r.docx", docx(f"<w:p><w:r><w:t>{EICAR.decode()}</w:t></w:r></w:p>")),),
         {}, "r.docx"),
    ],
)  # fmt: skip
def test_eicar_hits_wherever_it_is(
    atts: tuple[Attachment, ...], fields: dict[str, Any], where: str
) -> None:
    hit = findings(*atts, **fields)["AV_EICAR_TEST"]
    assert where in hit.explanation and where in hit.evidence[0]
    assert "anti-virus test file" in hit.explanation


def test_ole_streams_are_read_whole() -> None:
    stream = b"Word text. " + EICAR + bytes(4096)
    ole = compound_file([("Root Entry", 5, 0xFFFFFFFF, 1, None),
                         ("WordDocument", 2, 0xFFFFFFFF, 0xFFFFFFFF, stream)])  # fmt: skip
    budget = teststrings._Budget(1 << 20)
    assert [data[:80] for data in teststrings._ole_streams(ole, budget)] == [stream[:80]]
    assert "AV_EICAR_TEST" in findings(attachment("old.doc", ole))
    assert list(teststrings._ole_streams(b"not OLE", budget)) == []


def test_decoding_stops_at_the_budget() -> None:
    pdf = pdf_with_stream(bytes(4096) + EICAR, True)
    assert list(teststrings._pdf_streams(pdf, teststrings._Budget(100))) == [bytes(100)]
    detector = StandardTestStringDetector(StandardTestStringDetector.Settings(max_decoded_bytes=100))
    assert run(detector, make_message(attachments=(attachment("r.pdf", pdf),))) == []


def test_eicar_in_an_archive_member_is_read_from_the_archives_expansion() -> None:
    from mailward.detectors.archives import ArchiveDetector

    zipped_eicar = attachment("tools.zip", zipped(("docs/test.txt", EICAR)))
    msg = make_message(attachments=(zipped_eicar,))
    ctx = ScanContext(envelope=ENV, settings=Settings())
    asyncio.run(ArchiveDetector(ArchiveDetector.Settings()).check(msg, ctx))
    assert zipped_eicar.sha256 in ctx.expansions
    detector = StandardTestStringDetector(StandardTestStringDetector.Settings())
    hit = by_symbol(asyncio.run(detector.check(msg, ctx)))["AV_EICAR_TEST"]
    assert hit.evidence == ('"tools.zip > docs/test.txt"',)


def test_eicar_in_an_archive_is_found_when_the_archives_detector_is_disabled() -> None:
    msg = make_message(attachments=(attachment("t.tgz", build("ustar", [("t", EICAR)], "gzip")),))
    settings = Settings.model_validate({"engine": {"disabled": ["archives"]}})
    detector = StandardTestStringDetector(StandardTestStringDetector.Settings())
    ctx = ScanContext(envelope=ENV, settings=settings)
    assert "AV_EICAR_TEST" in by_symbol(asyncio.run(detector.check(msg, ctx)))


@pytest.mark.parametrize(
    ("atts", "fields"),
    [
        ((), {"text": "Our AV test: send the eicar.com file from eicar.org to check the scanner."}),
        ((), {"text": "EICAR-STANDARD-ANTIVIRUS-TEST-FILE (only the second half)"}),
        ((attachment("report.pdf", PDF_BYTES), attachment("p.png", PNG_BYTES)), {}),
        ((attachment("r.pdf", pdf_with_stream(b"BT (hello) Tj ET", True)),), {}),
        ((), {"text": "GTUBE is SpamAssassin's test string; see the wiki."}),
    ],
)
def test_mentions_and_ordinary_files_miss(
    atts: tuple[Attachment, ...], fields: dict[str, Any]
) -> None:
    assert findings(*atts, **fields) == {}


def test_gtube_hits_in_the_body() -> None:
    hit = findings(text=f"Testing the spam path:\n{GTUBE}\n")["CONTENT_GTUBE_TEST"]
    assert "anti-spam test string" in hit.explanation


# --- through the engine ---------------------------------------------------------------------


def message(body: str, att: tuple[str, bytes] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Admin <admin@example.com>"
    msg["To"] = "alice@example.com"
    msg["Subject"] = "Gateway test"
    msg["Message-ID"] = "<t1@example.com>"
    msg.set_content(body)
    if att is not None:
        msg.add_attachment(att[1], maintype="application", subtype="octet-stream", filename=att[0])
    return msg.as_bytes()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(Settings())


def scan(engine: Engine, raw: bytes) -> tuple[Action, set[str], str]:
    outcome = asyncio.run(engine.scan(raw, ENV))
    return outcome.verdict.action, set(outcome.result.symbols), outcome.verdict.reason


EICAR_CASES: dict[str, bytes] = {
    "body": message("Testing the AV path:\n" + EICAR.decode() + "\n"),
    "attachment": message("see attached", ("eicar.txt", EICAR)),
    "PDF": message("see attached", ("test.pdf", pdf_with_stream(EICAR, False))),
    "PDF, deflated": message("see attached", ("test.pdf", pdf_with_stream(EICAR, True))),
    "zip": message("see attached", ("test.zip", zipped(("readme.txt", EICAR)))),
    "zip in a zip": message("x", ("a.zip", zipped(("b.zip", zipped(("c.txt", EICAR))),))),
}


@pytest.mark.parametrize("case", sorted(EICAR_CASES))
def test_eicar_is_rejected_like_a_virus(engine: Engine, case: str) -> None:
    action, symbols, reason = scan(engine, EICAR_CASES[case])
    assert "AV_EICAR_TEST" in symbols
    assert action is Action.REJECT, (action, symbols, reason)


def test_eicar_is_rejected_by_the_force_rule_whatever_its_weight() -> None:
    settings = Settings.model_validate(
        {"scoring": {"symbols": {"AV_EICAR_TEST": {"weight": 0}}}}
    )
    action, _, reason = scan(Engine(settings), EICAR_CASES["attachment"])
    assert action is Action.REJECT and reason == "AV_EICAR_TEST forces reject"


def test_gtube_is_treated_as_spam(engine: Engine) -> None:
    action, symbols, _ = scan(engine, message(f"Testing the spam path:\n{GTUBE}\n"))
    assert "CONTENT_GTUBE_TEST" in symbols
    assert action.severity >= Action.QUARANTINE.severity


@pytest.mark.parametrize(
    "raw",
    [
        message("Please run the eicar test from eicar.org against the new gateway."),
        message("The GTUBE test string is documented by SpamAssassin."),
        message("Figures attached.", ("report.pdf", PDF_BYTES)),
    ],
)
def test_controls_are_delivered(engine: Engine, raw: bytes) -> None:
    action, symbols, _ = scan(engine, raw)
    assert not symbols & {"AV_EICAR_TEST", "CONTENT_GTUBE_TEST"}
    assert action.severity <= Action.TAG.severity, symbols
