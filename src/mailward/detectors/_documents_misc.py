"""OneNote notebooks, scripted SVG images, Windows shortcuts and Excel add-ins (.xll)."""

from __future__ import annotations

import logging
import re

import pefile

from mailward.detectors._documents_base import LNK_MAGIC, DocHit, runnable_kind, shorten

log = logging.getLogger(__name__)

ONENOTE_MAGIC = bytes.fromhex("e4525c7b8cd8a74daeb15378d02996d3")
#: FileDataStoreObject header GUID {BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC}: an embedded file.
ONENOTE_FILE_GUID = bytes.fromhex("e716e3bd65261145a4c48d4d0b7a9eac")
_ONENOTE_HEADER = 36  # GUID 16 + cbLength 8 + unused 4 + reserved 8
_MAX_EMBEDDED = 50
_TEXT_HEAD = 2 * 1024 * 1024
_XLL_EXPORTS = frozenset({"xlautoopen", "xlautoclose", "xladdinmanagerinfo"})
_SVG_ROOT = re.compile(r"\A\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*<svg\b",
                       re.IGNORECASE | re.DOTALL)  # fmt: skip
_SVG_ACTIVE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("<script>", re.compile(r"<(?:\w+:)?script\b", re.IGNORECASE)),
    ("event handler attribute", re.compile(r"<[^>]+\son[a-z]{3,30}\s*=", re.IGNORECASE)),
    ("javascript: link", re.compile(r"""href\s*=\s*["']?\s*javascript:""", re.IGNORECASE)),
    ("HTML in <foreignObject>", re.compile(
        r"<foreignObject\b.*?<(?:\w+:)?(?:html|body|iframe|form|input|embed|object)\b",
        re.IGNORECASE | re.DOTALL)),
)  # fmt: skip
_INTERNET_SHORTCUT = re.compile(r"\A\s*\[InternetShortcut\]", re.IGNORECASE)
_SHORTCUT_URL = re.compile(r"^\s*URL\s*=\s*(\S.*)$", re.IGNORECASE | re.MULTILINE)
_LIBRARY = re.compile(r"<(?:libraryDescription|searchConnectorDescription)\b", re.IGNORECASE)
_SEARCH_MS = re.compile(r"""search-ms:[^"'<>\s]{0,200}""", re.IGNORECASE)


def _text(content: bytes) -> str:
    head = content[:_TEXT_HEAD]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return head.decode("utf-16", errors="replace")
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


def analyse_onenote(content: bytes) -> list[DocHit]:
    """DOC_ONENOTE for a OneNote section; stronger when it carries programs or scripts."""
    if content[:16] != ONENOTE_MAGIC:
        return []
    embedded = list(_onenote_files(content))
    for data in embedded:
        kind = runnable_kind(data)
        if kind is not None:
            reason = f"is a OneNote notebook with an embedded file that is {kind}"
            return [DocHit("DOC_ONENOTE", reason, (kind,), 1.0)]
    if embedded:
        return [DocHit("DOC_ONENOTE", f"is a OneNote notebook carrying {len(embedded)} embedded "
                       "file(s), a common malware lure", (), 0.7)]  # fmt: skip
    return [DocHit("DOC_ONENOTE", "is a OneNote notebook, rarely sent by mail and often "
                   "used as a malware lure", (), 0.4)]  # fmt: skip


def _onenote_files(content: bytes) -> list[bytes]:
    out: list[bytes] = []
    start = content.find(ONENOTE_FILE_GUID)
    while start >= 0 and len(out) < _MAX_EMBEDDED:
        size = int.from_bytes(content[start + 16 : start + 24], "little")
        begin = start + _ONENOTE_HEADER
        out.append(content[begin : begin + min(size, len(content) - begin)])
        start = content.find(ONENOTE_FILE_GUID, begin)
    return out


def analyse_svg(content: bytes, detected_type: str) -> list[DocHit]:
    """DOC_SVG_SCRIPT for an SVG image that carries script or HTML."""
    if detected_type != "image/svg+xml" and not _SVG_ROOT.match(_text(content[:4096])):
        return []
    text = _text(content)
    found = [label for label, pattern in _SVG_ACTIVE if pattern.search(text)]
    if not found:
        return []
    return [DocHit("DOC_SVG_SCRIPT", f"is an SVG image with active content ({', '.join(found)}); "
                   "opened in a browser it runs like a web page", tuple(found))]  # fmt: skip


def analyse_shortcut(content: bytes) -> list[DocHit]:
    """DOC_SHORTCUT for .lnk, .url, .library-ms and .search-ms files, by content."""
    if content[:20] == LNK_MAGIC:
        return [DocHit("DOC_SHORTCUT", "is a Windows shortcut (.lnk), which can run any command "
                       "when opened", ("lnk",))]  # fmt: skip
    text = _text(content[:65536])
    if _INTERNET_SHORTCUT.match(text):
        match = _SHORTCUT_URL.search(text)
        url = match.group(1).strip() if match else ""
        local = url.lower().startswith(("file:", "\\\\", "smb:", "search-ms:"))
        reason = "opens a file or network share" if local else "opens a web address"
        return [
            DocHit(
                "DOC_SHORTCUT",
                f"is an Internet shortcut (.url) that {reason} ({shorten(url) or 'no URL'})",
                (shorten(url),),
                1.0 if local else 0.6,
            )
        ]
    if _LIBRARY.search(text[:4096]):
        return [DocHit("DOC_SHORTCUT", "is a Windows library or search-connector file that "
                       "points Explorer at another location", ("library-ms",))]  # fmt: skip
    search = _SEARCH_MS.search(text)
    if search is not None:
        return [
            DocHit(
                "DOC_SHORTCUT",
                f"opens a Windows search on another location ({shorten(search.group(0))})",
                (shorten(search.group(0)),),
                0.8,
            )
        ]
    return []


def analyse_xll(content: bytes) -> list[DocHit]:
    """DOC_XLL for a Windows DLL that exports Excel's add-in entry points (xlAutoOpen)."""
    if content[:2] != b"MZ":
        return []
    try:
        pe = pefile.PE(data=content, fast_load=True)
    except Exception:  # not a PE pefile can read (PEFormatError and friends)
        return []
    try:
        if not pe.is_dll():
            return []
        export = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]
        pe.parse_data_directories(directories=[export])
        table = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
        names = {(s.name or b"").decode("latin-1") for s in (table.symbols if table else [])}
    except Exception:  # a damaged export table: the attachments detector still sees a program
        log.debug("could not read the DLL's exports", exc_info=True)
        return []
    finally:
        pe.close()
    entry = sorted(n for n in names if n.lower() in _XLL_EXPORTS)
    if not entry:
        return []
    return [DocHit("DOC_XLL", "is an Excel add-in (.xll): a program Excel runs as soon as it is "
                   f"opened ({', '.join(entry)})", tuple(entry))]  # fmt: skip
