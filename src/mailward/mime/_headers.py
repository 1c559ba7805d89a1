"""Header decoding: RFC 2047 encoded words, raw 8-bit values, address lists.

Works on messages parsed with ``email.policy.compat32``, whose header access never raises;
every value is unfolded and decoded here, and nothing in this module raises on bad input.
"""

from __future__ import annotations

import binascii
import quopri
import re
from collections.abc import Callable
from email._encoded_words import decode_b  # type: ignore[import-not-found]
from email._policybase import Policy
from email.message import Message
from email.policy import Compat32, compat32
from email.utils import getaddresses
from typing import Any

from mailward.model import Address

#: A fold's line end: ``\r?\n(?=[ \t])`` written as two branches that each start with a
#: literal, so the regex engine skips to the next CR or LF (a leading ``\r?`` makes it try
#: the pattern at every character). Same matches: the leftmost, with the CR when one is there.
_FOLD = re.compile(r"(?:\r\n|\n)(?=[ \t])")
_EOL = re.compile(r"[\r\n]+")
_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")
_UU_CTES = ("x-uuencode", "uuencode", "uue", "x-uue")  # Message decodes these itself
_SINGLE = ("from", "sender", "to", "cc", "subject", "date", "message-id", "reply-to")


#: Parsed parameters by header value (values repeat across parts and messages): at most
#: _PARAMS_KEPT values of at most _PARAMS_VALUE_MAX characters.
_PARAMS: dict[str, tuple[tuple[str, Any], ...]] = {}
_PARAMS_KEPT = 4096
_PARAMS_VALUE_MAX = 1000
#: Content types by Content-Type value (bounded as :data:`_PARAMS`).
_CTYPES: dict[str, str] = {}
#: Boundaries and charsets by Content-Type value (bounded as :data:`_PARAMS`); a value
#: without one maps to :data:`_NONE`.
_BOUNDARIES: dict[str, object] = {}
_CHARSETS: dict[str, object] = {}
_NONE = object()  # "no such parameter" in the two caches above
_UNSEEN = object()  # a value not in a cache yet
#: Mailboxes by an address header's values (the same From and To come back message after
#: message; Address is immutable), bounded as :data:`_PARAMS` (values of at most
#: _PARAMS_VALUE_MAX characters in all).
_ADDRESSES: dict[tuple[str, ...], tuple[Address, ...]] = {}


def _has_surrogates(text: str) -> bool:
    """Whether ``text`` holds surrogate-escaped bytes (as ``email.utils._has_surrogates``)."""
    if text.isascii():
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


