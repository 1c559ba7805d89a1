"""Disarm: active content out, the harmless rest kept, the reason written for the reader."""

from __future__ import annotations

import io
import zipfile
from email import message_from_bytes, policy
from email.message import EmailMessage

from mailward.disarm import clean_html, disarm_message

PE = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00\x4c\x01" + b"\0" * 200


def message(*attachments: tuple[bytes, str, str], html: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Billing <billing@supplier.example.net>"
    msg["To"] = "carol@example.com"
    msg["Subject"] = "Invoice"
    msg.set_content("Please see the attachment.")
    if html:
        msg.add_alternative(html, subtype="html")
    for data, subtype, name in attachments:
        msg.add_attachment(data, maintype="application", subtype=subtype, filename=name)
    return msg.as_bytes()


def names_and_bodies(raw: bytes) -> dict[str, bytes]:
    msg = message_from_bytes(raw, policy=policy.default)
    return {
        part.get_filename(): part.get_payload(decode=True)
        for part in msg.walk()
        if part.get_filename()
    }


def test_program_is_replaced_by_a_notice_and_harmless_files_stay() -> None:
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    raw = message((PE, "pdf", "invoice.pdf"), (pdf, "pdf", "terms.pdf"))
    result = disarm_message(raw, quarantine_id="q-123")
    assert [r.filename for r in result.removed] == ["invoice.pdf"]
    parts = names_and_bodies(result.raw)
    assert "invoice.pdf" not in parts
    notice = parts["invoice.pdf.removed.txt"].decode()
    assert "program" in notice and "q-123" in notice
    assert parts["terms.pdf"] == pdf
    assert PE not in result.raw


def test_archive_holding_a_script_is_removed_but_a_plain_archive_stays() -> None:
    bad, good = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("run.js", b'var s = new ActiveXObject("WScript.Shell"); s.Run("cmd");')
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("notes.txt", b"meeting notes")
    raw = message((bad.getvalue(), "zip", "docs.zip"), (good.getvalue(), "zip", "notes.zip"))
    result = disarm_message(raw, quarantine_id="q")
    assert [r.filename for r in result.removed] == ["docs.zip"]
    assert "run.js" in result.removed[0].reason
    assert "notes.zip" in names_and_bodies(result.raw)


def test_clean_message_comes_back_with_nothing_removed() -> None:
    result = disarm_message(message(html="<p>Hello <b>Carol</b></p>"), quarantine_id="q")
    assert result.removed == () and not result.html_cleaned


def test_html_body_loses_scripts_handlers_and_script_links() -> None:
    html = (
        '<p onclick="steal()">Hi<script>evil()</script>'
        '<a href="javascript:alert(1)">a</a><a href="https://example.com/x">b</a>'
        '<iframe src="https://evil.example.net/"></iframe><form action="https://x"></form></p>'
    )
    cleaned = clean_html(html)
    for gone in ("onclick", "<script", "evil()", "javascript:", "<iframe", "<form"):
        assert gone not in cleaned
    assert 'href="https://example.com/x"' in cleaned and "Hi" in cleaned
    result = disarm_message(message(html=html), quarantine_id="q")
    assert result.html_cleaned and b"evil()" not in result.raw


def test_html_attachment_is_removed() -> None:
    page = b"<html><form><input type=password name=p></form></html>"
    result = disarm_message(message((page, "octet-stream", "login.html")), quarantine_id="q")
    assert [r.filename for r in result.removed] == ["login.html"]
