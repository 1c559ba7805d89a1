"""A delivered message, as relay mode would write it, turned into milter modification actions.

Relay mode rewrites the message bytes (:func:`mailward.policy.rewrite.strip_inbound_headers`,
:func:`~mailward.policy.rewrite.apply_verdict`, and for disarm the disarmed copy); a milter
cannot send bytes, only header and body actions. :func:`message_edits` compares the message the
MTA has with the one relay mode would deliver and says the difference as actions:

- a header whose n-th occurrence changed (the tagged Subject, a disarmed Content-Type) is
  changed in place (SMFIR_CHGHEADER), one that is gone (forged Authentication-Results, other
  filters' verdicts) is deleted (SMFIR_CHGHEADER with an empty value; deletions of one name go
  from the last occurrence to the first, so an index never moves under a later action);
- a header that is new elsewhere is appended (SMFIR_ADDHEADER);
- then the gateway's new headers (verdict, Authentication-Results) are inserted at the top
  (SMFIR_INSHEADER at index 0, in reverse order, so they end in relay mode's order): after the
  changes, so that no index above counts an inserted header;
- a changed body (disarm) is replaced (SMFIR_REPLBODY).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mailward.frontends.milter import protocol as p
from mailward.policy.rewrite import split_header_block


@dataclass(frozen=True, slots=True)
class Header:
    """One header as the MTA sent it: its name and its value (as it follows the colon)."""

    name: bytes
    value: bytes


def raw_message(headers: Sequence[Header], body: bytes, *, leading_space: bool) -> bytes:
    """The message bytes (CRLF) rebuilt from what the MTA sent, for scanning and storing."""
    lines = []
    for h in headers:
        value = _crlf(h.value)
        if not leading_space and value[:1] not in (b" ", b"\t", b""):
            value = b" " + value
        lines.append(h.name + b":" + value + b"\r\n")
    return b"".join(lines) + b"\r\n" + body


def parse_message(raw: bytes) -> tuple[list[Header], bytes]:
    """``raw`` cut into its headers (value after the colon, CRLF inside) and body (CRLF)."""
    block, rest = split_header_block(raw)
    headers = []
    for field in _fields(block):
        name, sep, value = field.partition(b":")
        if not sep:
            continue
        headers.append(Header(name.strip(), _crlf(value).removesuffix(b"\r\n")))
    body = rest[2:] if rest.startswith(b"\r\n") else rest[1:] if rest.startswith(b"\n") else rest
    return headers, _crlf(body)


def message_edits(
    original: Sequence[Header],
    body: bytes,
    target: bytes,
    *,
    prepended: int,
    leading_space: bool,
) -> list[bytes]:
    """Actions that turn (``original``, ``body``) into ``target``, whose first ``prepended``
    headers are the gateway's own (inserted at the top)."""
    wanted, new_body = parse_message(target)
    # Changes and deletions first: their indexes count the headers the MTA received, whether
    # the MTA counts inserted headers or not.
    out = _header_diff(original, wanted[prepended:], leading_space)
    for h in reversed(wanted[:prepended]):
        out.append(p.insert_header(0, h.name, _wire(h.value, leading_space)))
    if new_body != _crlf(body):
        out += p.replace_body(new_body)
    return out


def _header_diff(
    original: Sequence[Header], wanted: Sequence[Header], leading_space: bool
) -> list[bytes]:
    names: dict[bytes, bytes] = {}
    have: dict[bytes, list[bytes]] = {}
    want: dict[bytes, list[bytes]] = {}
    for h in original:
        names.setdefault(h.name.lower(), h.name)
        have.setdefault(h.name.lower(), []).append(_norm(h.value))
    for h in wanted:
        names.setdefault(h.name.lower(), h.name)
        want.setdefault(h.name.lower(), []).append(_norm(h.value))
    out: list[bytes] = []
    for key, name in names.items():
        old, new = have.get(key, []), want.get(key, [])
        if old == new:
            continue
        if len(old) == len(new):  # changed in place (Subject tag, a disarmed MIME header)
            for i, (a, b) in enumerate(zip(old, new, strict=True), start=1):
                if a != b:
                    out.append(p.change_header(i, name, _wire(b, leading_space)))
            continue
        kept, j = [], 0
        for i, value in enumerate(old, start=1):
            if j < len(new) and new[j] == value:
                j += 1
            else:
                kept.append(i)
        for i in reversed(kept):  # deleted: last first, so earlier indexes stay put
            out.append(p.change_header(i, name, b""))
        for value in new[j:]:
            out.append(p.add_header(name, _wire(value, leading_space)))
    return out


def _fields(block: bytes) -> list[bytes]:
    """Header fields cut at CRLF or LF only: a bare CR stays inside its field, as the MTA
    keeps it (``bytes.splitlines`` would cut there and make two headers of one)."""
    fields: list[bytes] = []
    for line in re.split(rb"(?<=\n)", block):
        if not line:
            continue
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _norm(value: bytes) -> bytes:
    """A value for comparison: CRLF folding, one leading space at most."""
    value = _crlf(value)
    return value if value[:1] in (b" ", b"\t") else b" " + value


def _wire(value: bytes, leading_space: bool) -> bytes:
    """A value as sent to the MTA: LF folding (libmilter's convention), the leading space
    only when the MTA agreed to it."""
    value = _crlf(value).replace(b"\r\n", b"\n")
    if not leading_space and value[:1] == b" ":
        value = value[1:]
    return value