class IndexedMessage(Message):
    """A Message whose header lookups (``get``, ``get_all``, ``in``) find the headers through
    an index of their lower-cased names instead of lower-casing every name on every lookup
    (a message's header block is read twenty times and more during a scan); parameters and
    the body's 8-bit test are kept too (below).

    Same answers as Message: the index holds positions only (values are read from the header
    list each time) and is rebuilt whenever the header list is another object or has another
    length; Message changes the names in its list only through appending, or through building
    a new list (``replace_header`` keeps the name).
    """

    __slots__ = ("_index", "_plain_body")

    def get_payload(self, i: Any = None, decode: bool = False) -> Any:
        # Message tests a text body for raw 8-bit bytes on every call (encoding it whole);
        # a scan asks for the same body a dozen times. Which body was tested is kept with the
        # answer, so a new payload is tested again.
        payload = self._payload  # type: ignore[attr-defined]
        if i is None and type(payload) is str:
            if decode:
                return self._decoded(payload)
            plain = getattr(self, "_plain_body", None)
            if plain is not None and plain[0] is payload and plain[1]:
                return payload  # no surrogates: Message returns the payload itself
            if payload.isascii():  # no surrogates either (a constant-time test of the str)
                self._plain_body = (payload, True)
                return payload
            result = super().get_payload()
            self._plain_body = (payload, result is payload and not _has_surrogates(payload))
            return result
        return super().get_payload(i, decode)  # type: ignore[call-overload]

    def _decoded(self, payload: str) -> Any:
        """``Message.get_payload(decode=True)`` for a text body: an ASCII one is encoded once
        (Message encodes it a second time to test it for surrogates, which ASCII cannot hold),
        then decoded the same way; any other goes to Message."""
        try:
            data = payload.encode("ascii")
        except UnicodeEncodeError:
            return super().get_payload(decode=True)
        cte = str(self.get("content-transfer-encoding", "")).lower()
        if cte == "quoted-printable":
            return quopri.decodestring(data)
        if cte == "base64":
            # bytes.splitlines breaks at CR, LF and CRLF only: joined, that is the data
            # without its CRs and LFs, which one translate gives (no list of lines)
            value, defects = decode_b(data.translate(None, b"\r\n"))
            for defect in defects:
                self.policy.handle_defect(self, defect)
            return value
        if cte in _UU_CTES:
            return super().get_payload(decode=True)
        return data

    def __init__(self, policy: Policy = compat32) -> None:
        super().__init__(policy)
        self._index: tuple[list[tuple[str, str]], int, dict[str, list[int]]] | None = None

    def _positions(self) -> dict[str, list[int]]:
        headers = self._headers  # type: ignore[attr-defined]
        index = self._index
        if index is None or index[0] is not headers or index[1] != len(headers):
            positions: dict[str, list[int]] = {}
            for i, (name, _) in enumerate(headers):
                positions.setdefault(name.lower(), []).append(i)
            index = self._index = (headers, len(headers), positions)
        return index[2]

    def count(self, name: str) -> int:
        """How many headers are called ``name`` (any case)."""
        headers, index = self._headers, self._index  # type: ignore[attr-defined]
        # the index's own check, inline (one call less on a lookup made dozens of times)
        if index is None or index[0] is not headers or index[1] != len(headers):
            return len(self._positions().get(name.lower(), ()))
        return len(index[2].get(name.lower(), ()))

    def get(self, name: str, failobj: Any = None) -> Any:
        headers, index = self._headers, self._index  # type: ignore[attr-defined]
        if index is None or index[0] is not headers or index[1] != len(headers):
            found = self._positions().get(name.lower())
        else:  # the index's own check, inline (as in count)
            found = index[2].get(name.lower())
        if not found:
            return failobj
        key, value = headers[found[0]]
        if type(self.policy) is RawHeaderPolicy:
            return value  # its header_fetch_parse gives the value back as it is
        return self.policy.header_fetch_parse(key, value)

    def get_all(self, name: str, failobj: Any = None) -> Any:
        headers, index = self._headers, self._index  # type: ignore[attr-defined]
        if index is None or index[0] is not headers or index[1] != len(headers):
            found = self._positions().get(name.lower())
        else:  # the index's own check, inline (as in count)
            found = index[2].get(name.lower())
        if not found:
            return failobj
        if type(self.policy) is RawHeaderPolicy:
            return [headers[i][1] for i in found]
        fetch = self.policy.header_fetch_parse
        return [fetch(*headers[i]) for i in found]

    def get_content_type(self) -> str:
        # Message splits and lower-cases the Content-Type value on every call (a scan asks a
        # part a dozen times); with a value, the answer depends on the value alone.
        value = self.get("content-type")
        if type(value) is not str or len(value) > _PARAMS_VALUE_MAX:
            return super().get_content_type()
        ctype = _CTYPES.get(value)
        if ctype is None:
            if len(_CTYPES) >= _PARAMS_KEPT:
                _CTYPES.clear()
            ctype = _CTYPES[value] = super().get_content_type()
        return ctype

    def get_boundary(self, failobj: Any = None) -> Any:
        # Message reads the parameters again on each call (a multipart is asked five times
        # in a parse: parser, ambiguity check, quirks); the answer depends on the value alone
        return self._kept_by_type(_BOUNDARIES, super().get_boundary, failobj)

    def get_content_charset(self, failobj: Any = None) -> Any:
        # as get_boundary: the answer (or an error, which is not kept) depends on the value
        return self._kept_by_type(_CHARSETS, super().get_content_charset, failobj)

    def _kept_by_type(self, kept: dict[str, object], read: Callable[[Any], Any],
                      failobj: Any) -> Any:
        """``read(failobj)`` (Message's own reading of a Content-Type parameter), kept in
        ``kept`` by the Content-Type value; a value too long to keep is read each time."""
        value = self.get("content-type")
        if type(value) is not str or len(value) > _PARAMS_VALUE_MAX:
            return read(failobj)
        found = kept.get(value, _UNSEEN)
        if found is _UNSEEN:
            if len(kept) >= _PARAMS_KEPT:
                kept.clear()
            found = kept[value] = read(_NONE)
        return failobj if found is _NONE else found

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        # Message parses a header's parameters again on every get_param, get_boundary,
        # get_filename, get_content_charset...; the parse depends on the value alone.
        value = self.get(header)
        if type(value) is not str or len(value) > _PARAMS_VALUE_MAX:
            return super()._get_params_preserve(failobj, header)  # type: ignore[misc]
        params = _PARAMS.get(value)
        if params is None:
            if len(_PARAMS) >= _PARAMS_KEPT:
                _PARAMS.clear()
            params = _PARAMS[value] = tuple(
                super()._get_params_preserve(failobj, header)  # type: ignore[misc]
            )
        return list(params)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._positions()


