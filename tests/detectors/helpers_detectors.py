"""Builders for detector tests: messages, attachments with libmagic types, and a scan runner."""

from __future__ import annotations

import asyncio
import hashlib
import struct
from collections.abc import Sequence
from typing import Any

import magic

from mailward.config import Settings
from mailward.engine.contract import ScanContext
from mailward.model import Address, Attachment, Envelope, Finding, ParsedMessage, Url


def address(addr: str, display_name: str = "") -> Address:
    return Address(display_name=display_name, address=addr, domain=addr.rpartition("@")[2].lower())


def make_message(**overrides: Any) -> ParsedMessage:
    """A plain one-sender message; any ParsedMessage field can be overridden."""
    sender = address("alice@example.com", "Alice Example")
    fields: dict[str, Any] = {
        "raw": b"",
        "headers": (("From", "Alice Example <alice@example.com>"), ("Subject", "Hello")),
        "message_id": "<test@example.com>",
        "subject": "Hello",
        "from_": (sender,),
        "reply_to": (),
        "to": (address("bob@example.org", "Bob"),),
        "cc": (),
        "text": "Hello Bob",
        "html": "",
        "urls": (),
        "attachments": (),
    }
    fields.update(overrides)
    return ParsedMessage(**fields)


def attachment(
    filename: str | None, content: bytes, declared: str = "application/octet-stream"
) -> Attachment:
    """An attachment whose detected type comes from libmagic, as the parser would set it."""
    return Attachment(
        filename=filename,
        declared_type=declared,
        detected_type=magic.from_buffer(content, mime=True),
        detected_description=magic.from_buffer(content),
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
    )


def html_link(href: str, text: str | None) -> Url:
    scheme, _, rest = href.partition(":")
    host = (
        rest.lstrip("/").split("/", 1)[0].split("?", 1)[0].lower() if rest.startswith("//") else ""
    )
    host = host.split("]", 1)[0] + "]" if host.startswith("[") else host.split(":", 1)[0]
    return Url(
        url=href, scheme=scheme.lower(), host=host, domain=host, source="html", anchor_text=text
    )


def context() -> ScanContext:
    return ScanContext(
        envelope=Envelope(mail_from="alice@example.com", rcpt_tos=("bob@example.org",)),
        settings=Settings(),
    )


def run(detector: Any, msg: ParsedMessage) -> Sequence[Finding]:
    return asyncio.run(detector.check(msg, context()))


def by_symbol(findings: Sequence[Finding]) -> dict[str, Finding]:
    out = {f.symbol: f for f in findings}
    assert len(out) == len(findings), "a symbol was raised twice"
    return out


def pe_bytes() -> bytes:
    """A minimal 32-bit Windows PE header (MZ stub, e_lfanew -> PE signature, COFF, optional header)."""
    dos = bytearray(0x40)
    dos[0:2] = b"MZ"
    dos[0x3C:0x40] = struct.pack("<I", 0x40)
    coff = b"PE\0\0" + struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x0102)
    optional = bytearray(0xE0)
    optional[0:2] = struct.pack("<H", 0x10B)
    optional[68:70] = struct.pack("<H", 2)
    return bytes(dos) + coff + bytes(optional) + bytes(552)


def elf_bytes() -> bytes:
    """A minimal 64-bit x86-64 ELF executable header."""
    return b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHI", 2, 0x3E, 1) + bytes(104)


def macho_bytes() -> bytes:
    return b"\xcf\xfa\xed\xfe" + struct.pack("<II", 0x01000007, 3) + bytes(64)


PDF_BYTES = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89" + bytes(20)
)
