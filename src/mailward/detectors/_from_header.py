"""The From header as different programs read it (espoofer, "Composition Kills", USENIX 2020).

DMARC protects the domain of the one From mailbox; an attacker who makes the verifier read one
domain and the mail program show another passes DMARC for the first and spoofs the second. This
module reads the raw header block and reports:

- several From header lines, counting lines only some programs read as From ("From :",
  " From:" folded onto nothing, "From\\0:"), or several mailboxes in one From;
- no From at all while a Sender is given (programs then show the Sender);
- addresses hidden from one reader: an encoded word where the address should be, a source
  route ("<@legit.example:x@evil.example>"), a quoted local part or a comment holding an
  "@", a backslash escape, a NUL.

:func:`from_readings` gives the reason (empty when From is plain) and every domain a reader
could take as the sender's, so DMARC can be checked for each reading: the domains of every
From line and mailbox, of source routes, of addresses in encoded words, in quoted local parts
and in comments, and, when there is no From at all, of the Sender.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses

from mailward.mime._headers import decode_header_value
from mailward.model import ParsedMessage

_END = re.compile(rb"\r?\n\r?\n")
_FROM_LINE = re.compile(rb"^[ \t]*from[ \t]*(?:\x00[^:\r\n]*)?:(.*)$", re.IGNORECASE)
_ADDR = re.compile(r"[^\s<>()@,;:\"]+@([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,})")
_ROUTE = re.compile(r"<\s*@([^:,>\s]+)")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_COMMENT = re.compile(r"\([^()]*\)")
_QUOTED_LOCAL = re.compile(r'"((?:[^"\\]|\\.)*)"\s*@')
_NOT_HOST = re.compile(r"[\\\s\"<>()\[\],;:@]")
_TRICKS = (
    (re.compile(r"<\s*@"), "a source route in the From address"),
    (re.compile(r"\x00"), "a NUL byte in the From header"),
    (re.compile(r'"[^"<>]*@[^"<>]*"@'), "a quoted local part that holds an @"),
    (re.compile(r"<[^<>]*\\[^<>]*>|^[^<>\"]*\\"), "a backslash escape in the From address"),
)


@dataclass(frozen=True, slots=True)
class FromReadings:
    """Why From is ambiguous ("" when it is not), and every domain a reader may see."""

    reason: str
    domains: tuple[str, ...]


def _unfold(value: bytes) -> str:
    return re.sub(r"\n[ \t]+", " ", value.decode("utf-8", "replace")).strip()


def _raw_from_values(raw: bytes) -> tuple[list[str], list[str]]:
    """The raw values of every line some program may read as From, and of every Sender."""
    end = _END.search(raw)
    head = raw[: end.start() if end else len(raw)].replace(b"\r\n", b"\n")
    values: list[str] = []
    senders: list[str] = []
    for line in re.split(rb"\n(?![ \t])|\r", head):
        match = _FROM_LINE.match(line)
        if match:
            values.append(_unfold(match[1]))
        elif line[:7].lower() == b"sender:":
            senders.append(_unfold(line[7:]))
    return values, senders


def from_readings(msg: ParsedMessage) -> FromReadings:
    """Read the From header every way a program might; see the module docstring."""
    values, senders = _raw_from_values(msg.raw)
    reason = _reason(msg, values, bool(senders))
    domains = [a.domain for a in msg.from_ if a.domain]
    for value in values:
        domains.extend(_domains(value))
    if reason and not values and not msg.from_:  # programs show the Sender instead
        for value in senders:
            domains.extend(_domains(value))
    clean = (_NOT_HOST.sub("", d.lower()).strip(".") for d in domains)
    return FromReadings(reason, tuple(dict.fromkeys(d for d in clean if "." in d)))


def _domains(value: str) -> list[str]:
    out = [addr.rpartition("@")[2] for _, addr in getaddresses([value]) if "@" in addr]
    out.extend(_ROUTE.findall(value))
    for local in _QUOTED_LOCAL.findall(value):  # "admin@legit.example"@evil.example
        out.extend(_ADDR.findall(local))
    for comment in _COMMENT.findall(_QUOTED.sub(" ", value)):  # a@evil(admin@legit.example)
        out.extend(_ADDR.findall(comment))
    bare = _COMMENT.sub(" ", _QUOTED.sub(" ", value))
    if "=?" in bare:  # an encoded word where an address should be
        out.extend(_ADDR.findall(decode_header_value(bare)))
    return out


def _reason(msg: ParsedMessage, values: list[str], sender: bool) -> str:
    parsed = len(msg.header_all("From"))
    if len(values) > 1 or parsed > 1:
        return f"{max(len(values), parsed)} From headers, not all of them read by every program"
    if len(msg.from_) > 1:
        return f"the From header names {len(msg.from_)} senders"
    if not values:
        if parsed or msg.from_:
            return ""
        return "no From header, so programs show the Sender instead" if sender else ""
    return _trick(values[0], msg)


def _trick(value: str, msg: ParsedMessage) -> str:
    for pattern, what in _TRICKS:
        if pattern.search(value):
            return what
    if any("@" in c for c in _COMMENT.findall(_QUOTED.sub(" ", value))):
        return "a comment in the From header that holds an address"
    bare = _COMMENT.sub(" ", _QUOTED.sub(" ", value))
    shown = _ADDR.findall(decode_header_value(bare)) if "=?" in bare else []
    real = {a.domain for a in msg.from_}
    if shown and (not real - {""} or set(map(str.lower, shown)) - real):
        return "an encoded word that hides the From address"
    return ""
