"""Which Windows file type some bytes are, by content first and then by name.

The table of types is :mod:`mailward.data.windows_types`; this module holds the content
recognisers its ``content`` column names, each a few lines over the format's fixed markers:

- ``pe``: the MZ header's e_lfanew points at "PE\\0\\0" (a DLL when the COFF characteristics
  have IMAGE_FILE_DLL);
- ``chm``: "ITSF" and version 2 or 3 at offset 0 (the ITSF header);
- ``reg``: the text starts "Windows Registry Editor Version 5.00" or "REGEDIT4" (UTF-8/ANSI or
  UTF-16 with its byte-order mark, as regedit writes it);
- ``appx``: a ZIP whose central directory names AppxManifest.xml or
  AppxMetadata/AppxBundleManifest.xml, or an XML document whose root is <AppInstaller>;
- ``lnk``: the ShellLink header (size 0x4C and its CLSID);
- ``url``: an [InternetShortcut] section; the target is its URL= line (and a remote IconFile=);
- ``library``: a <libraryDescription> or <searchConnectorDescription> root; the targets are its
  <url> elements;
- ``search``: a search-ms: / search: URI, or a <persistedQuery> saved search; the target is the
  crumb=location: part or the scope's paths;
- ``scf``: a [Shell] section with Command=; the target is IconFile=;
- ``disk-image``: ISO 9660 "CD001" or UDF "BEA01"/"NSR02"/"NSR03" volume descriptors at
  0x8001 (0x8801, 0x9001: the descriptors follow one another), the VHD "conectix" cookie (at
  offset 0 and in the 512-byte footer), the VHDX "vhdxfile" signature at offset 0 (read by
  :func:`mailward.attachments._formats.disk_image_kind`, which the expansion uses too);
- ``onenote``: the OneNote revision-store file GUID at offset 0 (see :func:`onenote_files`).

``script`` types (.js, .vbs, .bat...) are recognised by the attachments detector's script
indicators, not here.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

try:  # the pointer words in one pass; a substring search for each word without it
    import ahocorasick_rs
except ImportError:  # pragma: no cover - a declared dependency
    ahocorasick_rs = None  # type: ignore[assignment]

from mailward.attachments._formats import disk_image_kind, extension
from mailward.data.windows_types import WindowsFileType, by_id, type_for_extension

_TEXT_HEAD = 65536
LNK_MAGIC = b"\x4c\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
#: OneNote revision-store file format ([MS-ONESTORE] 2.3.1): a .one section's header GUID.
ONENOTE_MAGIC = bytes.fromhex("e4525c7b8cd8a74daeb15378d02996d3")
#: FileDataStoreObject header GUID {BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC} ([MS-ONESTORE]
#: 2.6.13): the bytes of one embedded file follow it (size at +16, data at +36).
ONENOTE_FILE_GUID = bytes.fromhex("e716e3bd65261145a4c48d4d0b7a9eac")
_ONENOTE_HEADER = 36  # GUID 16 + cbLength 8 + unused 4 + reserved 8
_MAX_EMBEDDED = 50
_WEB_SCHEMES = ("http://", "https://")
_INTERNET_SHORTCUT = re.compile(r"^\s*\[InternetShortcut\]\s*$", re.IGNORECASE | re.MULTILINE)
_URL_LINE = re.compile(r"^\s*URL\s*=\s*(\S.*?)\s*$", re.IGNORECASE | re.MULTILINE)
_ICON_LINE = re.compile(r"^\s*IconFile\s*=\s*(\S.*?)\s*$", re.IGNORECASE | re.MULTILINE)
_SHELL_SECTION = re.compile(r"^\s*\[Shell\]\s*$", re.IGNORECASE | re.MULTILINE)
#: The section names alone: each line pattern above can only match where its name is, and a
#: pattern that starts with "[" is searched for that character (the line patterns start with
#: a line-start test tried at every character), so most files are ruled out quickly.
_INTERNET_SHORTCUT_NAME = re.compile(r"\[InternetShortcut\]", re.IGNORECASE)
_SHELL_SECTION_NAME = re.compile(r"\[Shell\]", re.IGNORECASE)
_COMMAND_LINE = re.compile(r"^\s*Command\s*=", re.IGNORECASE | re.MULTILINE)
_LIBRARY = re.compile(r"<(?:\w+:)?(libraryDescription|searchConnectorDescription)\b",
                      re.IGNORECASE)  # fmt: skip
_XML_URL = re.compile(r"<(?:\w+:)?url>\s*([^<]{1,500}?)\s*</(?:\w+:)?url>", re.IGNORECASE)
_PERSISTED_QUERY = re.compile(r"<persistedQuery\b", re.IGNORECASE)
_SCOPE_PATH = re.compile(r"""<include\b[^>]*\bpath\s*=\s*["']([^"']{1,500})["']""", re.IGNORECASE)
_SEARCH_URI = re.compile(r"""\bsearch(?:-ms)?:[^"'<>\s]{1,1000}""", re.IGNORECASE)
_CRUMB_LOCATION = re.compile(r"crumb=location:([^&\s\"'<>]{1,500})", re.IGNORECASE)
_APP_INSTALLER = re.compile(r"\A\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<AppInstaller\b",
                            re.IGNORECASE | re.DOTALL)  # fmt: skip
