"""Disarm: a copy of a message with its active content removed, for delivery, while the
original stays in quarantine.

What is removed:
- attachments that are programs or scripts (by content or by a dangerous extension), Office
  documents and PDFs with active content (macros, remote templates, DDE, JavaScript, Launch
  actions, embedded files), OneNote files, shortcuts, XLL add-ins, disk images, archives that
  hold a program, and HTML or SVG attachments;
- in the HTML body: script, iframe, object, embed and form elements, ``on*`` event attributes
  and ``javascript:``/``data:`` links.
Each removed attachment is replaced by a short text part that names it and says why.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from selectolax.lexbor import LexborHTMLParser

from mailward.attachments import expand
from mailward.detectors._script_indicators import script_indicators
from mailward.detectors.attachments import (
    DEFAULT_DANGEROUS_EXTENSIONS,
    native_program,
)
from mailward.detectors.documents import analyse_attachment
from mailward.mime import detect_type
from mailward.model import Attachment

_ACTIVE_TAGS = ("script", "iframe", "object", "embed", "form", "base", "meta[http-equiv]")
_HTML_NAMES = (".htm", ".html", ".shtml", ".xhtml", ".svg", ".hta")
_IMAGE_NAMES = (".iso", ".img", ".vhd", ".vhdx")


@dataclass(frozen=True, slots=True)
class Removed:
    filename: str
    reason: str


@dataclass(frozen=True, slots=True)
class DisarmResult:
    raw: bytes
    removed: tuple[Removed, ...]
    html_cleaned: bool


def disarm_message(raw: bytes, *, quarantine_id: str) -> DisarmResult:
    """Return the disarmed copy of ``raw``; never raises on odd MIME (it keeps what it can)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    removed: list[Removed] = []
    cleaned = False
    for part in list(msg.walk()):
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment" or part.get_filename():
            reason = _danger(part)
            if reason:
                name = _safe_name(part.get_filename() or "(unnamed)")
                removed.append(Removed(name, reason))
                _replace_with_notice(part, name, reason, quarantine_id)
        elif part.get_content_type() == "text/html":
            html = part.get_content()
            safe = clean_html(html)
            if safe != html:
                part.set_content(safe, subtype="html")
                del part["MIME-Version"]
                cleaned = True
    return DisarmResult(msg.as_bytes(), tuple(removed), cleaned)


def clean_html(html: str) -> str:
    """The HTML without script, embedded objects, forms, event handlers or script links;
    ``html`` itself, unchanged, when it has none of them."""
    tree = LexborHTMLParser(html)
    changed = False
    for selector in _ACTIVE_TAGS:
        for node in tree.css(selector):
            node.decompose()
            changed = True
    for node in tree.css("*"):
        attrs = node.attributes
        for key in [k for k in attrs if k.lower().startswith("on")]:
            del node.attrs[key]
            changed = True
        for key in ("href", "src", "action", "formaction", "xlink:href"):
            value = (attrs.get(key) or "").strip().lower().replace("\t", "").replace("\n", "")
            if value.startswith(("javascript:", "vbscript:", "data:text/html")):
                node.attrs[key] = "#removed-by-mailward"
                changed = True
    return (tree.html or "") if changed else html


def _danger(part: EmailMessage) -> str | None:
    """Why this attachment must not reach the recipient, or None."""
    content = part.get_payload(decode=True)
    data = content if isinstance(content, bytes) else b""
    name = (part.get_filename() or "").strip().lower().rstrip(" .")
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    kind, description = detect_type(data)
    program = native_program(data)
    if program:
        return f"it is a program ({program})"
    if ext in DEFAULT_DANGEROUS_EXTENSIONS:
        return f"its name ends in .{ext}, a type that runs code"
    if name.endswith(_HTML_NAMES) or kind in ("text/html", "image/svg+xml"):
        return "HTML and SVG attachments can run script or imitate a login page"
    if name.endswith(_IMAGE_NAMES):
        return "disk images hide their contents from checks and warnings"
    reason = _document_or_archive_danger(data, part.get_filename(), kind, description)
    if reason is None and len(script_indicators(data)) >= 2:
        reason = "it contains script that can run on the computer"
    return reason


def _document_or_archive_danger(
    data: bytes, filename: str | None, kind: str, description: str
) -> str | None:
    att = Attachment(
        filename=filename, declared_type="", detected_type=kind,
        detected_description=description, size=len(data),
        sha256=hashlib.sha256(data).hexdigest(), content=data,
    )
    hits = analyse_attachment(att, 30_000_000)
    if hits:
        return f"it {hits[0].reason}"
    result = expand(data, filename)
    if result.is_archive:
        bad = [m.display for m in result.members if native_program(m.content or b"")
               or m.name.lower().rsplit(".", 1)[-1] in DEFAULT_DANGEROUS_EXTENSIONS]
        if bad:
            return f"the archive holds a program ({bad[0]})"
        if result.limit_hit:
            return f"the archive is too complex to check ({result.limit_hit})"
        if result.encrypted:
            return "the archive is encrypted, so its contents cannot be checked"
    return None


def _replace_with_notice(part: EmailMessage, name: str, reason: str, quarantine_id: str) -> None:
    notice = (
        f"mailward removed the attachment \"{name}\" because {reason}.\n"
        f"The original message is kept in quarantine (id {quarantine_id}). If you expected "
        "this file, ask your security team to check and release it.\n"
    )
    for header in ("Content-Type", "Content-Transfer-Encoding", "Content-Disposition"):
        del part[header]
    part.set_content(notice, disposition="attachment", filename=f"{name}.removed.txt")
    del part["MIME-Version"]


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isprintable() and c not in "\u202e\u202d" else "?" for c in name)
    return cleaned[:120]


def removed_summary(removed: Sequence[Removed]) -> str:
    return "; ".join(f"{r.filename}: {r.reason}" for r in removed)
