"""Our own generator of the "MIME is broken" families (Steffen Ullrich, BSides Munich 2022).

Written from the families the public corpus (github noxxi/mime-is-broken) describes, not copied
from it: for every family, attack variants that hide a payload from one reading of the message,
and a benign control beside them: the same structure, written the well-formed way, with
harmless content.

Payloads:

- ``hide content``: a ZIP holding a Windows program (``run.exe``, a PE header), attached as
  "documents.zip", or an HTML part with a link to a credential-harvest page; the control
  attaches a ZIP holding a PDF report;
- ``hide file name``: a file named "archive.zip" (its content is text, so only the name can
  stop it) under a name spelled to slip past a name filter; the control names it
  "report.pdf".

``FAMILIES`` maps family -> {variant: message}; ``CONTROLS`` maps family -> message;
``NAME_ATTACKS`` / ``NAME_CONTROLS`` the same for hidden file names.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import zipfile
from collections.abc import Callable

EXE = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00\x4c\x01" + b"\0" * 200
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EVIL = "http://login-verify.evil.example/reset"
HEAD = (
    b"From: Maria Lopez <maria@partner.example.org>\r\nTo: alice@example.com\r\n"
    b"Subject: Minutes and documents from Tuesday\r\nMessage-ID: <fam@partner.example.org>\r\n"
    b"Date: Tue, 2 Jan 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
)
TEXT = (
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Hi Alice,\r\n\r\nas promised, the documents from Tuesday's planning meeting.\r\n\r\n"
    b"Best regards,\r\nMaria\r\n"
)


def _zip(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


BAD_ZIP = _zip("run.exe", EXE)
GOOD_ZIP = _zip("report.pdf", PDF)
PHISH_HTML = (
    f'<html><body><p>Your mailbox is full.</p><a href="{EVIL}">Verify your account</a>'
    "</body></html>"
).encode()


def b64(data: bytes, width: int = 76) -> bytes:
    text = base64.b64encode(data)
    return b"".join(text[i : i + width] + b"\r\n" for i in range(0, len(text), width))


def qp_all(data: bytes) -> bytes:
    """Every byte escaped, soft line breaks every 24 bytes."""
    text = b"".join(b"=%02X" % c for c in data)
    return b"".join(text[i : i + 72] + b"=\r\n" for i in range(0, len(text), 72)) + b"\r\n"


def zip_part(data: bytes, cte: bytes = b"Content-Transfer-Encoding: base64\r\n",
             body: bytes | None = None) -> bytes:  # fmt: skip
    return (
        b"Content-Type: application/zip; name=\"documents.zip\"\r\n"
        b"Content-Disposition: attachment; filename=\"documents.zip\"\r\n"
        + cte + b"\r\n" + (b64(data) if body is None else body)
    )


def multipart(parts: list[bytes], boundary: bytes = b"b1", ctype: bytes | None = None,
              extra: bytes = b"", delim: bytes | None = None, close: bool = True) -> bytes:  # fmt: skip
    """A multipart message; ``ctype`` replaces the Content-Type line, ``delim`` the boundary
    used in the body."""
    header = ctype if ctype is not None else b"Content-Type: multipart/mixed; boundary=" + boundary
    used = boundary if delim is None else delim
    body = b"".join(b"--" + used + b"\r\n" + p for p in parts)
    return HEAD + header + b"\r\n" + extra + b"\r\n" + body + (
        b"--" + used + b"--\r\n" if close else b""
    )


def _pair(build: Callable[[bytes], bytes]) -> tuple[bytes, bytes]:
    """(attack, control): the same builder with the bad ZIP and with the good one."""
    return build(BAD_ZIP), build(GOOD_ZIP)


def _cte(value: bytes) -> Callable[[bytes], bytes]:
    return lambda z: multipart([TEXT, zip_part(z, value)])


def _ctype(line: bytes, delim: bytes = b"b1") -> Callable[[bytes], bytes]:
    return lambda z: multipart([TEXT, zip_part(z)], ctype=line, delim=delim)


def _b64_body(mangle: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    return lambda z: multipart([TEXT, zip_part(z, body=mangle(z))])


def _per_line(data: bytes, suffix: bytes) -> bytes:
    text = base64.b64encode(data)
    return b"".join(text[i : i + 4] + suffix + b"\r\n" for i in range(0, len(text), 4))


def _tb_quads(data: bytes) -> bytes:
    """Thunderbird's reading: every byte of the form xxxxxx00 as "?=A=" (is "?A==")."""
    out = []
    for c in data:
        quad = base64.b64encode(bytes([c]))
        out.append(quad.replace(b"A==", b"=A=") if c % 4 == 0 else quad)
    return b"".join(out) + b"\r\n"


