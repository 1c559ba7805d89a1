"""Inert document samples built at test time (Office VBA project, OOXML, PDF, OneNote, XLL).

The VBA sample is a real (if minimal) OLE2 compound file holding a VBA project as MS-OVBA
describes it: a compressed ``VBA/dir`` stream, a module stream and a ``PROJECT`` stream, so
olevba's own parser extracts and scans the source. The macro only names keywords; nothing here
can run. The tests at the bottom check the builders against the libraries that read them.
"""

from __future__ import annotations

import io
import struct
import zipfile

import olefile
from pypdf import PdfReader

from mailward.detectors._documents_office import olevba  # imported quietly there

_END, _FREE, _FATSECT = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
_SECTOR = 512

AUTO_MACRO = (
    "Sub AutoOpen()\n"
    "    Dim target As String\n"
    '    target = "cmd /c echo inert"\n'
    "    Shell target\n"
    '    Set helper = CreateObject("WScript.Shell")\n'
    "End Sub\n"
)
PLAIN_MACRO = (
    "Function AddTax(amount As Double) As Double\n    AddTax = amount * 1.2\nEnd Function\n"
)


# --- OLE2 + VBA project ------------------------------------------------------------------


def ovba_compress(data: bytes) -> bytes:
    """MS-OVBA compressed container using only literal tokens (valid, just not smaller)."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), 3584):
        chunk = data[start : start + 3584]
        body = bytearray()
        for i in range(0, len(chunk), 8):
            body += b"\x00" + chunk[i : i + 8]
        out += struct.pack("<H", 0xB000 | (len(body) - 1)) + body
    return bytes(out)


def _rec(rid: int, payload: bytes) -> bytes:
    return struct.pack("<HI", rid, len(payload)) + payload


def _dir_stream(module: str, text_offset: int) -> bytes:
    name = module.encode()
    d = _rec(1, struct.pack("<I", 1)) + _rec(2, struct.pack("<I", 0x409))
    d += _rec(0x14, struct.pack("<I", 0x409)) + _rec(3, struct.pack("<H", 1252))
    d += _rec(4, b"VBAProject") + _rec(5, b"") + struct.pack("<HI", 0x40, 0)
    d += _rec(6, b"") + struct.pack("<HI", 0x3D, 0)
    d += _rec(7, struct.pack("<I", 0)) + _rec(8, struct.pack("<I", 0))
    d += struct.pack("<HIIH", 9, 4, 1, 0) + _rec(0xC, b"") + struct.pack("<HI", 0x3C, 0)
    d += _rec(0xF, struct.pack("<H", 1)) + _rec(0x13, struct.pack("<H", 0xFFFF))
    d += _rec(0x19, name) + _rec(0x1A, name)
    d += struct.pack("<HI", 0x32, len(name) * 2) + module.encode("utf-16le")
    d += _rec(0x31, struct.pack("<I", text_offset)) + _rec(0x2C, struct.pack("<H", 0xFFFF))
    d += struct.pack("<HI", 0x21, 0) + struct.pack("<HI", 0x2B, 0) + struct.pack("<HI", 0x10, 0)
    return d


def _dir_entry(name: str, kind: int, right: int, child: int, start: int, size: int) -> bytes:
    raw = name.encode("utf-16le") + b"\0\0"
    head = raw.ljust(64, b"\0") + struct.pack("<HBBIII", len(raw), kind, 1, _FREE, right, child)
    return head + bytes(36) + struct.pack("<IQ", start, size)


def compound_file(entries: list[tuple[str, int, int, int, bytes | None]]) -> bytes:
    """A CFB v3 file; entries are (name, type, right sibling, child, stream bytes >= 4 KB)."""
    n_dir = (len(entries) * 128 + _SECTOR - 1) // _SECTOR
    fat = [_FATSECT] + [2 + i if i < n_dir - 1 else _END for i in range(n_dir)]
    blob, rows, sector = bytearray(), [], 1 + n_dir
    for name, kind, right, child, data in entries:
        start, size = _END, 0
        if data is not None:
            assert len(data) >= 4096, "small streams would need a mini stream"
            count = (len(data) + _SECTOR - 1) // _SECTOR
            start, size = sector, len(data)
            fat += [sector + i + 1 if i < count - 1 else _END for i in range(count)]
            sector += count
            blob += data.ljust(count * _SECTOR, b"\0")
        rows.append(_dir_entry(name, kind, right, child, start, size))
    assert len(fat) <= 128
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
    header += struct.pack("<9I", 0, 1, 1, 0, 4096, _END, 0, _END, 0)
    header += struct.pack("<I", 0) + struct.pack("<I", _FREE) * 108
    fat_sector = struct.pack("<128I", *(fat + [_FREE] * (128 - len(fat))))
    return header + fat_sector + b"".join(rows).ljust(n_dir * _SECTOR, b"\0") + bytes(blob)


def vba_project(source: str, module: str = "Module1") -> bytes:
    """An OLE2 vbaProject with one standard module holding ``source``."""
    code = bytes(4096) + ovba_compress(source.replace("\n", "\r\n").encode("latin-1"))
    dir_data = ovba_compress(_dir_stream(module, 4096).ljust(4096, b"\0"))
    project = f'ID="{{00000000-0000-0000-0000-000000000000}}"\r\nModule={module}\r\n'
    project_data = (project + 'Name="VBAProject"\r\n').encode().ljust(4096, b"\r")
    vba_header = (b"\xcc\x61\xff\xff\x00" + bytes(2)).ljust(4096, b"\0")
    # 0 root -> 1 VBA storage (right: 4 PROJECT) -> 2 dir -> 3 module -> 5 _VBA_PROJECT
    return compound_file([
        ("Root Entry", 5, _FREE, 1, None),
        ("VBA", 1, 4, 2, None),
        ("dir", 2, 3, _FREE, dir_data),
        (module, 2, 5, _FREE, code),
        ("PROJECT", 2, _FREE, _FREE, project_data),
        ("_VBA_PROJECT", 2, _FREE, _FREE, vba_header),
    ])  # fmt: skip


# --- OOXML --------------------------------------------------------------------------------

_WORD_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def ooxml(parts: dict[str, str | bytes], main_type: str) -> bytes:
    """A zip package with a [Content_Types].xml naming the main part's type."""
    types = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/word/document.xml" ContentType="{main_type}"/></Types>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def word_body(paragraphs: str) -> str:
    return f'<?xml version="1.0"?><w:document xmlns:w="{_WORD_NS}"><w:body>{paragraphs}</w:body></w:document>'


