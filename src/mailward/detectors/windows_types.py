"""Files Windows opens with a shell handler pointing elsewhere, and OneNote notebooks with payloads.

The file types come from the table in mailward/data/windows_file_types.toml (see
docs/windows-file-types.md): each type says what Windows does with it (runs code, opens a shell
handler pointing elsewhere, mounts a disk image, opens a container of embedded files). This
detector reports the shell handlers and the containers; the types that run code are the
attachments detector's ATT_EXECUTABLE (its default extension list is the table's "runs_code"
rows, and it reads CHM, registry and MSIX/APPX files by content), and disk images are the
archives detector's ATT_CONTAINER_IMAGE. Inside archives and disk images the archives
detector applies the same table (ATT_ARCHIVE_EXECUTABLE).

Detects, for each attachment, by content first and then by name:
  - a shell handler that points elsewhere: an Internet shortcut (.url, .website) whose URL= is
    a file:// or \\\\server path, a search or another handler, or that loads a remote icon; a
    Windows library or search connector (.library-ms, .searchConnector-ms); a saved search or
    search-ms: URI (.search-ms); an Explorer command file (.scf). The targets are the evidence.
    An Internet shortcut whose only target is an http(s) address is a link in effect: it
    raises the weaker ATT_WEB_SHORTCUT;
  - a OneNote section (.one) with an embedded file that is a program, shortcut or script (by
    its bytes), or that names an embedded file with an extension Windows runs.

Symbols (default weight, group "attachments")
  ATT_SHELL_SHORTCUT    10  a shortcut-like file pointing at a share, WebDAV folder, search
                            location or handler (or whose target cannot be read); policy
                            quarantines it by default
  ATT_WEB_SHORTCUT       3  an Internet shortcut (.url) to a web address (evidence: the URL): a
                            link in effect, which adds to other suspicion but does not tag alone
  ATT_ONENOTE_EMBEDDED  10  a OneNote notebook embedding a program, shortcut or script; policy
                            quarantines it by default

Each symbol is raised at most once per message; its evidence lists the attachments and targets.

Settings ``[detectors.windows_types]``: none; the table is reviewed data shipped with the package
(an operator adds names Windows runs with ``[detectors.attachments] dangerous_extensions``, or
turns this detector off with ``[engine] disabled = ["windows_types"]``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

from mailward.attachments import WindowsMatch, onenote_files, windows_type
from mailward.data.windows_types import extensions_that
from mailward.detectors._documents_base import runnable_kind, shorten
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Attachment, Finding, ParsedMessage

_GROUP = "attachments"
_NAME_SCAN = 4 * 1024 * 1024
_NAME_CHARS = r"[\w\-. ()\[\]{}&,+~!@#$%']"


class WindowsTypeSettings(DetectorSettings):
    """Options of the windows_types detector (none yet: the table is reviewed data)."""


@dataclass(frozen=True, slots=True)
class _Hit:
    name: str
    reason: str
    evidence: tuple[str, ...]


@cache
def _embedded_name() -> re.Pattern[str]:
    exts = sorted(extensions_that("runs_code", "shell_handler"), key=len, reverse=True)
    alternatives = "|".join(re.escape(ext) for ext in exts)
    return re.compile(rf"{_NAME_CHARS}{{1,120}}\.(?:{alternatives})(?![\w.-])", re.IGNORECASE)


def onenote_names(content: bytes) -> list[str]:
    """File names with an extension Windows runs, as a OneNote section records them (UTF-16)."""
    found: dict[str, None] = {}
    pattern = _embedded_name()
    for start in (0, 1):
        text = content[start:_NAME_SCAN].decode("utf-16-le", errors="replace")
        for match in pattern.finditer(text):
            found.setdefault(match.group(0).strip(), None)
    return list(found)[:10]


def onenote_payloads(content: bytes) -> list[str]:
    """What a OneNote section embeds that runs: "an HTML application (HTA)", 'file "a.bat"'.

    [] for anything that is not a OneNote section or embeds nothing that runs. Names count
    only when the section embeds at least one file (a name in the page text alone is not a
    payload).
    """
    embedded = onenote_files(content)
    if not embedded:
        return []
    kinds = [kind for data in embedded if (kind := runnable_kind(data)) is not None]
    names = [f'file "{shorten(name, 100)}"' for name in onenote_names(content)]
    return list(dict.fromkeys([*kinds, *names]))


def _shell_reason(found: WindowsMatch) -> str:
    row = found.type
    if found.by == "name":
        return (
            f"is named like {row.name.lower()} ({found.kind}): {row.what}; its content could "
            "not be read as one, so where it points is unknown"
        )
    where = ", ".join(shorten(t, 120) for t in found.targets[:3]) or "no target given"
    return f"is {found.kind} pointing to {where}: {row.what}"


class WindowsTypeDetector:
    """Reports shell-handler files that point elsewhere and OneNote notebooks with payloads."""

    name: ClassVar[str] = "windows_types"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "ATT_SHELL_SHORTCUT": SymbolSpec(
            10.0, _GROUP, "An attachment is a shortcut-like file that opens another location "
            "(a file share, WebDAV folder, search or handler) when double-clicked."
        ),
        "ATT_WEB_SHORTCUT": SymbolSpec(
            3.0, _GROUP, "An attachment is an Internet shortcut (.url) to a web address."
        ),
        "ATT_ONENOTE_EMBEDDED": SymbolSpec(
            10.0, _GROUP, "A OneNote notebook embeds a program, shortcut or script."
        ),
    }
    timeout: ClassVar[float] = 10.0
    #: Missing a shortcut lure is worse than holding mail while this detector is broken.
    fail_closed: ClassVar[bool] = True
    Settings: ClassVar[type[WindowsTypeSettings]] = WindowsTypeSettings

    def __init__(self, settings: WindowsTypeSettings) -> None:
        self.settings = settings

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        hits: dict[str, list[_Hit]] = {symbol: [] for symbol in self.symbols}
        for att in msg.attachments:
            for symbol, hit in self._attachment(att):
                hits[symbol].append(hit)
        return [self._finding(symbol, found) for symbol, found in hits.items() if found]

    def _attachment(self, att: Attachment) -> list[tuple[str, _Hit]]:
        name = shorten(att.filename or "(unnamed)", 100)
        found = windows_type(att.filename, att.content)
        if found is None:
            return []
        if found.type.windows_does == "shell_handler":
            if found.web:
                url = found.targets[0]
                reason = f"is {found.kind} to the web address {shorten(url, 120)}"
                return [("ATT_WEB_SHORTCUT", _Hit(name, reason, (name, *found.targets)))]
            hit = _Hit(name, _shell_reason(found), (name, *found.targets))
            return [("ATT_SHELL_SHORTCUT", hit)]
        if found.type.id == "onenote":
            payloads = onenote_payloads(att.content)
            if payloads:
                reason = (
                    f"is a OneNote notebook embedding {payloads[0]}; a double-click on it in "
                    "OneNote runs it"
                )
                return [("ATT_ONENOTE_EMBEDDED", _Hit(name, reason, (name, *payloads[:5])))]
        return []

    def _finding(self, symbol: str, hits: list[_Hit]) -> Finding:
        first = hits[0]
        more = f" ({len(hits) - 1} more attachments too)" if len(hits) > 1 else ""
        evidence = tuple(dict.fromkeys(e for hit in hits for e in hit.evidence))[:20]
        return Finding(
            symbol=symbol,
            explanation=f'The attachment "{first.name}" {first.reason}{more}.',
            evidence=evidence,
            detector=self.name,
        )