def _nested(outer: bytes, inner: bytes, z: bytes, inner_delim: bytes | None = None) -> bytes:
    used = inner if inner_delim is None else inner_delim
    inner_body = b"--" + used + b"\r\n" + TEXT + b"--" + used + b"\r\n" + zip_part(z)
    inner_body += b"--" + used + b"--\r\n"
    return multipart(
        [b"Content-Type: multipart/mixed; boundary=\"" + inner + b"\"\r\n\r\n" + inner_body],
        boundary=outer,
    )


#: family -> variant -> (builder taking the ZIP to attach): the attack gets BAD_ZIP.
_BUILDERS: dict[str, dict[str, Callable[[bytes], bytes]]] = {
    "transfer_encoding": {
        "x-base64": _cte(b"Content-Transfer-Encoding: x-base64\r\n"),
        "comment": _cte(b"Content-Transfer-Encoding: base64 (encoded)\r\n"),
        "encoded_word": _cte(b"Content-Transfer-Encoding: =?UTF-8?B?YmFzZTY0?=\r\n"),
        "inner_comment": _cte(b"Content-Transfer-Encoding: bas()e64\r\n"),
        "two_values": _cte(b"Content-Transfer-Encoding: quoted-printable base64\r\n"),
        "double_colon": _cte(b"Content-Transfer-Encoding:: base64\r\n"),
        "no_colon": _cte(b"Content-Transfer-Encoding base64\r\n"),
        "duplicate": _cte(b"Content-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64\r\n"),
        "gzip64": lambda z: multipart([TEXT, zip_part(
            z, b"Content-Transfer-Encoding: x-gzip64\r\n", b64(gzip.compress(z)))]),
    },
    "content_type": {
        "escaped": _ctype(b"Content-Type: multi\\part/mixed; boundary=b1"),
        "comment_type": _ctype(b"Content-Type: ()multipart/mixed; boundary=b1"),
        "x_multipart": _ctype(b"Content-Type: x-multipart/mixed; boundary=b1"),
        "encoded_word": _ctype(b"Content-Type: =?UTF-8?B?bXVsdGlwYXJ0?=/mixed; boundary=b1"),
        "comma": _ctype(b"Content-Type: multipart/mixed, boundary=b1"),
        "no_boundary": _ctype(b"Content-Type: multipart/mixed"),
        "no_type": _ctype(b"Content-Type: boundary=b1"),
        "double_colon": _ctype(b"Content-Type:: multipart/mixed; boundary=b1"),
        "quoted_type": _ctype(b"Content-Type: \"multipart/mixed\"; boundary=b1"),
    },
    "duplicate_headers": {
        "text_then_multipart": _ctype(
            b"Content-Type: text/plain\r\nContent-Type: multipart/mixed; boundary=b1"
        ),
        "two_boundaries": lambda z: multipart(
            [TEXT, zip_part(z)], ctype=b"Content-Type: multipart/mixed; boundary=zz; boundary=b1"
        ),
        "rfc2231_and_plain": lambda z: multipart(
            [TEXT, zip_part(z)], ctype=b"Content-Type: multipart/mixed; boundary*=''b1; boundary=zz"
        ),
    },
    "boundary_quoting": {
        "quote_inside": _ctype(b'Content-Type: multipart/mixed; boundary="b1"x', b'b1"x'),
        "escaped_char": _ctype(b"Content-Type: multipart/mixed; boundary=b\\_1", b"b_1"),
        "comment_value": _ctype(b"Content-Type: multipart/mixed; boundary=(c)b1"),
        "comment_key": _ctype(b"Content-Type: multipart/mixed; boundary()=b1"),
        "semicolon": _ctype(b"Content-Type: multipart/mixed; boundary=b1\\;x", b"b1;x"),
        "hidden_key": _ctype(b"Content-Type: multipart/mixed; foo=\"bar;boundary=b1\""),
        "space_eq": _ctype(b"Content-Type: multipart/mixed; boundary =b1"),
        "squote": _ctype(b"Content-Type: multipart/mixed; boundary='b 1'", b"b 1"),
    },
    "rfc2231_boundary": {
        "out_of_order": _ctype(b"Content-Type: multipart/mixed; boundary*1=1; boundary*0=b"),
        "percent_not_starred": _ctype(
            b"Content-Type: multipart/mixed; boundary*0=b%5F; boundary*1=1", b"b_1"
        ),
    },
    "encoded_word_params": {
        "boundary_q": _ctype(b"Content-Type: multipart/mixed; boundary=\"=?us-ascii?Q?b1?=\""),
        "boundary_b": _ctype(b"Content-Type: multipart/mixed; boundary=\"=?us-ascii?B?YjE=?=\""),
    },
    "line_endings": {
        "bare_cr_header": lambda z: multipart(
            [TEXT, zip_part(z)], ctype=b"X-Note: hi\rContent-Type: multipart/mixed; boundary=b1"
        ),
        "cr_before_delimiter": lambda z: HEAD + b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
        + b"".join(b"\n\r--b1\n" + p for p in (TEXT, zip_part(z))) + b"\n--b1--\n",
        "delimiter_ends_in_cr": lambda z: HEAD + b"Content-Type: multipart/mixed; boundary=b1\n\n"
        + b"".join(b"\n--b1\r" + p.replace(b"\r\n", b"\n") for p in (TEXT, zip_part(z)))
        + b"\n--b1--\n",
        "cr_hides_cte": lambda z: multipart([TEXT, zip_part(
            z, b"X-Foo: bar\rContent-Transfer-Encoding: base64\r\n")]),
    },
    "missing_boundaries": {
        "delimiter_suffix": lambda z: multipart([TEXT, zip_part(z)], delim=b"b1X"),
        "delimiter_space_suffix": lambda z: multipart([TEXT, zip_part(z)], delim=b"b1 X"),
        "no_definition": lambda z: HEAD + b"\r\n--b1\r\n" + TEXT + b"--b1\r\n" + zip_part(z),
        "no_close": lambda z: multipart([TEXT, zip_part(z)], close=False),
    },
    "nested_multipart": {
        "outer_is_inner": lambda z: _nested(b"b1", b"b1", z),
        "inner_extends_outer": lambda z: _nested(b"b1", b"b1_", z),
        "outer_extends_inner": lambda z: _nested(b"b1_", b"b1", z),
        "inner_boundary_wrong": lambda z: _nested(b"b1", b"b2", z, inner_delim=b"b2X"),
        "boundary_in_part_header": lambda z: HEAD
        + b"Content-Type: multipart/mixed; boundary=\"o:1\"\r\n\r\n--o:1\r\n"
        + b"Content-Type: multipart/mixed; boundary=b2\r\n--o:1\r\n\r\n--b2\r\n" + TEXT
        + b"--b2\r\n" + zip_part(z) + b"--b2--\r\n--o:1--\r\n",
    },
    "base64_body": {
        "junk_chars": _b64_body(lambda z: b64(z).replace(b"A", b"A#")),
        "suffix_per_line": _b64_body(lambda z: _per_line(z, b"XX")),
        "blank_line_first": _b64_body(lambda z: b"AB\r\n\r\n" + b64(z)),
        "thunderbird_quads": _b64_body(_tb_quads),
        "split_padding": _b64_body(lambda z: b64(z[:11]) + b64(z[11:])),
        "hash_comments": _b64_body(lambda z: b"".join(
            line[:4] + b"#note\r\n" + line[4:] + b"\r\n" for line in b64(z).splitlines())),
    },
    "quoted_printable": {
        "double_equals": lambda z: multipart([TEXT, zip_part(
            z, b"Content-Transfer-Encoding: quoted-printable\r\n",
            b"".join(b"==%02X=\r\n" % c for c in z))]),
        "soft_break_space": lambda z: multipart([TEXT, zip_part(
            z, b"Content-Transfer-Encoding: quoted-printable\r\n",
            b"".join(b"=%02X= \r\n" % c for c in z))]),
        "abbreviated": lambda z: multipart([TEXT, zip_part(
            z, b"Content-Transfer-Encoding: quoted-print\r\n", qp_all(z))]),
    },
    "header_break": {
        "no_blank_line": lambda z: multipart([TEXT, zip_part(z).replace(b"base64\r\n\r\n", b"base64\r\n")]),
        "junk_line_first": lambda z: multipart([TEXT, b"XXXXXXXX\r\n" + zip_part(z)]),
        "blank_line_first": lambda z: multipart([TEXT, b"\r\n" + zip_part(z)]),
        "space_line": lambda z: multipart([TEXT, zip_part(z).replace(b"base64\r\n\r\n", b"base64\r\n \r\n")]),
        "folded_cte": lambda z: multipart([TEXT, zip_part(
            z, b"X-Info: x\r\n Content-Transfer-Encoding: base64\r\n")]),
    },
    "embedded_encodings": {
        "uuencode": lambda z: multipart([TEXT, b"Content-Type: text/plain\r\n\r\nbegin 644 documents.zip\r\n"
            + b"".join(binascii.b2a_uu(z[i : i + 45]).replace(b"\n", b"\r\n") for i in range(0, len(z), 45))
            + b"`\r\nend\r\n"]),
        "uuencode_cte": lambda z: multipart([TEXT, zip_part(
            z, b"Content-Transfer-Encoding: x-uuencode\r\n",
            b"".join(binascii.b2a_uu(z[i : i + 45]).replace(b"\n", b"\r\n") for i in range(0, len(z), 45)))]),
        "binhex": lambda z: multipart([TEXT, b"Content-Type: application/mac-binhex40\r\n\r\n"
            + _binhex(b"documents.zip", z)]),
        "yenc": lambda z: multipart([TEXT, b"Content-Type: text/plain\r\n\r\n=ybegin line=128 size=%d name=documents.zip\r\n" % len(z)
            + _yenc(z) + b"\r\n=yend size=%d\r\n" % len(z)]),
    },
}  # fmt: skip


