"""Every file name a mail program could show for a part, however the sender spelled it.

Mail programs disagree on file names (Steffen Ullrich's "MIME is broken", hide-filename):
Content-Type ``name`` or Content-Disposition ``filename``, the first or the last of repeated
parameters and headers, RFC 2231 continuations joined in index order or in the order given
(with pieces missing), their charsets (UTF-8, UTF-16 either way round), RFC 2047 encoded words,
quotes, backslashes and comments kept or dropped, a ``;`` inside an unquoted value ending it or
not. :func:`part_names` reads the raw header values every such way and returns the union, so
a policy on names sees the name whichever reading the recipient's program makes.

Nothing here raises on bad input; at most ``MAX_NAMES`` names of ``MAX_NAME_CHARS`` each.
"""

from __future__ import annotations

import binascii
import re
import urllib.parse
from collections.abc import Iterable, Iterator
from email.message import Message

from mailward.mime._headers import decode_bytes, decode_header_value, fix_surrogates

MAX_NAMES = 32
MAX_NAME_CHARS = 255
_HEADERS = ("content-disposition", "content-type")
_KEYS = ("filename", "name")
_FOLD = re.compile(r"\r?\n[ \t]*|\r")
_COMMENT = re.compile(r"\([^()]*\)")
#: key = value, the key may hold comments, spaces and backslashes around or inside it
_PARAM = re.compile(r"(?:^|[;\s])((?:[A-Za-z0-9_.*\\-]|\([^()]*\))+)\s*=\s*")
_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")
_SECTION = re.compile(r"^(?P<base>[a-z]+)(?:\*(?P<index>\d+))?(?P<star>\*)?$")
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f\ufffd]+")


def may_have_names(part: Message) -> bool:
    """Whether the part's Content-Type or Content-Disposition headers can give a name at all:
    every reading (the stdlib's too) needs a parameter whose name, once comments and
    backslashes are dropped and the letters lower-cased, holds "name"; without "(" or "\\"
    in a value, that is the word itself, lower-cased, in the value."""
    for header in _HEADERS:
        for value in part.get_all(header) or ():
            text = str(value)
            if "name" in text.lower() or "(" in text or "\\" in text:
                return True
    return False


def part_names(part: Message) -> tuple[str, ...]:
    """Every name the part's Content-Type and Content-Disposition headers can be read as."""
    if not may_have_names(part):
        return ()
    return _part_names(part)


def _part_names(part: Message) -> tuple[str, ...]:
    names: dict[str, None] = {}
    try:
        stdlib = part.get_filename()
    except (ValueError, LookupError, TypeError, UnicodeError, IndexError):
        stdlib = None
    if stdlib:
        _add(names, decode_header_value(fix_surrogates(str(stdlib))))
    values = [
        _FOLD.sub(" ", fix_surrogates(str(v)))
        for header in _HEADERS
        for v in part.get_all(header) or ()
    ]
    params = [(k, v) for value in values for k, v in _params(value)]
    for key in _KEYS:
        # a piece of a continuation may sit in the other header (or a repeated one)
        for name in _readings([(k, v) for k, v in params if _base(k) == key]):
            _add(names, name)
    return tuple(names)[:MAX_NAMES]


def _add(names: dict[str, None], name: str) -> None:
    name = name.strip().strip("\x00")
    if name and len(names) < MAX_NAMES:
        names.setdefault(name[:MAX_NAME_CHARS], None)


def _base(key: str) -> str:
    return key.split("*", 1)[0]


def _params(value: str) -> Iterator[tuple[str, list[str]]]:
    """(normalised key, raw value readings) for every ``key=value`` in a header value."""
    matches = list(_PARAM.finditer(value))
    for i, match in enumerate(matches):
        key = _COMMENT.sub("", match[1]).replace("\\", "").lower()
        end = matches[i + 1].start() if i + 1 < len(matches) else len(value)
        yield key, _value_readings(value[match.end() : end])


