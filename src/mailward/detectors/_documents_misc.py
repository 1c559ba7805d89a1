"""OneNote notebooks, scripted SVG images, .lnk shortcuts and Excel add-ins (.xll)."""

from __future__ import annotations

import logging
import re

import pefile

from mailward.attachments import ONENOTE_MAGIC, onenote_files
from mailward.detectors._documents_base import LNK_MAGIC, DocHit, runnable_kind, shorten

log = logging.getLogger(__name__)

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
_SEARCH_MS = re.compile(r"""search-ms:[^"'<>\s]{0,200}""", re.IGNORECASE)
#: What the raw bytes of a UTF-8 head must hold (lower-cased) for _SEARCH_MS to match its text:
#: of the letters of "search-ms:", only the s also matches a non-ASCII character (U+017F) when
#: the case is ignored, and an ASCII character of the decoded text is always that byte itself.
_SEARCH_MS_CORE = b"earch-m"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _text(content: bytes) -> str:
    head = content[:_TEXT_HEAD]
    if head[:2] in _UTF16_BOMS:
        return head.decode("utf-16", errors="replace")
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


def analyse_onenote(content: bytes) -> list[DocHit]:
    """DOC_ONENOTE for a OneNote section; stronger when it carries programs or scripts."""
    if content[:16] != ONENOTE_MAGIC:
        return []
    embedded = onenote_files(content)
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
    """DOC_SHORTCUT for a .lnk (by its header) and for a document that opens a search-ms: URI.

    Files that are themselves shortcuts to another location (.url, .library-ms, .search-ms,
    .scf) are the windows_types detector's ATT_SHELL_SHORTCUT / ATT_WEB_SHORTCUT.
    """
    if content[:20] == LNK_MAGIC:
        return [DocHit("DOC_SHORTCUT", "is a Windows shortcut (.lnk), which can run any command "
                       "when opened", ("lnk",))]  # fmt: skip
    head = content[:65536]
    if head[:2] not in _UTF16_BOMS and _SEARCH_MS_CORE not in head.lower():
        return []  # no "search-ms:" can be in its text (see _SEARCH_MS_CORE): nothing to decode
    text = _text(head)
    if text.lstrip()[:10].lower().startswith("search-ms:"):
        return []  # a search-ms file itself: ATT_SHELL_SHORTCUT
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