def _yenc(data: bytes) -> bytes:
    out = bytearray()
    for c in data:
        e = (c + 42) % 256
        if e in (0, 10, 13, 61):
            out += bytes([61, (e + 64) % 256])
        else:
            out.append(e)
    return bytes(out)


_BINHEX = b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr"


def _binhex(name: bytes, data: bytes) -> bytes:
    """BinHex 4.0 of ``data`` (CRCs left zero: readers differ on checking them)."""
    header = bytes([len(name)]) + name + b"\0" + b"????" * 2 + b"\0\0"
    raw = header + len(data).to_bytes(4, "big") + b"\0" * 4 + b"\0\0" + data + b"\0\0\0\0"
    raw = raw.replace(b"\x90", b"\x90\x00")  # the run-length marker, escaped
    raw += b"\0" * (-len(raw) % 3)
    chars = bytearray()
    for i in range(0, len(raw), 3):
        value = int.from_bytes(raw[i : i + 3], "big")
        chars += bytes(_BINHEX[value >> shift & 63] for shift in (18, 12, 6, 0))
    lines = b"\r\n".join(bytes(chars[i : i + 64]) for i in range(0, len(chars), 64))
    return b"(This file must be converted with BinHex 4.0)\r\n\r\n:" + lines + b":\r\n"