def _value_readings(text: str) -> list[str]:
    """The ways one raw parameter value is read: RFC token or quoted string, and lenient ones."""
    text = text.strip()
    readings: list[str] = []
    if text.startswith('"'):
        quoted = re.match(r'"((?:[^"\\]|\\.)*)"?', text)
        inner = quoted[1] if quoted else text[1:]
        readings += [re.sub(r"\\(.)", r"\1", inner), inner]
        if quoted and quoted.end() == len(text.rstrip("; \t")) and text[quoted.end() - 1] == '"':
            # a plain quoted string: no lenient reading beyond it
            return [r.strip() for r in dict.fromkeys(readings) if r.strip()]
    token = re.split(r"[;\s]", text, maxsplit=1)[0]
    readings.append(token)
    greedy = text.rstrip("; \t")
    readings += [greedy, greedy.replace("\\", ""), greedy.replace('"', "").replace("\\", "")]
    readings += [greedy.strip("'"), _COMMENT.sub("", greedy), _COMMENT.sub("", token)]
    return [r.strip() for r in dict.fromkeys(readings) if r.strip()]


def _readings(pieces: list[tuple[str, list[str]]]) -> Iterator[str]:
    """Names from the parameters of one kind: each plain value, each continuation join."""
    sections: list[tuple[int, bool, list[str]]] = []
    for key, values in pieces:
        match = _SECTION.match(key)
        if match is None:
            continue
        index, star = match["index"], bool(match["star"])
        if index is None and not star:
            for value in values:
                yield from _decoded(value, encoded=False)
        elif index is None:
            for value in values:
                yield from _decoded(value, encoded=True)
        else:
            sections.append((int(index), star, values))
    if sections:
        yield from _joined(sections)


def _joined(sections: list[tuple[int, bool, list[str]]]) -> Iterator[str]:
    """RFC 2231 continuations, joined by index (the RFC) and in the order given (some MUAs)."""
    for order in (sorted(sections, key=lambda s: s[0]), sections):
        for pick in range(2):
            parts = [values[min(pick, len(values) - 1)] for _, _, values in order]
            encoded = any(star for _, star, _ in order)
            yield from _decoded("".join(parts), encoded=encoded)
            # an RFC 2231 charset prefix in a later piece is the sender's, not the reader's
            yield from _decoded("".join(parts), encoded=True)


def _decoded(value: str, encoded: bool) -> Iterator[str]:
    yield value
    if "=?" in value:
        yield from _encoded_words(value)
    if encoded or "%" in value or "'" in value:
        yield from _percent(value)


def _percent(value: str) -> Iterator[str]:
    charset, sep, rest = value.partition("'")
    if sep:
        _, _, text = rest.partition("'")
    else:
        charset, text = "", value
    data = urllib.parse.unquote_to_bytes(text)
    yield from _charsets(data, charset)


def _charsets(data: bytes, charset: str) -> Iterator[str]:
    name = charset.strip().lower()
    tried = ["utf-16-le", "utf-16-be"] if name.startswith("utf-16") or b"\x00" in data else []
    tried.append(name or "utf-8")
    for codec in tried:
        text = decode_bytes(data, codec)
        if _PRINTABLE.fullmatch(text):
            yield text


def _encoded_words(value: str) -> Iterator[str]:
    yield decode_header_value(value)
    for match in _WORD.finditer(value):
        payload = match[3]
        if match[2] in "bB":
            try:
                data = binascii.a2b_base64(payload + "=" * (-len(payload) % 4))
            except (binascii.Error, ValueError):
                continue
        else:
            data = urllib.parse.unquote_to_bytes(payload.replace("=", "%").replace("_", " "))
        yield from _charsets(data, match[1])


def extensions_of(names: Iterable[str]) -> list[str]:
    """The last extension of each name, lower case, as Windows reads it (trailing dots, spaces
    and quotes trimmed); names without one give nothing."""
    out: list[str] = []
    for name in names:
        clean = name.strip().rstrip(" .'\"").lower()
        _, dot, ext = clean.rpartition(".")
        if dot and ext:
            out.append(ext)
    return list(dict.fromkeys(out))
