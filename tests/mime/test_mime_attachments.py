"""Attachments: names (RFC 2231 / 2047), content types from libmagic, nested messages."""

from __future__ import annotations

import hashlib
import struct
from email.message import EmailMessage

from mailward.config.settings import LimitSettings
from mailward.mime import parse_message

LIMITS = LimitSettings()


def _pe_bytes() -> bytes:
    """A minimal 32-bit Windows PE: DOS header, stub, PE signature, file and optional header."""
    dos = bytearray(b"MZ" + b"\x00" * 62)
    dos[0x3C:0x40] = struct.pack("<I", 0x80)
    stub = b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21This program cannot be run in DOS mode.\r\r\n$"
    head = (bytes(dos) + stub).ljust(0x80, b"\x00")
    coff = b"PE\x00\x00" + struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x102)
    return head + coff + struct.pack("<H", 0x10B) + b"\x00" * (0xE0 - 2) + b"\x00" * 512


def _with_attachment(data: bytes, filename: str, maintype: str, subtype: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["Subject"] = "files"
    msg.set_content("see attached")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def test_pe_named_pdf_is_detected_as_executable() -> None:
    data = _pe_bytes()
    parsed = parse_message(_with_attachment(data, "invoice.pdf", "application", "pdf"), LIMITS)
    (att,) = parsed.attachments
    assert att.filename == "invoice.pdf"
    assert att.declared_type == "application/pdf"
    assert att.detected_type != "application/pdf"
    assert "executable" in att.detected_description.lower()
    assert att.sha256 == hashlib.sha256(data).hexdigest()
    assert att.size == len(data)
    assert att.content == data
    assert att.inline is False
    assert parsed.text.strip() == "see attached"


def test_real_pdf_is_detected_as_pdf() -> None:
    data = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"
    parsed = parse_message(_with_attachment(data, "invoice.pdf", "application", "pdf"), LIMITS)
    assert parsed.attachments[0].detected_type == "application/pdf"


def test_rfc2231_filename() -> None:
    raw = (
        b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nbody\n"
        b"--b\nContent-Type: application/octet-stream\n"
        b"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20final.docx\n"
        b"Content-Transfer-Encoding: base64\n\naGVsbG8=\n"
        b"--b--\n"
    )
    (att,) = parse_message(raw, LIMITS).attachments
    assert att.filename == "résumé final.docx"
    assert att.content == b"hello"


def test_rfc2047_filename() -> None:
    raw = (
        b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: application/octet-stream;\n"
        b' name="=?utf-8?b?ZmFjdHVyZS5leGU=?="\n\nMZ\n'
        b"--b--\n"
    )
    (att,) = parse_message(raw, LIMITS).attachments
    assert att.filename == "facture.exe"


def test_part_without_filename_has_none() -> None:
    raw = (
        b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: image/png\nContent-Disposition: inline\n\n\x89PNG\r\n\x1a\n\n"
        b"--b--\n"
    )
    (att,) = parse_message(raw, LIMITS).attachments
    assert att.filename is None
    assert att.inline is True
    assert att.declared_type == "image/png"


def test_body_text_is_not_an_attachment_but_text_file_is() -> None:
    raw = (
        b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nthe body\n"
        b"--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename=notes.txt\n\n"
        b"secret notes http://files.example.net/x\n"
        b"--b--\n"
    )
    parsed = parse_message(raw, LIMITS)
    assert [a.filename for a in parsed.attachments] == ["notes.txt"]
    assert "secret notes" not in parsed.text
    assert [(u.host, u.source) for u in parsed.urls] == [("files.example.net", "attachment")]


def test_html_attachment_links_are_found() -> None:
    page = b'<html><form action="https://harvest.example.ru/post"><input name=pw></form></html>'
    parsed = parse_message(_with_attachment(page, "login.html", "text", "html"), LIMITS)
    assert [(u.domain, u.source) for u in parsed.urls] == [("example.ru", "attachment")]
    assert "harvest" not in parsed.html  # an attached page is not the body


def test_nested_message_is_walked() -> None:
    inner = EmailMessage()
    inner["From"] = "ceo@example.com"
    inner["Subject"] = "urgent"
    inner.set_content("please wire http://pay.example.org/now")
    inner.add_attachment(
        b"MZ" + b"\x00" * 100, maintype="application", subtype="octet-stream", filename="tool.exe"
    )
    outer = EmailMessage()
    outer["From"] = "fwd@example.com"
    outer["Subject"] = "Fwd: urgent"
    outer.set_content("see below")
    outer.add_attachment(inner)
    parsed = parse_message(outer.as_bytes(), LIMITS)
    assert "see below" in parsed.text
    assert "please wire" in parsed.text
    assert [u.host for u in parsed.urls] == ["pay.example.org"]
    types = [a.declared_type for a in parsed.attachments]
    assert types == ["message/rfc822", "application/octet-stream"]
    assert b"Subject: urgent" in parsed.attachments[0].content
    assert parsed.attachments[1].filename == "tool.exe"
    assert parsed.subject == "Fwd: urgent"
