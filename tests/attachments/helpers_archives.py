"""Builders of inert archive samples, made at run time: nothing binary is committed.

Archives are written in memory with libarchive's writer (zip, zip with ZipCrypto/AES, tar,
iso9660...). Bombs are made without ever holding their unpacked size: a megabyte of zeros is
deflated once, ending in a full flush, and that byte-aligned block is repeated.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import libarchive

MB = 1024 * 1024

WINDOWS_JS = (
    b'var shell = new ActiveXObject("WScript.Shell");\n'
    b'shell.Run("powershell -ExecutionPolicy Bypass -c iex(1)");\n'
)
POWERSHELL = b"$c = New-Object Net.WebClient\nStart-Process -FilePath $env:TEMP\\a.exe\n"
PDF_BYTES = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
#: A Windows shortcut header: size 0x4C and the ShellLink CLSID, then nothing that runs.
LNK_BYTES = b"L\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00F" + bytes(
    56
)


def pe_bytes() -> bytes:
    """A minimal 32-bit PE header (MZ stub, e_lfanew -> "PE\\0\\0", COFF, optional header)."""
    dos = bytearray(0x40)
    dos[0:2] = b"MZ"
    dos[0x3C:0x40] = struct.pack("<I", 0x40)
    coff = b"PE\0\0" + struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x0102)
    optional = bytearray(0xE0)
    optional[0:2] = struct.pack("<H", 0x10B)
    return bytes(dos) + coff + bytes(optional) + bytes(552)


def build(
    fmt: str,
    files: Sequence[tuple[str, bytes]],
    filter_name: str | None = None,
    options: str = "",
    passphrase: str | None = None,
) -> bytes:
    """An archive of ``files`` in libarchive's write format ``fmt`` ("zip", "ustar"...)."""
    out = bytearray()

    def write(data: bytes) -> int:
        out.extend(data)
        return len(data)

    with libarchive.custom_writer(
        write, fmt, filter_name, options=options, passphrase=passphrase
    ) as archive:
        for name, data in files:
            archive.add_file_from_memory(name, len(data), data)
    return bytes(out)


def zipped(*files: tuple[str, bytes]) -> bytes:
    return build("zip", files)


def zeros_deflate(total: int) -> tuple[bytes, int]:
    """(raw deflate stream of ``total`` zero bytes, its CRC-32), built from one 1 MiB block."""
    assert total % MB == 0
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packer.compress(bytes(MB))
    packer.flush(zlib.Z_FULL_FLUSH)  # the first block differs (no history); skip it
    block = packer.compress(bytes(MB)) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    chunk = bytes(MB)
    for _ in range(total // MB):
        crc = zlib.crc32(chunk, crc)
    return block * (total // MB) + b"\x03\x00", crc  # b"\x03\x00": an empty final block


def gzip_of_zeros(total: int) -> bytes:
    """A gzip stream that unpacks to ``total`` zero bytes (1 GiB -> about 1 MiB)."""
    body, crc = zeros_deflate(total)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + body + struct.pack("<II", crc, total & 0xFFFFFFFF)


def zip_overlap_bomb(total: int, copies: int) -> bytes:
    """A zip whose ``copies`` central-directory entries all point at one local file of
    ``total`` zeros (the overlapping-entry idea of David Fifield's zip bomb, unquoted)."""
    body, crc = zeros_deflate(total)
    name = b"zeros.bin"
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(body), total, len(name), 0
    )
    data = local + name + body
    fields = (0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(body), total, len(name), 0, 0, 0, 0, 0, 0)
    entry = struct.pack("<IHHHHHHIIIHHHHHII", *fields) + name  # every entry -> offset 0
    central = entry * copies
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, copies, copies, len(central), len(data), 0)
    return data + central + end


def nested_zips(levels: int, payload: tuple[str, bytes]) -> bytes:
    """``levels`` zips, each holding the next; the innermost holds ``payload``."""
    content = zipped(payload)
    for level in range(levels - 1, 0, -1):
        content = zipped((f"level{level}.zip", content))
    return content
