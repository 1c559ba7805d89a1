"""The content readers behind the Windows file-type table: disk image signatures, PE, OneNote,
and windows_type's content-before-name rule."""

from __future__ import annotations

import random
import struct

import pytest
from helpers_archives import LNK_BYTES, PDF_BYTES, build, pe_bytes, zipped

from mailward.attachments import (
    ONENOTE_MAGIC,
    disk_image,
    disk_image_kind,
    expand,
    onenote_files,
    pe_kind,
    windows_type,
)

FILE_GUID = bytes.fromhex("e716e3bd65261145a4c48d4d0b7a9eac")


def vhd_footer() -> bytes:
    footer = bytearray(512)
    footer[0:8] = b"conectix"
    return bytes(footer)


def udf() -> bytes:
    return bytes(0x8001) + b"BEA01" + bytes(0x800 - 5) + b"NSR02" + bytes(64)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (build("iso9660", [("a.txt", b"hello\n")]), "ISO 9660"),
        (udf(), "UDF"),
        (bytes(8192) + vhd_footer(), "VHD"),
        (vhd_footer() + bytes(8192) + vhd_footer(), "VHD"),  # dynamic disks copy it at 0
        (bytes(8192) + vhd_footer()[:511], "VHD"),  # old 511-byte footers
        (b"vhdxfile" + bytes(4096), "VHDX"),
    ],
)
def test_disk_image_signatures_hit(content: bytes, kind: str) -> None:
    found = disk_image_kind(content)
    assert found is not None and kind in found
    assert disk_image("application/octet-stream", "data", "data.bin", content) == found


@pytest.mark.parametrize(
    "content",
    [
        PDF_BYTES,
        bytes(0x9000),
        b"see conectix and vhdxfile in the text" + bytes(4096),
        bytes(0x8000) + b"\x01XCD001" + bytes(100),  # the marker one byte off
    ],
)
def test_disk_image_signatures_miss(content: bytes) -> None:
    assert disk_image_kind(content) is None
    assert disk_image("application/octet-stream", "data", "data.bin", content) is None


def test_expansion_marks_an_image_found_by_its_signature_only() -> None:
    vhd = bytes(8192) + vhd_footer()
    assert expand(vhd, "disk.bin").images == ("disk.bin",)
    inner = expand(zipped(("disk.bin", vhd)), "a.zip")
    assert inner.images == ("a.zip > disk.bin",)


def test_pe_kind_tells_a_dll_from_a_program() -> None:
    program = pe_bytes()
    dll = bytearray(program)
    struct.pack_into("<H", dll, 0x40 + 22, 0x2102)  # IMAGE_FILE_DLL
    assert pe_kind(program) == "a Windows program"
    assert pe_kind(bytes(dll)) == "a Windows DLL"
    assert pe_kind(b"MZ" + bytes(100)) is None


def test_windows_type_reads_content_before_the_name() -> None:
    xll = windows_type("report.xll", pe_bytes())
    assert xll is not None and xll.type.id == "xll" and xll.by == "content"
    renamed = windows_type("photo.jpg", LNK_BYTES)
    assert renamed is not None and renamed.type.id == "lnk" and renamed.by == "content"
    named = windows_type("setup.msi", b"not really")
    assert named is not None and named.type.id == "msi" and named.by == "name"
    assert windows_type("report.pdf", PDF_BYTES) is None
    assert windows_type(None, b"hello") is None


def test_onenote_files_reads_each_file_data_store_object() -> None:
    section = bytearray(ONENOTE_MAGIC + bytes(64))
    for data in (b"first", b"second file"):
        section += FILE_GUID + struct.pack("<QI", len(data), 0) + bytes(8) + data
    assert onenote_files(bytes(section)) == [b"first", b"second file"]
    assert onenote_files(bytes(16) + bytes(section)) == []  # no section header: not OneNote


def test_the_section_names_rule_out_only_files_without_the_sections() -> None:
    import random

    from mailward.attachments import _windows

    rnd = random.Random(31)
    pieces = ["[InternetShortcut]", "[internetshortcut]", "[Shell]", "[SHELL]", "[Shel]", "\n",
              " ", "\t", "URL=x", "Command=2", "[", "]", "Internet\u017fhortcut", "\u0130"]  # fmt: skip
    for _ in range(20_000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 6)))
        for name, whole in (
            (_windows._INTERNET_SHORTCUT_NAME, _windows._INTERNET_SHORTCUT),
            (_windows._SHELL_SECTION_NAME, _windows._SHELL_SECTION),
        ):
            assert bool(name.search(text) and whole.search(text)) is bool(whole.search(text))


def _pointer_file(rnd: random.Random) -> bytes:
    """Random text in a random encoding around the names the shortcut readers look for."""
    pieces = ["[InternetShortcut]", "[INTERNETSHORTCUT]", "[Internet\u017fhortcut]",
              "[\u0130nternetShortcut]", "URL=http://x.example/", "URL=\\\\srv\\share", "[Shel]",
              "IconFile=\\\\h\\i.ico", "[Shell]", "[\u017fHELL]", "Command=2", "<libraryDescription>",
              "<x:LIBRARYDESCRIPTION ", "<searchConnectorDescription>", "<url>http://a/</url>",
              "<persistedQuery>", "<include path='C:\\x'/>", "search-ms:query=x&crumb=location:\\\\h",
              "\u017fearch:query=a", "Search: how to", "\ufeff", " ", "\n", "\r\n", "x", "\u00e9",
              "\u3000", "library", "earch", "hell"]  # fmt: skip
    ends = ["\n", "\n", "\r\n", "", " "]
    text = "".join(rnd.choice(pieces) + rnd.choice(ends) for _ in range(rnd.randint(0, 8)))
    encoding = rnd.choice(["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-16-le", "latin-1"])
    data = text.encode(encoding, errors="replace")
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    junk = rnd.randbytes(rnd.choice([0, 0, 3, 40]))
    return rnd.choice([data, junk + data, data + junk])


def test_the_pointer_words_rule_out_only_files_no_shortcut_reader_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailward.attachments import _windows

    rnd = random.Random(57)
    contents = [_pointer_file(rnd) for _ in range(12_000)]
    contents += [rnd.randbytes(70_000), b"x" * 65_530 + b"[Shell]\nCommand=2", PDF_BYTES, LNK_BYTES]
    ruled_out = found = 0
    for content in contents:
        expected = _windows._read_shortcut(content)
        assert _windows._shortcut(content) == expected, content
        if not _windows._may_point(content):  # also for ASCII heads, which _shortcut reads anyway
            assert expected is None, content
            ruled_out += 1
        found += expected is not None
    assert ruled_out > 1_000 and found > 3_000
    kinds = {_windows._read_shortcut(c).type.id for c in contents if _windows._read_shortcut(c)}
    assert kinds == {"url", "scf", "library-ms", "search-ms"}
    monkeypatch.setattr(_windows, "_POINTER_FINDERS", None)  # the substring search per word
    for content in contents:
        assert _windows._shortcut(content) == _windows._read_shortcut(content), content
        assert _windows._may_point(content) or _windows._read_shortcut(content) is None, content