class RawHeaderPolicy(Compat32):
    """compat32, but header values come back as plain str (raw 8-bit surrogate-escaped), and
    messages are :class:`IndexedMessage`.

    compat32 would wrap 8-bit values in ``Header`` objects; this module decodes them instead.
    """

    message_factory = IndexedMessage

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


RAW_POLICY = RawHeaderPolicy()


def fix_surrogates(text: str) -> str:
    """Turn raw 8-bit bytes (surrogate-escaped by the parser) into text, as UTF-8."""
    if text.isascii():
        return text
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
    text = str(value)
    if "\n" in text:  # the patterns below change nothing in a text without line ends
        text = _FOLD.sub("", text)
    text = fix_surrogates(text)
    if "=?" in text:
        text = decode_words(text)
    if "\n" in text or "\r" in text:
        text = _EOL.sub(" ", text)
    return text.strip()


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
    # with RAW_POLICY the values are the stored ones: read them without a call per header
    items = msg._headers if type(msg.policy) is RawHeaderPolicy else msg.items()  # type: ignore[attr-defined]
    out: list[tuple[str, str]] = []
    for raw_name, value in items:
        name = raw_name if raw_name.isascii() else fix_surrogates(raw_name)
        # an ASCII value without line ends or encoded words: decode_header_value strips it
        if (
            type(value) is str
            and value.isascii()
            and "\n" not in value
            and "\r" not in value
            and "=?" not in value
        ):
            out.append((name, value.strip()))
        else:
            out.append((name, decode_header_value(value)))
    return tuple(out)


def header_values(msg: Message) -> list[Any]:
    """``msg.values()``: with RAW_POLICY the stored values themselves, read without a call
    of the policy per header."""
    if type(msg.policy) is RawHeaderPolicy:
        return [value for _, value in msg._headers]  # type: ignore[attr-defined]
    return msg.values()


def header_count(msg: Message, name: str) -> int:
    """How many headers of ``msg`` are called ``name`` (any case)."""
    if isinstance(msg, IndexedMessage):
        return msg.count(name)
    return len(msg.get_all(name) or ())


def duplicate_notes(msg: Message) -> list[str]:
    """Notes for headers that must appear at most once but appear more often."""
    return [f"duplicate {name} header" for name in _SINGLE if header_count(msg, name) > 1]


def addresses(msg: Message, name: str) -> tuple[Address, ...]:
    """Every mailbox of every ``name`` header, display names decoded.

    The list is split on the raw value (an encoded word is one atom), then each display name is
    decoded, so a decoded comma or angle bracket in a name cannot forge an extra mailbox.
    """
    values = [_unfolded(str(v)) for v in msg.get_all(name) or []]
    if not values:
        return ()
    key = tuple(values)
    found = _ADDRESSES.get(key)
    if found is None:
        found = _addresses(values)
        if sum(map(len, values)) <= _PARAMS_VALUE_MAX:
            if len(_ADDRESSES) >= _PARAMS_KEPT:
                _ADDRESSES.clear()
            _ADDRESSES[key] = found
    return found


