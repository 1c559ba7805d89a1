"""Header decoding: RFC 2047 encoded words, raw 8-bit values, address lists.

Works on messages parsed with ``email.policy.compat32``, whose header access never raises;
every value is unfolded and decoded here, and nothing in this module raises on bad input.
"""

from __future__ import annotations

import binascii
import re
from email.message import Message
from email.policy import Compat32
from email.utils import getaddresses

from mailward.model import Address

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_EOL = re.compile(r"[\r\n]+")
_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")
_SINGLE = ("from", "sender", "to", "cc", "subject", "date", "message-id", "reply-to")


class RawHeaderPolicy(Compat32):
    """compat32, but header values come back as plain str (raw 8-bit surrogate-escaped).

    compat32 would wrap 8-bit values in ``Header`` objects; this module decodes them instead.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


RAW_POLICY = RawHeaderPolicy()


def fix_surrogates(text: str) -> str:
    """Turn raw 8-bit bytes (surrogate-escaped by the parser) into text, as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode ``data`` in ``charset``: UTF-8 when unset, Latin-1 when unknown."""
    name = (charset or "utf-8").strip().lower()
    if name in {"unknown-8bit", "x-unknown", "us-ascii", "ascii", "8bit", "7bit"}:
        name = "utf-8"
    try:
        return data.decode(name, "replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        return data.decode("latin-1", "replace")


def decode_header_value(value: object) -> str:
    """Unfold a header value, read raw 8-bit bytes as UTF-8, decode RFC 2047 encoded words."""
    text = fix_surrogates(_FOLD.sub("", str(value)))
    if "=?" in text:
        text = decode_words(text)
    return _EOL.sub(" ", text).strip()


def decode_words(text: str) -> str:
    """Decode the RFC 2047 encoded words in ``text``; whitespace between two words goes."""
    out: list[str] = []
    pos = 0
    after_word = False
    for match in _WORD.finditer(text):
        gap = text[pos : match.start()]
        if not (after_word and not gap.strip()):
            out.append(gap)
        out.append(_decode_word(match))
        pos = match.end()
        after_word = True
    out.append(text[pos:])
    return "".join(out)


def _decode_word(match: re.Match[str]) -> str:
    charset = match[1].partition("*")[0]
    payload = match[3].encode("ascii", "replace")
    try:
        if match[2] in "bB":
            data = binascii.a2b_base64(payload + b"=" * (-len(payload) % 4))
        else:
            data = binascii.a2b_qp(payload, header=True)
    except (binascii.Error, ValueError):
        return match[0]
    return decode_bytes(data, charset)


def header_items(msg: Message) -> tuple[tuple[str, str], ...]:
    """Every header of ``msg`` as (name, decoded value), in order."""
    return tuple((fix_surrogates(name), decode_header_value(value)) for name, value in msg.items())


def duplicate_notes(msg: Message) -> list[str]:
    """Notes for headers that must appear at most once but appear more often."""
    notes: list[str] = []
    for name in _SINGLE:
        values = msg.get_all(name)
        if values is not None and len(values) > 1:
            notes.append(f"duplicate {name} header")
    return notes


def addresses(msg: Message, name: str) -> tuple[Address, ...]:
    """Every mailbox of every ``name`` header, display names decoded.

    The list is split on the raw value (an encoded word is one atom), then each display name is
    decoded, so a decoded comma or angle bracket in a name cannot forge an extra mailbox.
    """
    values = [_FOLD.sub("", str(v)) for v in msg.get_all(name) or []]
    if not values:
        return ()
    try:
        pairs = getaddresses(values)
    except (ValueError, TypeError, IndexError):
        return ()
    out: list[Address] = []
    for display, address in pairs:
        if not display and not address:
            continue
        addr = fix_surrogates(address).strip()
        domain = addr.rpartition("@")[2].lower() if "@" in addr else ""
        out.append(Address(decode_header_value(display), addr, domain))
    return tuple(out)


def message_id(msg: Message) -> str:
    """The Message-ID without angle brackets, or ""."""
    value = msg.get("message-id")
    if value is None:
        return ""
    return decode_header_value(value).strip().strip("<>").strip()
