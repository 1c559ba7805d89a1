"""Documents that carry active content: Office macros, PDF actions, OneNote, SVG, shortcuts.

Each attachment is recognised by its bytes (and libmagic's detected type), never by its name:
  - Office (OLE2, OOXML, RTF, SYLK) through oletools: VBA macros (olevba), auto-executing and
    suspicious macro keywords, Excel 4.0 (XLM) macros, DDE fields (msodde), remote templates and
    external OLE objects/frames in OOXML relationships (and RTF ``\\*\\template``), and
    password-protected documents (msoffcrypto);
  - PDF through pypdf (strict=False): JavaScript in open/page/field actions or the document's
    name tree, Launch actions, embedded files (stronger when one is a program or script), and
    one-page link-only lures; a pdfid-like raw token scan (``#xx`` escapes decoded) stands in
    when the file is too malformed to parse;
  - OneNote sections (by their header GUID) and the files embedded in them;
  - SVG images with script, event handlers, javascript: links or HTML in <foreignObject>;
  - Windows shortcuts: .lnk by magic, and documents that open a search-ms: URI (files that are
    themselves .url / .library-ms / .search-ms shortcuts are the windows_types detector's);
  - Excel add-ins (.xll): a DLL exporting xlAutoOpen (pefile).

Everything is parsed in memory; nothing an attachment contains is written to disk.

Symbols (default weight, group "documents")
  DOC_MACRO              5  VBA macros
  DOC_MACRO_AUTOEXEC    10  a macro that runs by itself (AutoOpen, Document_Open, Workbook_Open...)
  DOC_MACRO_SUSPICIOUS   4  macro code that runs programs, downloads or writes files
  DOC_XLM_MACRO          8  Excel 4.0 (XLM) macros
  DOC_REMOTE_TEMPLATE    9  a remote template / external OLE object or frame (evidence: the URL)
  DOC_DDE                8  a DDE field that can run a command
  DOC_EMBEDDED_EXECUTABLE 12 an OLE Package in the document holds a program, script or shortcut
                            (a double click in the document runs it); forced to quarantine
  DOC_ENCRYPTED          4  a password-protected Office document
  PDF_JAVASCRIPT         8  JavaScript that runs when the PDF opens or is used
  PDF_LAUNCH            10  a Launch action that starts a program
  PDF_EMBEDDED_FILE      4  embedded files (factor 1 when one is a program or script)
  PDF_LINK_LURE          4  a one-page PDF with little text and an external link (evidence: URL)
  PDF_ENCRYPTED          4  a PDF that needs a password to open (its content cannot be scanned)
  DOC_ONENOTE            6  a OneNote notebook (factor 1 when it embeds a program or script)
  DOC_SVG_SCRIPT         7  an SVG image with script or HTML
  DOC_SHORTCUT           9  a Windows shortcut (.lnk), or a document opening a search-ms: URI
  DOC_XLL               10  an Excel add-in DLL

Each symbol is raised at most once per message; its evidence lists what showed it.

Settings ``[detectors.documents]``
  max_bytes   attachments larger than this get only the cheap byte checks (default 30 MB)
  pdf_max_objects  a PDF with more objects than this (counted in its raw bytes) is not parsed
              by pypdf, whose cost grows with the objects; the raw token scan alone decides
              (default 50,000)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from pydantic import Field

from mailward.detectors._documents_base import DocHit, shorten
from mailward.detectors._documents_misc import (
    analyse_onenote,
    analyse_shortcut,
    analyse_svg,
    analyse_xll,
)
from mailward.detectors._documents_office import analyse_office
from mailward.detectors._documents_pdf import (
    DEFAULT_MAX_OBJECTS,
    analyse_pdf,
    is_pdf,
    token_counts,
)
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Attachment, Finding, ParsedMessage

_GROUP = "documents"
_SYMBOLS: dict[str, tuple[float, str]] = {
    "DOC_MACRO": (5.0, "An Office document contains VBA macros."),
    "DOC_MACRO_AUTOEXEC": (10.0, "An Office document has a macro that runs by itself."),
    "DOC_MACRO_SUSPICIOUS": (4.0, "Macro code can run programs, download or write files."),
    "DOC_XLM_MACRO": (8.0, "A workbook contains Excel 4.0 (XLM) macros."),
    "DOC_REMOTE_TEMPLATE": (9.0, "A document loads a remote template or object when opened."),
    "DOC_DDE": (8.0, "A document has a DDE field that can run a command."),
    "DOC_EMBEDDED_EXECUTABLE": (
        12.0, "A document embeds a program, script or shortcut that a double click runs."),
    "DOC_ENCRYPTED": (4.0, "A password-protected Office document hides its content."),
    "PDF_JAVASCRIPT": (8.0, "A PDF runs JavaScript."),
    "PDF_LAUNCH": (10.0, "A PDF has a Launch action that starts a program."),
    "PDF_EMBEDDED_FILE": (4.0, "A PDF carries embedded files."),
    "PDF_LINK_LURE": (4.0, "A one-page PDF with little text exists to make you click a link."),
    "PDF_ENCRYPTED": (4.0, "A PDF needs a password to open, so its content cannot be scanned."),
    "DOC_ONENOTE": (6.0, "A OneNote notebook, a common malware lure, is attached."),
    "DOC_SVG_SCRIPT": (7.0, "An SVG image carries script or HTML."),
    "DOC_SHORTCUT": (9.0, "A Windows shortcut that can run commands or open remote files."),
    "DOC_XLL": (10.0, "An Excel add-in (.xll), a program Excel runs on open, is attached."),
}
_CHEAP_ONLY = 30 * 1024 * 1024


class DocumentSettings(DetectorSettings):
    """Options of the documents detector."""

    max_bytes: int = _CHEAP_ONLY
    pdf_max_objects: int = Field(DEFAULT_MAX_OBJECTS, gt=0)


def analyse_attachment(
    att: Attachment, max_bytes: int = _CHEAP_ONLY, pdf_max_objects: int = DEFAULT_MAX_OBJECTS
) -> list[DocHit]:
    """Every documents hit for one attachment (synchronous; CPU-bound)."""
    content = att.content
    kind = att.detected_type.split(";", 1)[0].strip().lower()
    if len(content) > max_bytes:
        return _cheap(content)
    probes: tuple[Callable[[], list[DocHit]], ...] = (
        lambda: analyse_office(content),
        lambda: analyse_pdf(content, pdf_max_objects),
        lambda: analyse_onenote(content),
        lambda: analyse_svg(content, kind),
        lambda: analyse_shortcut(content),
        lambda: analyse_xll(content),
    )
    hits: list[DocHit] = []
    for probe in probes:
        hits.extend(probe())
    return hits


def _cheap(content: bytes) -> list[DocHit]:
    """For oversized attachments: the magic-number checks and the raw PDF tokens only."""
    hits = analyse_onenote(content[:1_048_576]) + analyse_shortcut(content[:65536])
    if is_pdf(content) and token_counts(content)["Launch"]:
        hits.append(DocHit("PDF_LAUNCH", "has a Launch action that starts a program", ("/Launch",)))
    return hits


class DocumentDetector:
    """Reports documents and files that carry code: macros, PDF actions, shortcuts, add-ins."""

    name: ClassVar[str] = "documents"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        symbol: SymbolSpec(weight, _GROUP, description)
        for symbol, (weight, description) in _SYMBOLS.items()
    }
    timeout: ClassVar[float] = 10.0
    #: A broken document scanner must not let macro documents through.
    fail_closed: ClassVar[bool] = True
    Settings: ClassVar[type[DocumentSettings]] = DocumentSettings

    def __init__(self, settings: DocumentSettings) -> None:
        self.settings = settings

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        if not msg.attachments:
            return []
        return await asyncio.to_thread(self._check_all, msg.attachments)

    def _check_all(self, attachments: Sequence[Attachment]) -> list[Finding]:
        grouped: dict[str, list[tuple[str, DocHit]]] = {}
        # the same file attached twice (or in two readings of the message) is analysed once
        analysed: dict[tuple[str, str], list[DocHit]] = {}
        for att in attachments:
            name = shorten(att.filename or "(unnamed)", 100)
            key = (att.sha256, att.detected_type)
            hits = analysed.get(key)
            if hits is None:
                hits = analysed[key] = analyse_attachment(
                    att, self.settings.max_bytes, self.settings.pdf_max_objects
                )
            for hit in hits:
                grouped.setdefault(hit.symbol, []).append((name, hit))
        return [self._finding(symbol, hits) for symbol, hits in grouped.items()]

    def _finding(self, symbol: str, hits: list[tuple[str, DocHit]]) -> Finding:
        hits.sort(key=lambda item: -item[1].factor)
        name, first = hits[0]
        others = len({n for n, _ in hits}) - 1
        more = f" ({others} more attachments too)" if others > 0 else ""
        evidence = [e for _, hit in hits for e in hit.evidence] or [n for n, _ in hits]
        return Finding(
            symbol=symbol,
            explanation=f'The attachment "{name}" {first.reason}{more}.',
            evidence=tuple(dict.fromkeys(evidence))[:20],
            factor=first.factor,
            detector=self.name,
        )
