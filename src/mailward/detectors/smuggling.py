"""HTML smuggling: web pages that build a file inside the browser, and obfuscated script.

An HTML (or SVG) attachment, or the message's own HTML, that assembles a file in script passes
gateways as text and drops the payload only when the recipient opens it. Indicators, read from
<script> blocks, event-handler attributes and links:
  file-building  ``new Blob(`` with ``URL.createObjectURL``; ``msSaveBlob``/``msSaveOrOpenBlob``;
                 ``new File([``; a link with a ``download`` attribute and a data:/blob: href
                 (in markup, or set from script)
  decoding       ``atob(`` with a long base64 literal (2 KB or more); ``new Uint8Array`` fed
                 from decoded characters; ``document.write(unescape(``; ``eval(atob(``

Symbols (default weight, group "smuggling")
  HTML_SMUGGLING           10  a file is built in script: factor 1 with two or more indicators
                               including a file-building one, 0.3 for a lone file-building one
  HTML_OBFUSCATED_SCRIPT    4  eval/unescape/atob/fromCharCode chains or huge one-line strings
                               (factor 1 with two or more signs, 0.6 with one)

Each symbol is raised at most once per message; evidence names the parts and indicators.

Settings ``[detectors.smuggling]``
  max_bytes   HTML larger than this is read only up to it (default 5 MB)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from selectolax.lexbor import LexborHTMLParser

from mailward.detectors._flat_html import flat_html
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Attachment, Finding, ParsedMessage

_GROUP = "smuggling"
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml"})
_HTML_EXTENSIONS = (".htm", ".html", ".shtml", ".xhtml", ".svg", ".mht", ".mhtml")
#: ``<script|\sdownload\b|\son[a-z]{3,30}\s*=`` (IGNORECASE) as two searches, each of which the
#: regex engine can skip ahead in (to a "<", to white space) instead of trying the whole
#: alternation at every character; the HTML is active when either finds something.
_ACTIVE_HINTS = (
    re.compile(r"<script", re.IGNORECASE),
    re.compile(r"\s(?:download\b|on[a-z]{3,30}\s*=)", re.IGNORECASE),
)
#: Where the second hint can match in the HTML flattened by
#: :func:`~mailward.detectors._flat_html.flat_html` (letters lower-cased, white space a space,
#: non-ASCII bytes 0x80): "download" or "on" after a space or a non-ASCII byte (the last byte
#: of a non-ASCII white space), "on" followed by 3-90 letters or non-ASCII bytes (30 letters,
#: some of them the 2- and 3-byte U+0130, U+0131, U+017F and U+212A that [a-z] takes
#: without case), spaces or non-ASCII bytes, then "=". Each starts with a literal the regex
#: engine looks for without trying the pattern at every white space (HTML has about one in
#: seven); it finds every place the hint matches, and a few more, so a find is confirmed with
#: the hint itself.
_FLAT_HANDLER_HINTS = (
    re.compile(rb"download(?<=[ \x80]download)"),
    re.compile(rb"on(?<=[ \x80]on)[a-z\x80]{3,90}+[ \x80]*+="),
)
_LONG_BASE64 = re.compile(r"""(["'`])[A-Za-z0-9+/\s\\]{2000,}={0,2}\1""")
_LONG_LITERAL = re.compile(r"""(["'`])(?:(?!\1)[^\n\\]|\\.){10000,}\1""")


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_FILE_BUILDING: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Blob + createObjectURL", _rx(r"\bnew\s+Blob\s*\((?s:.*)\bcreateObjectURL\s*\(|"
                                   r"\bcreateObjectURL\s*\((?s:.*)\bnew\s+Blob\s*\(")),
    ("msSaveOrOpenBlob", _rx(r"\bmsSave(?:OrOpen)?Blob\s*\(")),
    ("new File()", _rx(r"\bnew\s+File\s*\(\s*\[")),
    ("download set from script", _rx(r"\.download\s*=|setAttribute\s*\(\s*[\"']download")),
)  # fmt: skip
_DECODING: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Uint8Array from decoded text", _rx(r"\bnew\s+Uint8Array\s*\((?s:.{0,400})"
                                         r"(?:charCodeAt|atob|length)")),
    ("document.write(unescape())", _rx(r"\bdocument\.write(?:ln)?\s*\(\s*(?:unescape|atob)\s*\(")),
    ("eval(atob())", _rx(r"\beval\s*\(\s*(?:window\.)?atob\s*\(")),
)  # fmt: skip
_OBFUSCATION: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("eval of decoded text", _rx(r"\beval\s*\(\s*(?:window\.)?(?:atob|unescape|decodeURIComponent"
                                 r"|String\.fromCharCode)\s*\(")),
    ("document.write of decoded text", _rx(r"\bdocument\.write(?:ln)?\s*\(\s*(?:unescape|atob|"
                                           r"decodeURIComponent)\s*\(")),
    ("long fromCharCode chain", _rx(r"fromCharCode\s*\(\s*(?:\d+\s*,\s*){20,}")),
    ("unescape of %u/%xx text", _rx(r"\bunescape\s*\(\s*[\"'](?:%u?[0-9a-f]{2,4}){30,}")),
)  # fmt: skip