def docx(body: str = "<w:p><w:r><w:t>Quarterly figures attached.</w:t></w:r></w:p>",
         settings_rels: str = "") -> bytes:  # fmt: skip
    parts: dict[str, str | bytes] = {"word/document.xml": word_body(body)}
    if settings_rels:
        parts["word/_rels/settings.xml.rels"] = settings_rels
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    return ooxml(parts, main)


def docm(source: str) -> bytes:
    parts: dict[str, str | bytes] = {
        "word/document.xml": word_body("<w:p/>"),
        "word/vbaProject.bin": vba_project(source),
    }
    return ooxml(parts, "application/vnd.ms-word.document.macroEnabled.main+xml")


def relationships(*rels: tuple[str, str, str | None]) -> str:
    """A .rels part; each rel is (type tail, target, target mode or None)."""
    items = "".join(
        f'<Relationship Id="rId{i}" Type="{_DOC_REL}/{kind}" Target="{target}"'
        + (f' TargetMode="{mode}"' if mode else "")
        + "/>"
        for i, (kind, target, mode) in enumerate(rels, 1)
    )
    return f'<?xml version="1.0"?><Relationships xmlns="{_REL_NS}">{items}</Relationships>'


# --- PDF ----------------------------------------------------------------------------------


def pdf(*objects: str) -> bytes:
    """A PDF from object bodies (object 1 is the catalog), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def page_pdf(text: str, catalog_extra: str = "", annots: str = "") -> bytes:
    """One page showing ``text`` in Helvetica, with optional catalog entries and annotations."""
    lines = "".join(f"({line}) Tj 0 -14 Td " for line in text.split("\n"))
    stream = f"BT /F1 11 Tf 72 720 Td {lines}ET"
    annot_entry = f" /Annots [{annots}]" if annots else ""
    return pdf(
        f"<< /Type /Catalog /Pages 2 0 R {catalog_extra} >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        f"/Resources << /Font << /F1 5 0 R >> >>{annot_entry} >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    )


def link_annot(url: str) -> str:
    return f"<< /Type /Annot /Subtype /Link /Rect [72 600 300 620] /A << /S /URI /URI ({url}) >> >>"


LONG_TEXT = "\n".join(
    f"Section {i}: the committee reviewed the budget lines and agreed the schedule."
    for i in range(8)
)


# --- PE DLL (for .xll) ------------------------------------------------------------------


def dll(*exports: str) -> bytes:
    """A minimal 32-bit PE DLL with one .edata section exporting ``exports``."""
    rva, raw = 0x1000, 0x200
    names = [e.encode() + b"\0" for e in exports]
    n = len(exports)
    funcs_at = rva + 40
    names_at = funcs_at + 4 * n
    ords_at = names_at + 4 * n
    strings_at = ords_at + 2 * n
    dll_name = b"addin.dll\0"
    string_rvas, cursor = [], strings_at + len(dll_name)
    for name in names:
        string_rvas.append(cursor)
        cursor += len(name)
    edata = struct.pack(
        "<IIHHIIIIIII", 0, 0, 0, 0, strings_at, 1, n, n, funcs_at, names_at, ords_at
    )
    edata += struct.pack(f"<{n}I", *([0x1100] * n)) + struct.pack(f"<{n}I", *string_rvas)
    edata += struct.pack(f"<{n}H", *range(n)) + dll_name + b"".join(names)
    edata = edata.ljust(0x200, b"\0")
    dos = bytearray(0x40)
    dos[0:2], dos[0x3C:0x40] = b"MZ", struct.pack("<I", 0x40)
    coff = b"PE\0\0" + struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x2102)
    opt = bytearray(0xE0)
    struct.pack_into("<H", opt, 0, 0x10B)
    struct.pack_into("<I", opt, 28, 0x10000000)  # ImageBase
    struct.pack_into("<II", opt, 32, 0x1000, 0x200)  # section / file alignment
    struct.pack_into("<HH", opt, 48, 4, 0)  # subsystem version
    struct.pack_into("<II", opt, 56, 0x2000, 0x200)  # SizeOfImage, SizeOfHeaders
    struct.pack_into("<H", opt, 68, 2)  # subsystem: GUI
    struct.pack_into("<I", opt, 92, 16)  # NumberOfRvaAndSizes
    struct.pack_into("<II", opt, 96, rva, len(edata.rstrip(b"\0")))  # export directory
    section = b".edata\0\0" + struct.pack(
        "<IIIIIIHHI", 0x200, rva, 0x200, raw, 0, 0, 0, 0, 0x40000040
    )
    headers = (bytes(dos) + coff + bytes(opt) + section).ljust(raw, b"\0")
    return headers + edata


# --- OneNote ------------------------------------------------------------------------------

ONENOTE_MAGIC = bytes.fromhex("e4525c7b8cd8a74daeb15378d02996d3")
ONENOTE_FILE_GUID = bytes.fromhex("e716e3bd65261145a4c48d4d0b7a9eac")


def onenote(*embedded: bytes) -> bytes:
    """A OneNote section header followed by FileDataStoreObjects holding ``embedded``."""
    out = bytearray(ONENOTE_MAGIC + bytes(1024 - 16))
    for data in embedded:
        out += ONENOTE_FILE_GUID + struct.pack("<QI", len(data), 0) + bytes(8) + data
        out += bytes(-len(out) % 8)
    return bytes(out)


# --- the builders read back by the real parsers --------------------------------------------


def test_vba_project_is_read_by_olevba() -> None:
    parser = olevba.VBA_Parser("sample", data=vba_project(AUTO_MACRO), disable_pcode=True)
    assert olefile.isOleFile(vba_project(AUTO_MACRO))
    assert parser.detect_vba_macros()
    codes = [code for _, _, _, code in parser.extract_macros()]
    assert any("Sub AutoOpen()" in code for code in codes)


def test_pdf_builder_gives_a_readable_one_page_pdf() -> None:
    reader = PdfReader(io.BytesIO(page_pdf("Hello there")), strict=True)
    assert len(reader.pages) == 1
    assert "Hello there" in reader.pages[0].extract_text()


def test_dll_builder_exports_the_names() -> None:
    import pefile

    pe = pefile.PE(data=dll("xlAutoOpen", "Helper"))
    assert pe.is_dll()
    assert [s.name for s in pe.DIRECTORY_ENTRY_EXPORT.symbols] == [b"xlAutoOpen", b"Helper"]
