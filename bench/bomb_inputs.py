"""Builders of bomb-like messages for bench/bombs.py, generated at run time (nothing committed).

Every builder takes ``quick``: False gives the full-size bomb (up to ~135 MB of message), True
a small one that still breaks the same default limit (or exercises the same code path), for
the test suite. Archive bombs never hold their unpacked size: a megabyte of zeros is deflated
once, ending in a full flush, and that byte-aligned block is repeated.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Sequence

MB = 1024 * 1024
GIB = 1024 * MB

HEAD = b"From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: bomb\r\n"
HEAD += b"Message-ID: <bomb@example.com>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"


def message(extra_headers: bytes = b"", body: bytes = b"hello\r\n", ctype: bytes = b"") -> bytes:
    """A message: the common headers, ``extra_headers`` (CRLF-terminated lines), then body."""
    content = b"Content-Type: " + ctype + b"\r\n" if ctype else b""
    return HEAD + extra_headers + content + b"MIME-Version: 1.0\r\n\r\n" + body


def with_attachment(name: str, ctype: str, data: bytes) -> bytes:
    """A multipart/mixed message with a text part and ``data`` attached as base64."""
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    body = (
        b"--b0\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--b0\r\nContent-Type: " + ctype.encode() + b"\r\n"
        b'Content-Disposition: attachment; filename="' + name.encode() + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"--b0--\r\n"
    )
    return message(body=body, ctype=b'multipart/mixed; boundary="b0"')


# --- MIME structure -------------------------------------------------------------------------


def deep_multipart(quick: bool) -> bytes:
    levels = 30 if quick else 10_000
    opens = b"".join(
        b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (i, i + 1)
        for i in range(levels)
    )
    closes = b"".join(b"--b%d--\r\n" % i for i in range(levels, -1, -1))
    body = opens + b"--b%d\r\nContent-Type: text/plain\r\n\r\ninnermost\r\n" % levels + closes
    return message(body=body, ctype=b'multipart/mixed; boundary="b0"')


def deep_rfc822(quick: bool) -> bytes:
    levels = 30 if quick else 10_000
    inner = b"From: x@example.com\r\nContent-Type: message/rfc822\r\n\r\n" * levels
    return message(body=inner + b"From: x@example.com\r\n\r\ninnermost\r\n",
                   ctype=b"message/rfc822")  # fmt: skip


def many_parts(quick: bool) -> bytes:
    count = 600 if quick else 100_000
    part = b"--b0\r\nContent-Type: text/plain\r\n\r\np\r\n"
    return message(body=part * count + b"--b0--\r\n", ctype=b'multipart/mixed; boundary="b0"')


def unclosed_boundaries(quick: bool) -> bytes:
    """Nested multiparts whose delimiters never close (the parser must still end)."""
    levels = 30 if quick else 10_000
    body = b"".join(
        b'--b%d\r\nContent-Type: multipart/related; boundary="b%d"\r\n\r\n' % (i, i + 1)
        for i in range(levels)
    )
    return message(body=body, ctype=b'multipart/mixed; boundary="b0"')


# --- headers --------------------------------------------------------------------------------


def huge_encoded_word(quick: bool) -> bytes:
    """One =?utf-8?b?...?= Subject over the header-block limit (5 MB)."""
    size = 1_100_000 if quick else 5 * MB
    payload = base64.b64encode(b"A" * (size * 3 // 4))
    return message(b"X-Subject: =?utf-8?b?" + payload + b"?=\r\n")


def big_encoded_word_under_limit(quick: bool) -> bytes:
    """One encoded word just under the header-block limit: decoded, scanned by detectors."""
    size = 200_000 if quick else 900_000
    payload = base64.b64encode(b"Please verify your account now. " * (size * 3 // 4 // 32))
    return message(b"Subject: =?utf-8?b?" + payload + b"?=\r\n")


def many_encoded_words(quick: bool) -> bytes:
    """A Subject of many small encoded words, folded, under the header-block limit; decoded
    they make one long word (quadratic for a backtracking regex)."""
    count = 6_000 if quick else 55_000
    words = b"\r\n ".join(b"=?utf-8?q?w%d?=" % (i % 10) for i in range(count))
    return message().replace(b"Subject: bomb", b"Subject: " + words, 1)


def huge_to_list(quick: bool) -> bytes:
    """To with 100k addresses (over the header-block limit)."""
    count = 50_000 if quick else 100_000
    addrs = b", ".join(b"user%d@example.org" % i for i in range(count))
    return message(b"Cc: " + addrs + b"\r\n")


def long_to_under_limit(quick: bool) -> bytes:
    """Cc with as many addresses as fit under the header-block limit."""
    count = 10_000 if quick else 24_000
    addrs = b",\r\n ".join(b'"User %d" <user%d@example.org>' % (i, i) for i in range(count))
    return message(b"Cc: " + addrs + b"\r\n")


def nested_comments(quick: bool) -> bytes:
    """An address with comments nested 100k deep (the stdlib address parser recurses)."""
    depth = 2_000 if quick else 100_000
    return message(b"Cc: " + b"(" * depth + b"x" + b")" * depth + b" <a@example.org>\r\n")


def quoted_pairs(quick: bool) -> bytes:
    """Display names made of quoted pairs and unbalanced quotes, many addresses."""
    count = 4_000 if quick else 13_000
    addr = b'"\\"\\"\\"\\(\\)\\<\\>\\,\\;" <q@example.org>, "unterminated, (c(o(m)m)e) <x@y>, '
    return message(b"Cc: " + addr * count + b"\r\n")


def nested_groups(quick: bool) -> bytes:
    """An address header of nested groups (``g:`` without ``;``: the stdlib recurses)."""
    depth = 2_000 if quick else 100_000
    return message(b"Cc: " + b"g:" * depth + b"a@example.org\r\n")


def angle_brackets(quick: bool) -> bytes:
    """250 KB of ``<`` in To, just under the address-bytes limit (the stdlib parser is slow
    per byte: the worst that still gets a full scan)."""
    size = 50_000 if quick else 250_000
    return message(b"Cc: " + b"<" * size + b"\r\n")


def many_headers(quick: bool) -> bytes:
    """100k short headers (under the header-block limit in bytes)."""
    count = 20_000 if quick else 100_000
    return message(b"".join(b"X-H%d: v\r\n" % (i % 50) for i in range(count)))


def many_received(quick: bool) -> bytes:
    """Many Received and Authentication-Results headers (auth and path checks read them)."""
    count = 3_000 if quick else 4_000
    one = (b"Received: from mx%d.example.net (mx.example.net [192.0.2.1]) by mx.example.com"
           b" with ESMTP id x; Mon, 1 Jan 2024 10:00:00 +0000\r\n"
           b"Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=x.com\r\n")
    return message(b"".join(one.replace(b"%d", b"%d" % i) for i in range(count)))


def header_line_100mb(quick: bool) -> bytes:
    size = 2 * MB if quick else 100 * MB
    return message(b"X-Long: " + b"a" * size + b"\r\n")


def folded_header(quick: bool) -> bytes:
    """One header folded over 200k continuation lines (under the header-block limit)."""
    lines = 20_000 if quick else 200_000
    return message(b"X-Folded: start" + b"\r\n x" * lines + b"\r\n")


def param_semicolons(quick: bool) -> bytes:
    """Content-Type with an unterminated quote and many ';' (quadratic _parseparam)."""
    count = 50_000 if quick else 900_000
    return message(ctype=b'text/plain; charset="' + b";" * count)


def part_param_semicolons(quick: bool) -> bytes:
    """The same, in a sub-part's header (outside the top-level header block): 5 MB."""
    count = 50_000 if quick else 5 * MB
    part = (b'--b0\r\nContent-Disposition: attachment; filename="' + b";" * count
            + b'\r\nContent-Type: application/octet-stream\r\n\r\nxyz\r\n--b0--\r\n')  # fmt: skip
    return message(body=part, ctype=b'multipart/mixed; boundary="b0"')


