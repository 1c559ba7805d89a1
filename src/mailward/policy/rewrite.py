"""Apply a verdict to the message bytes for delivery, without re-serialising the message.

Prepends the trace and verdict headers, prefixes the Subject of tagged mail, and removes
incoming Authentication-Results headers that claim this gateway's authserv-id (RFC 8601 5).
Only the header block is touched; the body stays byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailward.model import Verdict

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_COMMENT = re.compile(rb"\([^()]*\)")


def split_header_block(raw: bytes) -> tuple[bytes, bytes]:
    """(header block with its final line end, the rest: blank line and body)."""
    match = _HEADER_END.search(raw)
    if match is None:
        return raw, b""
    cut = match.start() + (2 if raw[match.start() : match.start() + 2] == b"\r\n" else 1)
    return raw[:cut], raw[cut:]


def header_fields(block: bytes) -> list[bytes]:
    """The header block cut into fields, each with its continuation lines."""
    fields: list[bytes] = []
    for line in block.splitlines(keepends=True):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def safe_header_value(value: str) -> str:
    """A value with CR, LF and other control characters replaced, for header lines we write."""
    return _UNSAFE.sub("?", value)


def format_header(name: str, value: str) -> bytes:
    folded = "\r\n\t".join(safe_header_value(v) for v in value.split("\r\n\t"))
    return f"{name}: {folded}\r\n".encode("utf-8", "replace")


def apply_verdict(
    raw: bytes,
    verdict: Verdict,
    *,
    authserv_id: str,
    trace_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    block, rest = split_header_block(raw)
    fields = [f for f in header_fields(block) if not _claims_authserv(f, authserv_id)]
    if verdict.subject_prefix:
        fields = _prefix_subject(fields, verdict.subject_prefix)
    new = b"".join(format_header(n, v) for n, v in (*trace_headers, *verdict.add_headers))
    return new + b"".join(fields) + rest


def _claims_authserv(field: bytes, authserv_id: str) -> bool:
    name, _, value = field.partition(b":")
    if name.strip().lower() != b"authentication-results":
        return False
    head, removed = value.split(b";", 1)[0], 1
    while removed:  # CFWS may precede the authserv-id (RFC 8601 2.2): drop comments
        head, removed = _COMMENT.subn(b" ", head)
    claimed = head.split()
    if not claimed:
        return False
    return claimed[0].strip(b'"').decode("ascii", "replace").lower() == authserv_id.lower()


def _prefix_subject(fields: list[bytes], prefix: str) -> list[bytes]:
    encoded = safe_header_value(prefix).encode("utf-8")
    for i, field in enumerate(fields):
        name, sep, value = field.partition(b":")
        if sep and name.strip().lower() == b"subject":
            if value.lstrip().startswith(encoded):
                return fields
            fields[i] = name + b": " + encoded + b" " + value.lstrip(b" \t")
            return fields
    return [*fields, format_header("Subject", prefix)]
