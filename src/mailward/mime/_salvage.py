"""The lenient reading: every file a forgiving mail program could dig out of the raw bytes.

When the structure of a message is off (see the salvage codes of :mod:`mailward.mime._ambiguity`),
some mail program somewhere repairs it its own way. This reading does not guess which: it cuts
the raw message at *every* line that starts with ``--`` (whatever boundary was declared, or
none), reads each piece as a header block and a body with the loosest header syntax seen in the
wild (a lone CR ends a line, junk or blank lines before the headers, no blank line after them,
"Name :", "Name::", a missing colon), and decodes each body every way a decoder is known to:

- base64: junk skipped, '=' read as padding, as a chunk end, as 'A' (Safari), per quad
  (Thunderbird), per line, per block, stopping at junk or at the first padding;
- quoted-printable: invalid escapes kept, dropped, or dropped with the characters after them;
- uuencode (with or without "begin"), yEnc, BinHex 4.0, gzip64.

A decoded body is kept when libmagic recognises it (a ZIP, a program, a PDF, HTML...): noise
from a wrong decoder is bytes libmagic calls octet-stream or text, and is dropped. What is kept
becomes attachments of extra views (well-formed multiparts, each no larger than the message in
base64 plus a little), walked and merged like every other reading; what the first reading did
not show is reported as hidden content. Pieces over ``SLOW_LIMIT`` bytes get the fast readings
only (whole-body base64 and quoted-printable variants).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from collections.abc import Callable, Iterator
from email.parser import BytesParser

from mailward.mime._headers import RAW_POLICY, decode_words
from mailward.mime._magic import detect_mime, detect_type
from mailward.mime._names import part_names

_LINE = re.compile(rb"\r\n|\n|\r")
_HEADER = re.compile(rb"^[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*:+[ \t]*(.*)$")
_HEADER_NOCOLON = re.compile(rb"^(content-[a-z-]+)[ \t]+(\S.*)$", re.IGNORECASE)
_B64_LINE = re.compile(rb"^[A-Za-z0-9+/=]+$")
_NOT_B64 = re.compile(r"[^A-Za-z0-9+/=]")
_B64_TEXT_LINE = re.compile(r"^[A-Za-z0-9+/=]+$")
_JUNK_IN_LINE = re.compile(r"[^A-Za-z0-9+/=\s]")
_QP_SOFT_END = re.compile(rb"[ \t]*(\r?\n|$)")
_BLANKS = re.compile(rb"[ \t]+")
_BINHEX = b"(This file must be converted with BinHex"
_BINHEX_CHARS = b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr"
_BINHEX_MAP = {c: i for i, c in enumerate(_BINHEX_CHARS)}
_NOISE = frozenset(
    {"application/octet-stream", "text/plain", "inode/x-empty", "application/x-empty", ""}
)
#: (lowercase hex allowed, what an invalid escape drops, "= " is a soft break) per QP reading.
_QP_CHOICES = (
    (True, 0, True), (True, 1, True), (True, 2, True),
    (False, 1, True), (False, 2, True), (True, 0, False),
)  # fmt: skip
#: Pieces larger than this get only the decoders that run at C speed (the per-byte ones would
#: cost seconds on them; a forgiving decoder is almost always one of the fast readings).
SLOW_LIMIT = 2_000_000
#: At most this many pieces of a message are read, and this many files kept from it.
MAX_PIECES = 200
MAX_FILES = 16


def salvage(raw: bytes, budget: int) -> tuple[list[tuple[str | None, bytes]], bool]:
    """(name, bytes) of every recognised file the lenient reading finds in ``raw``, and
    whether the reading is complete (False when a bound stopped it).

    ``budget`` bounds the bytes decoded in all (the message's decoded-bytes limit).
    """
    lines = _LINE.split(raw)
    found: dict[str, tuple[str | None, bytes]] = {}
    spent = 0
    for piece in _pieces(lines):
        headers, body = _entity(piece)
        if not body:
            continue
        name = _name(headers)
        for data in _decodings(headers, body):
            spent += len(data)
            if spent > budget:
                return list(found.values()), False
            if len(data) < 4 or is_noise(data):
                continue
            found.setdefault(hashlib.sha256(data).hexdigest(), (name, data))
            if len(found) > MAX_FILES:
                return list(found.values())[:MAX_FILES], False
    return list(found.values()), True


def is_noise(data: bytes) -> bool:
    """``detect_type(data)[0] in _NOISE``, asking libmagic for the description only when the
    MIME type alone is no noise (a noise type is noise whatever the description gives: a
    failed description makes the type "application/octet-stream", noise too)."""
    return detect_mime(data) in _NOISE or detect_type(data)[0] in _NOISE


def views_of(files: list[tuple[str | None, bytes]], max_bytes: int) -> tuple[list[bytes], int]:
    """``files`` as well-formed multipart messages, each at most ``max_bytes``, and how many
    files were left out (one that alone is larger)."""
    views: list[bytes] = []
    parts: list[bytes] = []
    size = 0
    left_out = 0
    for name, data in files:
        part = _part(name, data)
        if len(part) + 200 > max_bytes:
            left_out += 1
            continue
        if size + len(part) + 200 > max_bytes and parts:
            views.append(_multipart(parts))
            parts, size = [], 0
        parts.append(part)
        size += len(part)
    if parts:
        views.append(_multipart(parts))
    return views, left_out


def _part(name: str | None, data: bytes) -> bytes:
    safe = (name or "").replace("\\", "").replace('"', "").replace("\r", "").replace("\n", "")
    if not safe and detect_type(data)[0] == "text/html":
        # an unnamed HTML body: read as the body it would be shown as (its text and links)
        head = "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    else:
        disposition = f'attachment; filename="{safe}"' if safe else "attachment"
        head = (
            f"Content-Type: application/octet-stream\r\nContent-Disposition: {disposition}\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
        )
    return head.encode("utf-8") + base64.encodebytes(data).replace(b"\n", b"\r\n")


def _multipart(parts: list[bytes]) -> bytes:
    boundary = b"mailward-salvage-" + hashlib.sha256(b"".join(parts)).hexdigest()[:24].encode()
    out = [b"Content-Type: multipart/mixed; boundary=\"" + boundary + b"\"\r\n\r\n"]
    for part in parts:
        out += [b"--" + boundary + b"\r\n", part, b"\r\n"]
    out.append(b"--" + boundary + b"--\r\n")
    return b"".join(out)


def _pieces(lines: list[bytes]) -> Iterator[list[bytes]]:
    start = 0
    count = 0
    for i, line in enumerate(lines):
        if line.startswith(b"--") and len(line.strip()) > 2:
            yield lines[start:i]
            start = i + 1
            count += 1
            if count >= MAX_PIECES:
                break
    yield lines[start:]


def _is_header(line: bytes) -> bool:
    return bool(_HEADER.match(line) or _HEADER_NOCOLON.match(line))


def _entity(lines: list[bytes]) -> tuple[list[tuple[str, str]], list[bytes]]:
    """(headers, body lines) of one piece, read as loosely as any program does."""
    start = next((i for i, line in enumerate(lines[:5]) if _is_header(line)), None)
    if start is None:
        return [], lines
    headers: list[tuple[str, str]] = []
    i = start
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            return headers, lines[i + 1 :]
        match = _HEADER.match(line) or _HEADER_NOCOLON.match(line)
        if match:
            headers.append((match[1].decode("latin-1").lower(), match[2].decode("latin-1")))
        elif line[:1] in b" \t\x0b" and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip().decode("latin-1"))
        else:
            return headers, lines[i:]
        i += 1
    return headers, []


def _name(headers: list[tuple[str, str]]) -> str | None:
    block = "".join(
        f"{k}: {v}\r\n" for k, v in headers if k in {"content-type", "content-disposition"}
    )
    if not block:
        return None
    msg = BytesParser(policy=RAW_POLICY).parsebytes(
        block.encode("latin-1", "replace") + b"\r\n", headersonly=True
    )
    names = part_names(msg)
    return names[0] if names else None


def _encoding(headers: list[tuple[str, str]]) -> str:
    values = " ".join(v for k, v in headers if "encoding" in k or k.startswith("content-"))
    if "=?" in values:
        values += " " + decode_words(values)
    return re.sub(r"\([^()]*\)|[\\\"'\s]", "", values.lower())


def _decodings(headers: list[tuple[str, str]], body: list[bytes]) -> Iterator[bytes]:
    cte = _encoding(headers)
    text = b"\n".join(body)
    looks_b64 = sum(1 for line in body if _B64_LINE.match(line.strip())) * 2 >= len(body)
    if "base64" in cte or "gzip64" in cte or looks_b64:
        for data in _base64_readings(body):
            yield data
            if "gzip" in cte or data[:2] == b"\x1f\x8b":
                yield _gunzip(data, 4 * len(text))
    qp_like = "quoted" in cte or "print" in cte or text.count(b"=") * 8 >= len(text) > 0
    if qp_like:
        yield from _qp_readings(text)
    if "uu" in cte or re.search(rb"^begin(?:-base64)? [0-7]{3,4} ", text, re.MULTILINE):
        yield _uudecode(body)
    if "yenc" in cte or b"=ybegin" in text:
        yield _ydecode(body)
    if "binhex" in cte or _BINHEX in text:
        yield _binhex(text)


def _b64(letters: str) -> bytes:
    letters = letters[: len(letters) - len(letters) % 4 if len(letters) % 4 == 1 else None]
    try:
        return base64.b64decode(letters + "=" * (-len(letters) % 4))
    except (binascii.Error, ValueError):
        return b""


def _per_quad(letters: str) -> bytes:
    """Thunderbird: '=' inside a quad reads as 'A'; the quad loses one byte per '='.

    Decoded in one pass (every quad as 'A'-filled gives 3 bytes), then each quad that held an
    '=' loses its last bytes: the same bytes as decoding quad by quad.
    """
    whole = letters[: len(letters) // 4 * 4]
    data = _b64(whole.replace("=", "A"))
    if "=" not in whole:
        return data
    out = bytearray()
    kept = 0  # quads before this one already copied
    for quad in dict.fromkeys(i // 4 for i in _positions(whole, "=")):
        pads = whole.count("=", quad * 4, quad * 4 + 4)
        out += data[kept * 3 : quad * 3 + max(0, 3 - pads)]
        kept = quad + 1
    out += data[kept * 3 :]
    return bytes(out)


def _positions(text: str, char: str) -> Iterator[int]:
    i = text.find(char)
    while i >= 0:
        yield i
        i = text.find(char, i + 1)


def _groups_of_three(letters: str) -> bytes:
    """Each group of three letters decoded alone (two bytes each; a last pair gives one).

    Decoded in one pass: an 'A' after every full group makes each a quad whose first two bytes
    are the group's, and the third byte of each is dropped. The quads are built with slice
    assignments (``letters`` holds only base64 letters, so it is ASCII).
    """
    full = len(letters) // 3 * 3
    groups = letters[:full].encode("ascii")
    quads = bytearray(b"A" * (full // 3 * 4))
    for i in range(3):
        quads[i::4] = groups[i::3]
    data = bytearray(_b64(quads.decode("ascii")))
    del data[2::3]
    return bytes(data) + _b64(letters[full:])


def _base64_readings(body: list[bytes]) -> Iterator[bytes]:
    lines = [line.decode("latin-1") for line in body]
    whole = "\n".join(lines)
    clean = _NOT_B64.sub("", whole)
    fast: list[Callable[[], bytes]] = [
        lambda: _b64(clean.replace("=", "")),
        lambda: _b64(clean.rstrip("=").replace("=", "A")),
        lambda: _b64(clean.split("=")[0]),
    ]
    slow: list[Callable[[], bytes]] = [
        lambda: b"".join(_b64(c) for c in re.split(r"=+", clean)),
        lambda: _per_quad(clean),
        lambda: _b64("".join(_prefix4(_NOT_B64.sub("", line)) for line in lines)),
        lambda: _b64("".join(_JUNK_IN_LINE.split(line, 1)[0].strip() for line in lines)),
        lambda: _b64("".join(line.strip() for line in lines if _B64_TEXT_LINE.match(line.strip()))),
        lambda: _groups_of_three(clean.replace("=", "")),
    ]
    if len(whole) > SLOW_LIMIT and clean.count("=") <= 1000:
        fast.append(slow[0])
    for reader in fast if len(whole) > SLOW_LIMIT else fast + slow:
        yield reader()
    if len(whole) > SLOW_LIMIT:
        return
    for block in re.split(r"\n[ \t\x0b]*\n", whole)[:8]:
        yield _b64(_NOT_B64.sub("", block).replace("=", ""))


def _prefix4(letters: str) -> str:
    letters = letters.replace("=", "")
    return letters[: len(letters) - len(letters) % 4]


def qp_decode(data: bytes, lower: bool, invalid: int, space_soft: bool) -> bytes:
    """Quoted-printable, with a choice for each thing decoders disagree on.

    ``invalid``: what an '=' not followed by two hex digits does: -1 kept as is, n >= 0 the '='
    and the next n characters are dropped.
    """
    out = bytearray()
    hexdigits = b"0123456789ABCDEFabcdef" if lower else b"0123456789ABCDEF"
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c != 0x3D:
            j = data.find(b"=", i)  # the bytes up to the next "=" are copied as they are
            j = n if j < 0 else j
            out += data[i:j]
            i = j
            continue
        nxt = data[i + 1 : i + 3]
        if len(nxt) == 2 and nxt[0] in hexdigits and nxt[1] in hexdigits:
            out.append(int(nxt, 16))
            i += 3
            continue
        rest = _QP_SOFT_END.match(data[i + 1 : i + 200])
        if rest is not None:
            i += 1 + rest.end()
            continue
        if space_soft and data[i + 1 : i + 2] in (b" ", b"\t"):
            ws = _BLANKS.match(data, i + 1)
            i = ws.end() if ws else i + 1
            continue
        if invalid < 0:
            out.append(c)
            i += 1
        else:
            i += 1 + invalid
    return bytes(out)


def _qp_readings(text: bytes) -> Iterator[bytes]:
    yield binascii.a2b_qp(text)
    # an '=' and one junk character before a hex digit dropped first (strict decoders skip the
    # pair and read on)
    yield binascii.a2b_qp(re.sub(rb"=[^0-9A-F\r\n](?=[0-9A-F])", b"", text))
    if len(text) > SLOW_LIMIT:
        return
    for lower, invalid, space in _QP_CHOICES:
        yield qp_decode(text, lower, invalid, space)


def _uudecode(body: list[bytes]) -> bytes:
    out = bytearray()
    started = not any(line.startswith(b"begin ") for line in body)
    for line in body:
        if not started:
            started = line.startswith(b"begin ")
            continue
        if line.strip() == b"end":
            break
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            try:  # some encoders leave out the trailing characters of the last line
                nbytes = (((line[:1] or b" ")[0] - 32) & 63) * 4 + 5
                out += binascii.a2b_uu(line[: nbytes // 3])
            except (binascii.Error, IndexError):
                continue
    return bytes(out)


def _ydecode(body: list[bytes]) -> bytes:
    out = bytearray()
    inside = False
    for line in body:
        if line.startswith(b"=ybegin"):
            inside = True
            continue
        if line.startswith((b"=yend", b"=ypart")):
            if line.startswith(b"=yend"):
                inside = False
            continue
        if not inside:
            continue
        escape = False
        for c in line:
            if escape:
                out.append((c - 64 - 42) % 256)
                escape = False
            elif c == 0x3D:
                escape = True
            else:
                out.append((c - 42) % 256)
    return bytes(out)


def _binhex(text: bytes) -> bytes:
    start = text.find(_BINHEX)
    colon = text.find(b":", start + len(_BINHEX) if start >= 0 else 0)
    if colon < 0:
        return b""
    end = text.find(b":", colon + 1)
    chars = [_BINHEX_MAP[c] for c in text[colon + 1 : end if end > 0 else None] if c in _BINHEX_MAP]
    packed = bytearray()
    for i in range(0, len(chars) - 1, 4):
        group = chars[i : i + 4] + [0] * (4 - len(chars[i : i + 4]))
        value = group[0] << 18 | group[1] << 12 | group[2] << 6 | group[3]
        take = min(3, (len(chars) - i) * 6 // 8)
        packed += value.to_bytes(3, "big")[:take]
    data = bytearray()
    i = 0
    while i < len(packed):
        c = packed[i]
        if c == 0x90 and i + 1 < len(packed):
            count = packed[i + 1]
            if count == 0:
                data.append(0x90)
            elif data:
                data += bytes([data[-1]]) * (count - 1)
            i += 2
            continue
        data.append(c)
        i += 1
    if not data:
        return b""
    pos = 1 + data[0] + 1 + 4 + 4 + 2
    length = int.from_bytes(data[pos : pos + 4], "big")
    body = pos + 4 + 4 + 2
    return bytes(data[body : body + length])


def _gunzip(data: bytes, limit: int) -> bytes:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, max(limit, 1 << 16))
    except zlib.error:
        return b""