def many_params(quick: bool) -> bytes:
    """Content-Type with 100k parameters (RFC 2231 continuations of a file name)."""
    count = 20_000 if quick else 60_000
    params = b"".join(b";\r\n name*%d*=a%%41" % i for i in range(count))
    return message(ctype=b"application/octet-stream" + params, body=b"eHl6\r\n")


def part_header_40mb(quick: bool) -> bytes:
    """A sub-part with a 40 MB header (outside the top-level header block; under the
    message-size limit)."""
    size = 2 * MB if quick else 40 * MB
    part = (b"--b0\r\nX-Pad: " + b"p" * size
            + b"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b0--\r\n")  # fmt: skip
    return message(body=part, ctype=b'multipart/mixed; boundary="b0"')


def part_folded_header(quick: bool) -> bytes:
    """A sub-part header folded over 2M short lines (16 MB)."""
    lines = 300_000 if quick else 2_000_000
    part = (b"--b0\r\nX-Folded: start" + b"\r\n folded" * lines
            + b"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b0--\r\n")  # fmt: skip
    return message(body=part, ctype=b'multipart/mixed; boundary="b0"')


# --- bodies ---------------------------------------------------------------------------------


def base64_100mb(quick: bool) -> bytes:
    """A 100 MiB attachment (over max_decoded_bytes once decoded)."""
    size = 38 * MB if quick else 100 * MB  # quick: just over max_message_bytes
    encoded = (base64.b64encode(bytes(range(256)) * 3 * 19)[:76] + b"\r\n") * (size // 57 + 1)
    body = (b"--b0\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"--b0--\r\n")  # fmt: skip
    return message(body=body, ctype=b'multipart/mixed; boundary="b0"')


def base64_34mib(quick: bool) -> bytes:
    """A 34 MiB attachment (49 MB of base64): about the largest message under the size limit."""
    size = 1 * MB if quick else 34 * MB
    return with_attachment("big.bin", "application/octet-stream", bytes(range(256)) * (size // 256))


def base64_20mb(quick: bool) -> bytes:
    """A 20 MB attachment: within every limit, scanned in full."""
    size = 1 * MB if quick else 20 * MB
    data = bytes(range(256)) * (size // 256)
    return with_attachment("data.bin", "application/octet-stream", data)


def deep_html(quick: bool) -> bytes:
    depth = 10_000 if quick else 1_000_000
    html = b"<html><body>" + b"<div>" * depth + b"deep" + b"</div>" * depth + b"</body></html>"
    return message(body=html, ctype=b"text/html")


def deep_html_formatting(quick: bool) -> bytes:
    """Misnested formatting elements (the adoption agency algorithm) many times."""
    count = 5_000 if quick else 100_000
    html = b"<p>" + b"<b><i><a href=x>t</b></i></a>" * count
    return message(body=html, ctype=b"text/html")


def many_links(quick: bool) -> bytes:
    count = 5_000 if quick else 100_000
    links = b"".join(b'<a href="http://h%d.example%d.com/p?q=%d">l%d</a>\n' % (i, i, i, i)
                     for i in range(count))  # fmt: skip
    return message(body=b"<html><body>" + links + b"</body></html>", ctype=b"text/html")


def many_text_urls(quick: bool) -> bytes:
    count = 5_000 if quick else 200_000
    text = b"".join(b"see http://x%d.example.net/a/b?c=%d now\r\n" % (i, i) for i in range(count))
    return message(body=text, ctype=b"text/plain")


def huge_text(quick: bool) -> bytes:
    """20 MB of words in a text/plain body (content and lure detectors read it)."""
    size = 1 * MB if quick else 20 * MB
    line = b"Dear customer please verify your password at once or lose access today\r\n"
    return message(body=line * (size // len(line)), ctype=b"text/plain")


# --- archives and documents -----------------------------------------------------------------


def _zeros_deflate(total: int) -> tuple[bytes, int]:
    """(raw deflate stream of ``total`` zero bytes, its CRC-32), from one 1 MiB block."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packer.compress(bytes(MB))
    packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(bytes(MB)) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    chunk = bytes(MB)
    for _ in range(total // MB):
        crc = zlib.crc32(chunk, crc)
    return block * (total // MB) + b"\x03\x00", crc


def _zip(entries: Sequence[tuple[bytes, bytes, int, int, int]]) -> bytes:
    """A zip of (name, stored data, crc, size, method) entries, each with its own local file."""
    local = bytearray()
    central = bytearray()
    for name, data, crc, size, method in entries:
        offset = len(local)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data),
                             size & 0xFFFFFFFF, len(name), 0) + name + data  # fmt: skip
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc,
                               len(data), size & 0xFFFFFFFF, len(name), 0, 0, 0, 0, 0,
                               offset) + name  # fmt: skip
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central),
                      len(local), 0)  # fmt: skip
    return bytes(local + central + end)


def _deflated(name: bytes, data: bytes) -> tuple[bytes, bytes, int, int, int]:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, packer.compress(data) + packer.flush(), zlib.crc32(data), len(data), 8


def gzip_1gib(quick: bool) -> bytes:
    total = 64 * MB if quick else GIB
    body, crc = _zeros_deflate(total)
    data = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + struct.pack("<II", crc, total)
    return with_attachment("zeros.gz", "application/gzip", data)


def zip_overlap(quick: bool) -> bytes:
    """Ten central-directory entries all pointing at one local file of 1 GiB of zeros."""
    total = 64 * MB if quick else GIB
    body, crc = _zeros_deflate(total)
    one = _zip([(b"zeros.bin", body, crc, total, 8)])
    local_len = one.index(b"PK\x01\x02")
    central_entry = one[local_len : one.index(b"PK\x05\x06")]
    central = central_entry * 10
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 10, 10, len(central), local_len, 0)
    return with_attachment("overlap.zip", "application/zip", one[:local_len] + central + end)


def nested_zips(quick: bool) -> bytes:
    levels = 8 if quick else 50
    content = _zip([_deflated(b"readme.txt", b"innermost")])
    for level in range(levels - 1, 0, -1):
        content = _zip([_deflated(b"level%d.zip" % level, content)])
    return with_attachment("nested.zip", "application/zip", content)


def zip_42_like(quick: bool) -> bytes:
    """42.zip's shape: 16 zips per level, 5 levels, leaves of 64 MiB (full) of zeros."""
    leaf_size = 4 * MB if quick else 64 * MB
    body, crc = _zeros_deflate(leaf_size)
    content = _zip([(b"0%x.bin" % i, body, crc, leaf_size, 8) for i in range(16)])
    for level in range(4 if quick else 5):
        content = _zip([_deflated(b"lib%d_%x.zip" % (level, i), content) for i in range(16)])
    return with_attachment("42.zip", "application/zip", content)


def zip_10k_entries(quick: bool) -> bytes:
    count = 10_001 if quick else 50_000
    return with_attachment("many.zip", "application/zip",
                           _zip([(b"f%d.txt" % i, b"x", zlib.crc32(b"x"), 1, 0)
                                 for i in range(count)]))  # fmt: skip


def pdf_deep_nesting(quick: bool) -> bytes:
    """A PDF whose catalog holds arrays and dictionaries nested 100k deep."""
    depth = 5_000 if quick else 100_000
    nest = b"[" * depth + b"]" * depth + b" " + b"<< /A " * depth + b">>" * depth
    objects = [b"<< /Type /Catalog /Pages 2 0 R /Deep " + nest + b" >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"]  # fmt: skip
    return with_attachment("deep.pdf", "application/pdf", _pdf(objects))


def pdf_many_objects(quick: bool) -> bytes:
    """A PDF with 200k objects in a chain of /Next references (each action links the next)."""
    count = 5_000 if quick else 200_000
    objects = [b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"]  # fmt: skip
    objects += [b"<< /S /URI /URI (http://x.example/) /Next %d 0 R >>" % (i + 5)
                for i in range(count)]  # fmt: skip
    return with_attachment("chain.pdf", "application/pdf", _pdf(objects))


def _pdf(objects: Sequence[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def ole_many_streams(quick: bool) -> bytes:
    """An OLE2 compound file whose directory holds many small streams (olefile reads it)."""
    count = 500 if quick else 20_000
    return with_attachment("many.doc", "application/msword", _ole(count))


def _ole(streams: int) -> bytes:
    """A minimal CFB v3 file: ``streams`` empty streams, in a right-leaning directory chain."""
    sector = 512
    entries = [_dirent("Root Entry", 5, child=1 if streams else -1)]
    entries += [_dirent(f"S{i}", 2, right=i + 2 if i + 1 < streams else -1) for i in range(streams)]
    while len(entries) % 4:
        entries.append(bytes(128))
    dir_sectors = len(entries) // 4
    fat_entries = dir_sectors + 1
    fat_sectors = (fat_entries + 127) // 128 + 1
    fat = [0xFFFFFFFD] * fat_sectors + [i + fat_sectors + 1 for i in range(dir_sectors)]
    fat[-1] = 0xFFFFFFFE
    fat_bytes = b"".join(struct.pack("<I", v) for v in fat)
    fat_bytes += b"\xff" * (fat_sectors * sector - len(fat_bytes))
    difat = [*range(fat_sectors), *([0xFFFFFFFF] * (109 - fat_sectors))]
    header = struct.pack("<8s16sHHHHHH6sIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
                         bytes(16), 0x3E, 3, 0xFFFE, 9, 6, 0, bytes(6), 0, fat_sectors,
                         fat_sectors, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)  # fmt: skip
    header += b"".join(struct.pack("<I", v) for v in difat)
    return header + fat_bytes + b"".join(entries)


def _dirent(name: str, kind: int, child: int = -1, right: int = -1) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return struct.pack("<64sHBBiii16sIQQIII", encoded, len(encoded), kind, 1, -1, right, child,
                       bytes(16), 0, 0, 0, 0xFFFFFFFE if kind == 2 else 0, 0, 0)  # fmt: skip


def ok_long_to(quick: bool) -> bytes:
    """A normal message: 300 recipients, a few encoded words: must be delivered as usual."""
    addrs = b",\r\n ".join(
        b'"=?utf-8?q?J=C3=B6rg_%d?=" <j%d@example.org>' % (i, i) for i in range(300))
    return message(b"Cc: " + addrs + b"\r\nX-Note: =?utf-8?b?w6TDtsO8?= =?utf-8?q?ok?=\r\n",
                   b"Hello team, the minutes are below.\r\n")  # fmt: skip
