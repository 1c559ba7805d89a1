"""Shared pieces of the document analysers: the hit record and content probes.

A ``DocHit`` is one reason to raise a documents symbol for one attachment; the detector in
:mod:`mailward.detectors.documents` groups them into one Finding per symbol.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailward.attachments import LNK_MAGIC
from mailward.detectors._script_indicators import script_indicators
from mailward.detectors.attachments import native_program

#: A neutral label for libraries that want a file name; never the attachment's own name.
LIBRARY_LABEL = "attachment"


__all__ = ["LIBRARY_LABEL", "LNK_MAGIC", "DocHit", "runnable_kind", "shorten"]


@dataclass(frozen=True, slots=True)
class DocHit:
    """One symbol raised by one attachment: why, what shows it, and how strongly."""

    symbol: str
    reason: str
    evidence: tuple[str, ...] = ()
    factor: float = 1.0


def runnable_kind(content: bytes) -> str | None:
    """What runnable thing ``content`` is (program, shortcut, script), or None."""
    native = native_program(content)
    if native is not None:
        return native
    if content[:20] == LNK_MAGIC:
        return "a Windows shortcut (.lnk)"
    head = content[:65536].lower()
    if b"<hta:application" in head:
        return "an HTML application (HTA)"
    found = script_indicators(content)
    if len(found) >= 2:
        return f"a script ({', '.join(found)})"
    if content[:2] == b"#!":
        return "a script (its first line names an interpreter)"
    return None


def shorten(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters, control characters made visible."""
    clean = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."
