"""Messages for the MIME ambiguity tests, written from the public "MIME is broken" families.

Each attack hides an executable or a phishing link in one reading; each control has the same
shape written the normal way, and must read as one unambiguous message.
"""

from __future__ import annotations

import base64

EXE = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00\x4c\x01" + b"\0" * 200
HEAD = (
    b"From: Billing <billing@supplier.example.net>\r\nTo: alice@example.com\r\n"
    b"Subject: Your invoice\r\nMessage-ID: <amb@supplier.example.net>\r\n"
    b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
)
EVIL = b"http://login-verify.evil.example/reset"


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def mixed(body: bytes, boundary: bytes = b"b1", extra: bytes = b"") -> bytes:
    return HEAD + b"Content-Type: multipart/mixed; boundary=" + boundary + b"\r\n" + extra + b"\r\n" + body


TEXT = b"Content-Type: text/plain\r\n\r\nPlease find the invoice attached.\r\n"
EXE_PART = (
    b"Content-Type: application/octet-stream; name=\"invoice.exe\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(EXE)
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

ATTACKS: dict[str, tuple[bytes, str]] = {
    # two Content-Transfer-Encoding headers: 7bit first hides the decoded executable
    "duplicate_cte": (
        mixed(
            b"--b1\r\n" + TEXT + b"--b1\r\nContent-Type: application/octet-stream; name=a.dat\r\n"
            b"Content-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + b64(EXE) + b"--b1--\r\n"
        ),
        "duplicate_cte",
    ),
    # two Content-Type headers on the root: text/plain first, multipart last
    "duplicate_content_type": (
        HEAD + b"Content-Type: text/plain\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
        b"--b1\r\n" + TEXT + b"--b1\r\n" + EXE_PART + b"--b1--\r\n",
        "duplicate_content_type",
    ),
    # boundary=a; boundary=b: the parts split by the second one are hidden from the first
    "duplicate_boundary": (
        mixed(b"--a\r\n" + TEXT + b"--b\r\n" + EXE_PART + b"--b--\r\n--a--\r\n", b"a; boundary=b"),
        "duplicate_boundary",
    ),
    # boundary="a"b: a quoted-string reader splits on --a, a token reader does not
    "boundary_quoting": (
        mixed(b"--a\r\n" + TEXT + b"--a\r\n" + EXE_PART + b"--a--\r\n", b'"a"b'),
        "boundary_quoting",
    ),
    # RFC 2231 filename* says .exe, plain filename says .pdf
    "name_conflict": (
        mixed(
            b"--b1\r\n" + TEXT + b"--b1\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename=\"invoice.pdf\"; "
            b"filename*=utf-8''invoice.js\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + b64(b"var s = WScript.CreateObject('WScript.Shell'); s.Run('calc');\r\n")
            + b"--b1--\r\n"
        ),
        "name_conflict",
    ),
    # a whole MIME entity with a link hidden in the preamble
    "preamble_mime": (
        mixed(
            b"--x9\r\nContent-Type: text/html\r\n\r\n<a href=\"" + EVIL + b"\">Reset</a>\r\n"
            b"--x9--\r\n--b1\r\n" + TEXT + b"--b1--\r\n"
        ),
        "preamble_mime",
    ),
    # the same after the closing delimiter
    "epilogue_mime": (
        mixed(
            b"--b1\r\n" + TEXT + b"--b1--\r\nContent-Type: application/octet-stream; "
            b"name=x.exe\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(EXE)
        ),
        "epilogue_mime",
    ),
    # junk in base64: a decoder that stops at the junk sees a stub, one that skips it a PE
    "base64_junk": (
        mixed(
            b"--b1\r\n" + TEXT + b"--b1\r\nContent-Type: application/pdf; name=doc.pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(EXE)[:78] + b"*!*\r\n"
            + b64(EXE)[78:] + b"--b1--\r\n"
        ),
        "base64_junk",
    ),
    # data after the padding: decoders stop at '=' or read each padded chunk
    "base64_padding": (
        mixed(
            b"--b1\r\n" + TEXT + b"--b1\r\nContent-Type: application/octet-stream; name=a.dat\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(EXE[:10]) + b64(EXE[10:])
            + b"--b1--\r\n"
        ),
        "base64_padding",
    ),
    # a base64 Content-Transfer-Encoding on the multipart itself
    "cte_multipart": (
        mixed(
            b64(b"--b1\r\n" + TEXT + b"--b1\r\n" + EXE_PART + b"--b1--\r\n"),
            extra=b"Content-Transfer-Encoding: base64\r\n",
        ),
        "cte_multipart",
    ),
    # an attached message declared base64 (not allowed): the link is inside
    "encoded_message": (
        mixed(
            b"--b1\r\n" + TEXT + b"--b1\r\nContent-Type: message/rfc822\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n"
            + b64(b"Subject: x\r\nContent-Type: text/html\r\n\r\n<a href=\"" + EVIL
                  + b"\">Verify your account</a>\r\n")
            + b"--b1--\r\n"
        ),
        "encoded_message",
    ),
    # no closing delimiter: the executable is the unterminated last part
    "no_close_boundary": (
        mixed(b"--b1\r\n" + TEXT + b"--b1\r\n" + EXE_PART),
        "no_close_boundary",
    ),
    # a lone CR splits a header for one reader and not for another
    "bare_cr": (
        HEAD + b"X-Note: hello\rContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
        b"--b1\r\n" + TEXT + b"--b1\r\n" + EXE_PART + b"--b1--\r\n",
        "bare_cr",
    ),
    # "Content-Type :" ends the header block for a strict parser, not for others
    "header_syntax": (
        HEAD + b"Content-Type : multipart/mixed; boundary=b1\r\n\r\n"
        b"--b1\r\n" + TEXT + b"--b1\r\n" + EXE_PART + b"--b1--\r\n",
        "header_syntax",
    ),
    # one boundary a prefix of the other
    "boundary_prefix": (
        mixed(
            b"--b1\r\nContent-Type: multipart/alternative; boundary=b1x\r\n\r\n--b1x\r\n" + TEXT
            + b"--b1x--\r\n--b1\r\n" + EXE_PART + b"--b1--\r\n"
        ),
        "boundary_prefix",
    ),
}

PLAIN_PDF = (
    b"Content-Type: application/pdf; name=\"invoice.pdf\"\r\n"
    b"Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(PDF)
)

CONTROLS: dict[str, bytes] = {
    "plain_multipart_with_preamble": mixed(
        b"This is a multi-part message in MIME format.\r\n\r\n--b1\r\n" + TEXT
        + b"--b1\r\n" + PLAIN_PDF + b"--b1--\r\n"
    ),
    "quoted_boundary": mixed(b"--b1\r\n" + TEXT + b"--b1\r\n" + PLAIN_PDF + b"--b1--\r\n", b'"b1"'),
    "same_duplicate_header": HEAD + b"Content-Type: text/plain\r\nContent-Type: text/plain\r\n\r\nHi Alice, the minutes of the Tuesday meeting are below.\r\n",
    "rfc2231_name_only": mixed(
        b"--b1\r\n" + TEXT + b"--b1\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(PDF) + b"--b1--\r\n"
    ),
    "rfc2231_and_plain_agree": mixed(
        b"--b1\r\n" + TEXT + b"--b1\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n"
        b"Content-Disposition: attachment; filename=\"report.pdf\"; filename*=utf-8''report.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(PDF) + b"--b1--\r\n"
    ),
    "pgp_signature_names": mixed(
        b"--b1\r\n" + TEXT + b"--b1\r\nContent-Type: application/pgp-signature; "
        b"name=\"OpenPGP_signature.asc\"\r\nContent-Disposition: attachment; "
        b"filename=\"OpenPGP_signature\"\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\nabc\r\n"
        b"-----END PGP SIGNATURE-----\r\n--b1--\r\n"
    ),
    "forwarded_message": mixed(
        b"--b1\r\n" + TEXT + b"--b1\r\nContent-Type: message/rfc822\r\n\r\n"
        b"Subject: fwd\r\nContent-Type: text/plain\r\n\r\nSee the minutes.\r\n--b1--\r\n"
    ),
    "epilogue_text": mixed(b"--b1\r\n" + TEXT + b"--b1--\r\n\r\nList footer: unsubscribe at the web page.\r\n"),
    "lf_line_endings": (
        mixed(b"--b1\r\n" + TEXT + b"--b1\r\n" + PLAIN_PDF + b"--b1--\r\n")
    ).replace(b"\r\n", b"\n"),
    "base64_clean": HEAD + b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n" + b64("Grüße, the notes.\n".encode()),
}