def _phish_link_families() -> dict[str, bytes]:
    """Hidden phishing links: an HTML part only another reading shows."""
    html = (
        b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64(PHISH_HTML)
    )
    return {
        "preamble": multipart([TEXT], extra=b"\r\n--x9\r\n" + html + b"--x9--\r\n"),
        "stray_delimiter": HEAD + b"Content-Type: multipart/alternative; boundary=b1\r\n\r\n--b1\r\n"
        + TEXT + b"--b1X\r\n" + html + b"--b1--\r\n",
        "duplicate_cte": multipart([TEXT, html.replace(
            b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: 7bit\r\n"
            b"Content-Transfer-Encoding: base64")]),
        "unknown_cte": multipart([TEXT, html.replace(b": base64", b": x-base64")]),
        "base64_junk": multipart([TEXT, html.replace(b"\r\n\r\n", b"\r\n\r\n#!\r\n", 1)]),
        "no_blank_line": multipart([TEXT, html.replace(b"base64\r\n\r\n", b"base64\r\n")]),
        "escaped_type": multipart([TEXT, html], ctype=b"Content-Type: multi\\part/alternative; boundary=b1"),
    }  # fmt: skip


FAMILIES: dict[str, dict[str, bytes]] = {
    family: {variant: build(BAD_ZIP) for variant, build in variants.items()}
    for family, variants in _BUILDERS.items()
}
FAMILIES["hidden_link"] = _phish_link_families()