def _addresses(values: list[str]) -> tuple[Address, ...]:
    try:
        pairs = simple_addresses(values) or getaddresses(values)
    except (ValueError, TypeError, IndexError):
        return ()
    out: list[Address] = []
    for display, address in pairs:
        if not display and not address:
            continue
        addr = fix_surrogates(address).strip()
        domain = addr.rpartition("@")[2].lower() if "@" in addr else ""
        out.append(Address(decode_header_value(display) if display else "", addr, domain))
    return tuple(out)


def _unfolded(value: str) -> str:
    """``value`` without the line ends of its folds (:data:`_FOLD`, which needs a LF)."""
    return _FOLD.sub("", value) if "\n" in value else value


# Address lists of the plain kinds most mail carries: "local@domain", "local@domain (Name)",
# "Name <local@domain>" (the name of atoms and dots, or of quoted strings without escapes, apart
# by blanks), the empty group "Name:;" and a lone word ("Amelia, Amelia <a@example.com>": the
# stdlib reads the word as an address; a 120 kB From of such items took it 33 ms).
_ATOM_CHAR = r'[^()<>@,:;."\[\] \t\r\n]'
_ADDR_SPEC = rf"(?:{_ATOM_CHAR}|\.)+@(?:{_ATOM_CHAR}|\.)+"
_PHRASE_WORD = r'(?:[^()<>@,:;"\[\] \t\r\n]+|"[^"\\\r\n]*")'
_PHRASE = rf"{_PHRASE_WORD}(?:[ \t]+{_PHRASE_WORD})*"
_SIMPLE_ITEM = re.compile(
    rf"[ \t]*(?:(?P<spec>{_ADDR_SPEC})(?:[ \t]*\((?P<comment>[^()\\\r\n]*)\))?"
    rf"|(?:(?P<name>{_PHRASE})[ \t]*)?<(?P<route>{_ADDR_SPEC})>"
    rf"|(?P<group>{_PHRASE})[ \t]*:[ \t]*;"
    rf"|(?P<atom>{_ATOM_CHAR}+))[ \t]*(?=,|\Z)"
)
_NAME_WORD = re.compile(_PHRASE_WORD)


def simple_addresses(values: list[str]) -> list[tuple[str, str]] | None:
    """What ``email.utils.getaddresses(values)`` returns, for lists of plain addresses only
    (None for anything else: groups with members, nested comments, routes, escapes, blanks
    inside an address...).

    The stdlib's address parser reads such a list item by item: an address alone gives
    (its comment or "", address: atoms and dots as written); a name then ``<address>`` gives
    the name's words (quoted ones unquoted) joined by single spaces, and the address; an empty
    group gives ("", ""); a word alone (an atom: no dot, quote or blank) gives ("", word);
    blanks around items are skipped. Checked against ``getaddresses`` on
    every address header of the corpus and on random lists.
    """
    field = ", ".join(values)
    out: list[tuple[str, str]] = []
    pos = 0
    while True:
        match = _SIMPLE_ITEM.match(field, pos)
        if match is None:
            return None
        if match["spec"] is not None:
            out.append((match["comment"] or "", match["spec"]))
        elif match["group"] is not None:
            out.append(("", ""))  # an empty group: no address, read as one empty pair
        elif match["atom"] is not None:
            out.append(("", match["atom"]))  # a word alone: read as an address without "@"
        else:
            words = _NAME_WORD.findall(match["name"] or "")
            name = " ".join(w[1:-1] if w.startswith('"') else w for w in words)
            out.append((name, match["route"]))
        pos = match.end()
        if pos >= len(field):
            return out
        pos += 1  # the comma


def message_id(msg: Message) -> str:
    """The Message-ID without angle brackets, or ""."""
    value = msg.get("message-id")
    if value is None:
        return ""
    return decode_header_value(value).strip().strip("<>").strip()