class SmugglingSettings(DetectorSettings):
    """Options of the HTML smuggling detector."""

    max_bytes: int = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Scan:
    """What one HTML source showed: its label, smuggling indicators and obfuscation signs."""

    label: str
    file_building: tuple[str, ...]
    decoding: tuple[str, ...]
    obfuscation: tuple[str, ...]


def _scripts(html: str) -> tuple[str, list[str]]:
    """(all script text, hrefs of links with a download attribute) of an HTML document."""
    tree = LexborHTMLParser(html)
    parts = [node.text(deep=True) or "" for node in tree.css("script")]
    links: list[str] = []
    for node in tree.css("*"):
        for key, value in node.attributes.items():
            if key.lower().startswith("on") and value:
                parts.append(value)
        if node.tag == "a" and "download" in node.attributes:
            links.append((node.attributes.get("href") or "").strip().lower())
    return "\n".join(parts), links


def scan_html(html: str, label: str) -> _Scan:
    """Smuggling indicators and obfuscation signs in one HTML document."""
    script, links = _scripts(html)
    building = [name for name, rx in _FILE_BUILDING if rx.search(script)]
    if any(href.startswith(("data:", "blob:")) for href in links):
        building.append("download link to data:/blob:")
    decoding = [name for name, rx in _DECODING if rx.search(script)]
    if "atob(" in script.replace(" ", "") and _LONG_BASE64.search(script):
        decoding.append("atob() of a long base64 string")
    obfuscation = [name for name, rx in _OBFUSCATION if rx.search(script)]
    if _LONG_LITERAL.search(script):
        obfuscation.append("very long one-line string")
    return _Scan(label, tuple(building), tuple(decoding), tuple(obfuscation))


def _is_active(html: str) -> bool:
    """Whether one of :data:`_ACTIVE_HINTS` matches ``html``; the second (the costly one) is
    tried only where :data:`_FLAT_HANDLER_HINTS` find a place it may match."""
    script, handler = _ACTIVE_HINTS
    if script.search(html) is not None:
        return True
    flat = flat_html(html)
    if not any(rx.search(flat) is not None for rx in _FLAT_HANDLER_HINTS):
        return False
    return handler.search(html) is not None


def _is_html(att: Attachment) -> bool:
    kind = att.detected_type.split(";", 1)[0].strip().lower()
    name = (att.filename or "").lower().rstrip(" .")
    return kind in _HTML_TYPES or name.endswith(_HTML_EXTENSIONS)


class HtmlSmugglingDetector:
    """Reports HTML that assembles a file in the browser, and heavily obfuscated script."""

    name: ClassVar[str] = "smuggling"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "HTML_SMUGGLING": SymbolSpec(
            10.0, _GROUP, "HTML builds a file in the browser to slip it past the gateway."
        ),
        "HTML_OBFUSCATED_SCRIPT": SymbolSpec(
            4.0, _GROUP, "HTML carries script hidden behind decoding chains or huge strings."
        ),
    }
    timeout: ClassVar[float] = 10.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[SmugglingSettings]] = SmugglingSettings

    def __init__(self, settings: SmugglingSettings) -> None:
        self.settings = settings

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        scans = [scan_html(html, label) for label, html in self._sources(msg)]
        findings = [f for f in (self._smuggling(scans), self._obfuscated(scans)) if f]
        return findings

    def _sources(self, msg: ParsedMessage) -> list[tuple[str, str]]:
        limit = self.settings.max_bytes
        out: list[tuple[str, str]] = []
        if msg.html and _is_active(msg.html):
            out.append(("the message body", msg.html[:limit]))
        for att in msg.attachments:
            if _is_html(att):
                text = att.content[:limit].decode("utf-8", errors="replace")
                out.append((f'the attachment "{(att.filename or "(unnamed)")[:100]}"', text))
        return out

    def _smuggling(self, scans: list[_Scan]) -> Finding | None:
        best: tuple[float, _Scan] | None = None
        for scan in scans:
            if not scan.file_building:
                continue
            count = len(scan.file_building) + len(scan.decoding)
            factor = 1.0 if count >= 2 else 0.3
            if best is None or factor > best[0]:
                best = (factor, scan)
        if best is None:
            return None
        factor, scan = best
        signs = scan.file_building + scan.decoding
        return Finding(
            symbol="HTML_SMUGGLING",
            explanation=f"The HTML in {scan.label} builds a file in the browser "
            f"({', '.join(signs)}), a way to smuggle malware past mail filters.",
            evidence=(scan.label, *signs),
            factor=factor,
            detector=self.name,
        )

    def _obfuscated(self, scans: list[_Scan]) -> Finding | None:
        found = [scan for scan in scans if scan.obfuscation]
        if not found:
            return None
        scan = max(found, key=lambda s: len(s.obfuscation))
        return Finding(
            symbol="HTML_OBFUSCATED_SCRIPT",
            explanation=f"The HTML in {scan.label} hides its script "
            f"({', '.join(scan.obfuscation)}).",
            evidence=(scan.label, *scan.obfuscation),
            factor=1.0 if len(scan.obfuscation) >= 2 else 0.6,
            detector=self.name,
        )