#: One control per family: its structure written the well-formed way, harmless content.
CONTROLS: dict[str, bytes] = {
    "transfer_encoding": multipart([TEXT, zip_part(GOOD_ZIP)]),
    "content_type": multipart([TEXT, zip_part(GOOD_ZIP)]),
    "duplicate_headers": multipart(
        [TEXT, zip_part(GOOD_ZIP)],
        ctype=b"Content-Type: multipart/mixed; boundary=b1\r\nContent-Type: multipart/mixed; "
        b"boundary=b1",
    ),
    "boundary_quoting": multipart([TEXT, zip_part(GOOD_ZIP)], ctype=b'Content-Type: '
                                  b'multipart/mixed; boundary="b 1;x"', delim=b"b 1;x"),
    "rfc2231_boundary": multipart([TEXT, zip_part(GOOD_ZIP)], boundary=b"=_part_b1"),
    "encoded_word_params": multipart(
        [TEXT, zip_part(GOOD_ZIP)], ctype=b'Content-Type: multipart/mixed; boundary="b1"'
    ),
    "line_endings": multipart([TEXT, zip_part(GOOD_ZIP)]).replace(b"\r\n", b"\n"),
    "missing_boundaries": multipart([TEXT, zip_part(GOOD_ZIP)], boundary=b"b1X", delim=b"b1X"),
    "nested_multipart": _nested(b"outer1", b"inner1", GOOD_ZIP),
    "base64_body": multipart([TEXT, zip_part(GOOD_ZIP, body=b64(GOOD_ZIP, 64))]),
    "quoted_printable": multipart([TEXT, zip_part(
        GOOD_ZIP, b"Content-Transfer-Encoding: quoted-printable\r\n", qp_all(GOOD_ZIP))]),
    "header_break": multipart([TEXT, zip_part(GOOD_ZIP).replace(
        b"Content-Transfer-Encoding", b"X-Info: scanned\r\n\tby the sender\r\nContent-Transfer-Encoding")]),
    "embedded_encodings": multipart([TEXT.replace(
        b"as promised", b"to begin 2024 well, as promised")]),
    "hidden_link": multipart([TEXT, b"Content-Type: text/html; charset=utf-8\r\n\r\n"
                              b"<p>See you on <a href=\"https://partner.example.org/agenda\">"
                              b"the agenda page</a>.</p>\r\n"]),
}  # fmt: skip


