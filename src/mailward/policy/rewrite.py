"""Apply a verdict to the message bytes for delivery, without re-serialising the message.

Prepends the trace and verdict headers, prefixes the Subject of tagged mail, and removes
incoming Authentication-Results headers that claim this gateway's authserv-id (RFC 8601 5).
:func:`strip_inbound_headers` removes, before that, every incoming header that looks like a
verdict or an authentication result (``[policy] strip_inbound_headers``), so that nothing a
sender wrote can pass for a finding of this gateway or of one behind it: RFC 8601 5 asks a
border MTA to remove Authentication-Results it cannot vouch for, and the same holds for the
spam and virus verdicts of other filters. ARC and DKIM headers are never removed (downstream
validation needs them); DKIM and ARC signatures do not normally cover the removed headers
(RFC 6376 5.4 and RFC 8617 leave trace and verdict headers unsigned), so they still verify.
Only the header block is touched; the body stays byte for byte.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Sequence

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


def strip_inbound_headers(
    raw: bytes, patterns: Sequence[str], keep_authserv_ids: Sequence[str] = ()
) -> tuple[bytes, list[str]]:
    """``raw`` without the top-level header fields whose name matches one of ``patterns``
    (globs, any case), and the names removed. Authentication-Results of an authserv-id in
    ``keep_authserv_ids`` (a trusted upstream checker) are kept."""
    if not patterns:
        return raw, []
    block, rest = split_header_block(raw)
    kept: list[bytes] = []
    removed: list[str] = []
    keep = {k.lower() for k in keep_authserv_ids}
    for field in header_fields(block):
        name = field.partition(b":")[0].strip().decode("ascii", "replace")
        if matches_header(name, patterns) and not _kept_results(field, keep):
            removed.append(name)
        else:
            kept.append(field)
    if not removed:
        return raw, []
    return b"".join(kept) + rest, removed


def matches_header(name: str, patterns: Sequence[str]) -> bool:
    """Whether ``name`` matches one of the globs (any case); never ARC or DKIM signatures."""
    lowered = name.lower()
    if lowered.startswith("arc-") or lowered == "dkim-signature" or not patterns:
        return False
    return _globs(tuple(patterns))(lowered) is not None


@functools.lru_cache(maxsize=32)
def _globs(patterns: tuple[str, ...]) -> Callable[[str], re.Match[str] | None]:
    """One compiled alternation of the lower-cased globs: what ``fnmatchcase`` tries one by
    one (each pattern fnmatch.translate'd, as fnmatchcase does)."""
    return re.compile("|".join(fnmatch.translate(p.lower()) for p in patterns)).match


def _kept_results(field: bytes, keep: set[str]) -> bool:
    return bool(keep) and any(_claims_authserv(field, k) for k in keep)