#: Words one of which each name :func:`_read_shortcut` looks for holds: [InternetShortcut],
#: [Shell], libraryDescription, searchConnectorDescription, persistedQuery and search: (the
#: second tuple as UTF-16 code units, whichever byte order).
_WORDS = (b"nternet", b"hell", b"brary", b"earch", b"tedquery")
_POINTER_WORDS = (_WORDS, tuple(b"\0".join(bytes([c]) for c in word) for word in _WORDS))
_POINTER_FINDERS = (
    None if ahocorasick_rs is None
    else tuple(ahocorasick_rs.BytesAhoCorasick(list(words)) for words in _POINTER_WORDS)
)  # fmt: skip
_REG_HEADERS = ("windows registry editor version 5.00", "regedit4")
_APPX_MANIFESTS = ("appxmanifest.xml", "appxmetadata/appxbundlemanifest.xml")


@dataclass(frozen=True, slots=True)
class WindowsMatch:
    """What Windows would do with a file: its table row and why we think so.

    ``by`` is "content" when the bytes show the type (whatever the name says), else "name".
    ``targets`` are where a shell handler points (URL, share, search location), as written;
    ``web`` is True when every target is a plain http(s) address (a link, in effect).
    """

    type: WindowsFileType
    by: Literal["content", "name"]
    kind: str  # what the content is, in words: "an Internet shortcut (.url)"
    targets: tuple[str, ...] = ()
    web: bool = False


def _text(content: bytes) -> str:
    head = content[:_TEXT_HEAD]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return head.decode("utf-16", errors="replace").lstrip("\ufeff")
    if _utf16le(head):
        return head.decode("utf-16-le", errors="replace")
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


def _utf16le(head: bytes) -> bool:
    """UTF-16LE without a byte-order mark (ASCII text with a NUL after each letter)."""
    return len(head) > 8 and head[1:8:2] == b"\0\0\0\0"


def _may_point(content: bytes) -> bool:
    """False only where :func:`_read_shortcut` finds nothing: no word of :data:`_POINTER_WORDS`
    in the head :func:`_text` reads (as UTF-16 when it does), ASCII letters lower-cased.

    Every name :func:`_read_shortcut` looks for holds one of these words, written in letters
    that a case-insensitive pattern matches only as themselves (i, s and k also match the
    non-ASCII U+0130, U+0131, U+017F and U+212A, so the words avoid them), and such a letter
    is one ASCII byte in UTF-8 and one byte beside a NUL in UTF-16. Decoding 64 kB of a binary
    file (errors replaced) costs about five times this search.
    """
    head = content[:_TEXT_HEAD]
    wide = head[:2] in (b"\xff\xfe", b"\xfe\xff") or _utf16le(head)
    lowered = head.lower()
    if _POINTER_FINDERS is not None:
        return bool(_POINTER_FINDERS[wide].find_matches_as_indexes(lowered))
    return any(word in lowered for word in _POINTER_WORDS[wide])


def pe_kind(content: bytes) -> str | None:
    """"a Windows DLL" / "a Windows program" when ``content`` is a PE file, else None."""
    if content[:2] != b"MZ" or len(content) < 0x40:
        return None
    offset = int.from_bytes(content[0x3C:0x40], "little")
    if offset <= 0 or content[offset : offset + 4] != b"PE\0\0":
        return None
    if len(content) < offset + 24:  # the COFF header is cut short: a program all the same
        return "a Windows program"
    (characteristics,) = struct.unpack_from("<H", content, offset + 22)
    return "a Windows DLL" if characteristics & 0x2000 else "a Windows program"


def onenote_files(content: bytes) -> list[bytes]:
    """The embedded files of a OneNote section: the data after each FileDataStoreObject GUID.

    The one library on PyPI that extracts them, one-extract (Volexity, 0.1.x beta), does the
    same: it scans for this GUID and slices the data after it, and adds the decryption of
    password-protected sections. A dependency for these few lines is not worth it, so this
    reads the one structure that matters as [MS-ONESTORE] 2.6.13 lays it out: guidHeader (16
    bytes), cbLength (8), unused (4), reserved (8), then the file data.
    """
    if content[:16] != ONENOTE_MAGIC:
        return []
    out: list[bytes] = []
    start = content.find(ONENOTE_FILE_GUID)
    while start >= 0 and len(out) < _MAX_EMBEDDED:
        size = int.from_bytes(content[start + 16 : start + 24], "little")
        begin = start + _ONENOTE_HEADER
        out.append(content[begin : begin + min(size, max(len(content) - begin, 0))])
        start = content.find(ONENOTE_FILE_GUID, begin)
    return out