# -- hidden file names -------------------------------------------------------------------------

NAME_BODY = b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(b"This could be any file.\n")


def _named(headers: bytes) -> bytes:
    return multipart([TEXT, headers + NAME_BODY], boundary=b"n1")


_OCTET = b"Content-Type: application/octet-stream"
_DISP = b"Content-Disposition: attachment"

NAME_ATTACKS: dict[str, bytes] = {
    name: _named(headers)
    for name, headers in {
        "plain_filename": _OCTET + b"\r\n" + _DISP + b"; filename=archive.zip\r\n",
        "type_name_only": _OCTET + b"; name=archive.zip\r\n",
        "rfc2231_continuation": _OCTET + b"\r\n" + _DISP + b"; filename*0=arch; filename*1=ive.zip\r\n",
        "rfc2231_out_of_order": _OCTET + b"\r\n" + _DISP + b"; filename*1=zip; filename*0=archive.\r\n",
        "rfc2231_gap": _OCTET + b"; name*1=archive.; name*2=zip\r\n",
        "rfc2231_percent": _OCTET + b"\r\n" + _DISP + b"; filename*=''archive.%7A%69%70\r\n",
        "rfc2231_utf8": _OCTET + b"\r\n" + _DISP + b"; filename*=UTF-8''%C3%BCbersicht.zip\r\n",
        "rfc2231_utf16": _OCTET + b"; name*=UTF-16''" + "".join(
            f"{c}%00" for c in "archive.zip").encode() + b"\r\n",
        "rfc2231_across_headers": _OCTET + b"; filename*0=archive.\r\n" + _DISP + b"; filename*1=zip\r\n",
        "rfc2231_beside_plain": _OCTET + b"\r\n" + _DISP + b"; filename=photo.png; filename*=''archive.zip\r\n",
        "encoded_word": _OCTET + b"; name=\"=?utf-8?B?" + base64.b64encode(b"archive.zip") + b"?=\"\r\n",
        "encoded_word_utf16be": _OCTET + b"; name=\"=?utf-16?B?"
        + base64.b64encode("archive.zip".encode("utf-16-be")) + b"?=\"\r\n",
        "name_vs_filename": _OCTET + b"; name=photo.png\r\n" + _DISP + b"; filename=archive.zip\r\n",
        "filename_vs_name": _OCTET + b"; name=archive.zip\r\n" + _DISP + b"; filename=photo.png\r\n",
        "repeated_param": _OCTET + b"; name=archive.zip; name=photo.png\r\n",
        "repeated_header": _OCTET + b"; name=photo.png\r\n" + _OCTET + b"; name=archive.zip\r\n",
        "quote_inside": _OCTET + b"; name=\"archive\".zip\r\n",
        "single_quotes": _OCTET + b"; name='archive.zip'\r\n",
        "semicolon": _OCTET + b"; name=archive;.zip\r\n",
        "comment_after": _OCTET + b"; name=archive.zip(.png)\r\n",
        "comment_inside": _OCTET + b"; name=archive.z()ip\r\n",
        "comment_key": _OCTET + b"\r\n" + _DISP + b"; file()name=archive.zip\r\n",
        "folded_key": _OCTET + b"\r\n" + _DISP + b";\r\n filename\r\n =archive.zip\r\n",
        "trailing_dot": _OCTET + b"; name=\"archive.zip.\"\r\n",
    }.items()
}  # fmt: skip

NAME_CONTROLS: dict[str, bytes] = {
    "pdf_plain": _named(_OCTET + b"; name=report.pdf\r\n" + _DISP + b"; filename=report.pdf\r\n"),
    "pdf_rfc2231": _named(_OCTET + b"\r\n" + _DISP + b"; filename*=UTF-8''Bericht%20M%C3%A4rz.pdf\r\n"),
    "zip_in_the_middle": _named(_OCTET + b"; name=\"zip codes.txt\"\r\n"),
}  # fmt: skip