def _shortcut(content: bytes) -> WindowsMatch | None:
    """:func:`_read_shortcut`, skipped where :func:`_may_point` rules the file out. An ASCII
    head is decoded at copying speed, so it is read without the search (which would cost more,
    in English text, than the decoding it spares); binary heads are where the search pays."""
    if content[:_TEXT_HEAD].isascii() or _may_point(content):
        return _read_shortcut(content)
    return None


def _read_shortcut(content: bytes) -> WindowsMatch | None:
    text = _text(content)
    if _INTERNET_SHORTCUT_NAME.search(text) and _INTERNET_SHORTCUT.search(text):
        targets = [m.group(1) for m in _URL_LINE.finditer(text)][:5]
        icons = [i for i in (m.group(1) for m in _ICON_LINE.finditer(text)) if _remote(i)]
        return _pointing("url", "an Internet shortcut (.url)", targets, icons)
    if (
        _SHELL_SECTION_NAME.search(text)
        and _SHELL_SECTION.search(text)
        and _COMMAND_LINE.search(text)
    ):
        icons = [m.group(1) for m in _ICON_LINE.finditer(text)]
        return WindowsMatch(by_id("scf"), "content", "an Explorer command file (.scf)",
                            tuple(icons[:5]))  # fmt: skip
    library = _LIBRARY.search(text[:8192])
    if library is not None:
        kind = ("a Windows library (.library-ms)" if library.group(1).lower().startswith("lib")
                else "a search connector (.searchConnector-ms)")  # fmt: skip
        targets = [m.group(1) for m in _XML_URL.finditer(text)][:5]
        return _pointing("library-ms", kind, targets, [])
    if _PERSISTED_QUERY.search(text[:8192]):
        targets = [m.group(1) for m in _SCOPE_PATH.finditer(text)][:5]
        return _pointing("search-ms", "a saved Windows search (.search-ms)", targets, [])
    uri = _SEARCH_URI.match(text.lstrip())
    if uri is not None and (
        uri.group(0).lower().startswith("search-ms:") or "query=" in uri.group(0).lower()
        or "crumb=" in uri.group(0).lower()
    ):  # a bare "search:" must look like the URI ("Search: how to..." is prose)
        where = _CRUMB_LOCATION.findall(uri.group(0)) or [uri.group(0)]
        return _pointing("search-ms", "a Windows search URI (search-ms:)", where, [])
    return None


def _remote(target: str) -> bool:
    low = target.strip().lower()
    return low.startswith(("\\\\", "//", "file:", "smb:", "http:", "https:", "webdav"))


def _pointing(type_id: str, kind: str, targets: list[str], icons: list[str]) -> WindowsMatch:
    shown = tuple(t.strip()[:300] for t in [*targets, *icons])
    web = bool(targets) and not icons and all(
        t.strip().lower().startswith(_WEB_SCHEMES) for t in targets
    )
    return WindowsMatch(by_id(type_id), "content", kind, shown, web)


def _appx(content: bytes) -> bool:
    if content[:4] != b"PK\x03\x04":
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = {name.lower() for name in archive.namelist()[:5000]}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return False
    return any(manifest in names for manifest in _APPX_MANIFESTS)


def _registry(content: bytes) -> bool:
    return _text(content[:512]).lstrip().lower().startswith(_REG_HEADERS)


_BINARY: tuple[tuple[str, str, Callable[[bytes], bool]], ...] = (
    ("chm", "a compiled HTML Help file (ITSF)",
     lambda c: c[:4] == b"ITSF" and c[4:8] in (b"\x02\0\0\0", b"\x03\0\0\0")),
    ("lnk", "a Windows shortcut (.lnk)", lambda c: c[:20] == LNK_MAGIC),
    ("onenote", "a OneNote section", lambda c: c[:16] == ONENOTE_MAGIC),
    ("appx", "a Windows app package (MSIX/APPX)", _appx),
    ("reg", "a registry file", _registry),
)  # fmt: skip


def _by_content(content: bytes) -> WindowsMatch | None:
    pe = pe_kind(content)
    if pe is not None:
        return WindowsMatch(by_id("dll" if "DLL" in pe else "exe"), "content", pe)
    image = disk_image_kind(content)
    if image is not None:
        return WindowsMatch(by_id("disk-image"), "content", image)
    for type_id, kind, probe in _BINARY:
        if probe(content):
            return WindowsMatch(by_id(type_id), "content", kind)
    if _APP_INSTALLER.match(_text(content[:4096])):
        return WindowsMatch(by_id("appx"), "content", "an App Installer file (.appinstaller)")
    return _shortcut(content)


def windows_type(name: str | None, content: bytes) -> WindowsMatch | None:
    """The table row for a file, by its content when that shows a type, else by its name.

    A PE that is named ``.xll`` is reported as the Excel add-in it is (the content says
    "program", the name says which host loads it).
    """
    found = _by_content(content)
    ext = extension(name)
    named = type_for_extension(ext) if ext else None
    if found is not None:
        if named is not None and found.type.content == "pe" and named.content == "pe":
            return WindowsMatch(named, "content", found.kind)
        return found
    if named is None:
        return None
    return WindowsMatch(named, "name", f'a ".{ext}" file ({named.name})')
