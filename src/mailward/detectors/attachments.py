"""Attachments meant to run code: programs, scripts, and names that lie about the file type.

Detects
  - an attachment whose content is a native program (PE, ELF or Mach-O by our own reading of
    the headers; by libmagic's detected type alone at factor 0.8), a script by content (a "#!"
    first line at factor 0.6, or Windows script code: WScript.Shell, ActiveXObject, encoded
    PowerShell, IEX...; two strong indicators, or one in a file with a script extension), or
    whose name ends in an extension Windows runs (.exe, .js, .hta, .lnk, .xll, .chm, .reg,
    .appx, .msix, ...: the "runs_code" rows of the table in mailward/data/windows_file_types.toml,
    docs/windows-file-types.md), or whose content is a compiled HTML Help file, a registry file or
    an MSIX/APPX package, which Windows runs code from though they are no programs;
  - a name claiming a harmless type (.pdf, .docx, .jpg, .txt, ...) over content of another kind;
  - a second, decoy extension ("invoice.pdf.exe") or a right-to-left override in the name.

Symbols (default weight, group "attachments")
  ATT_EXECUTABLE        12  the attachment is a program or script, by content or by extension
  ATT_TYPE_MISMATCH      4  the extension claims a harmless type; the content is something else
  ATT_DOUBLE_EXTENSION   3  a decoy extension before a dangerous one, or a right-to-left override
  ATT_BLOCKED_TYPE       0  the operator's policy blocks the attachment by name or true type
                            (forced to quarantine by ``[policy] force``); see
                            :mod:`mailward.detectors._attachment_policy`

Each symbol is raised at most once per message; its evidence lists the attachments.

Settings ``[detectors.attachments]``
  dangerous_extensions  extensions (no dot) treated as programs whatever the content
  check_scripts         look for script code in text attachments (default true)
  blocked_extensions    extensions blocked by policy, e.g. [".zip", ".iso"] (default none); any
                        name a mail program could show for the part, or an archive member's
                        name, ending in one raises ATT_BLOCKED_TYPE
  blocked_types         true types (libmagic MIME types, shell patterns such as
                        "application/x-ms*") blocked by policy, for parts and archive members
                        (default none)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from pydantic import field_validator

from mailward.attachments import ArchiveLimits, WindowsMatch, pe_kind, windows_type
from mailward.data.windows_types import extensions_that
from mailward.detectors._attachment_policy import (
    AttachmentPolicy,
    normalise_extensions,
    normalise_types,
)
from mailward.detectors._script_indicators import script_indicators
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Attachment, Finding, ParsedMessage

_GROUP = "attachments"
#: The "runs_code" rows of mailward/data/windows_file_types.toml (docs/windows-file-types.md).
DEFAULT_DANGEROUS_EXTENSIONS = extensions_that("runs_code")
#: Types that run code which we read by content besides programs and scripts.
_CODE_BY_CONTENT = frozenset({"chm", "reg", "appx"})
#: Extensions whose files are scripts: one script indicator is enough in them.
_SCRIPT_EXTENSIONS = frozenset(
    {"js", "jse", "vbs", "vbe", "wsf", "wsh", "hta", "ps1", "psm1", "bat", "cmd", "sh"}
)
#: libmagic types of native programs and installers -> what a person calls them.
_MAGIC_EXECUTABLES = {
    "application/x-dosexec": "a Windows/DOS program",
    "application/vnd.microsoft.portable-executable": "a Windows program",
    "application/x-msdownload": "a Windows program",
    "application/x-ms-ne-executable": "a Windows program",
    "application/x-executable": "a Linux/Unix program",
    "application/x-pie-executable": "a Linux/Unix program",
    "application/x-sharedlib": "a Linux/Unix shared library",
    "application/x-elf": "a Linux/Unix program",
    "application/x-mach-binary": "a macOS program",
    "application/x-msi": "a Windows installer",
    "application/x-ms-shortcut": "a Windows shortcut that can run commands",
}
_MACHO_MAGICS = frozenset(
    {b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"}
)
_FAT_MAGICS = frozenset({b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"})
_SHEBANG = re.compile(rb"\A(?:\xef\xbb\xbf)?#![ \t]*/\S+")
_SCANNED_TYPES = frozenset(
    {"application/javascript", "application/x-javascript", "application/ecmascript",
     "application/xml", "image/svg+xml", "application/octet-stream", "application/json"}
)  # fmt: skip
#: Extension that claims a harmless type -> (what it claims, content families that fit it).
_OFFICE_FIT = frozenset({"office", "zip", "rtf", "xml", "text", "html"})
_CLAIMS: dict[str, tuple[str, frozenset[str]]] = {
    "pdf": ("a PDF document", frozenset({"pdf"})),
    **dict.fromkeys(
        ("doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "rtf"),
        ("an Office document", _OFFICE_FIT),
    ),
    **dict.fromkeys(
        ("jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp"),
        ("an image", frozenset({"image"})),
    ),
    **dict.fromkeys(("txt", "csv", "log"), ("a text file", frozenset({"text", "html", "xml"}))),
}
_DECOY_EXTENSIONS = frozenset(_CLAIMS) | {
    "htm", "html", "zip", "rar", "7z", "mp3", "mp4", "wav", "avi", "mov", "eml", "xml", "json",
}  # fmt: skip
_OFFICE_TYPES = re.compile(
    r"application/(?:msword|vnd\.ms-|vnd\.openxmlformats-officedocument\.|vnd\.oasis\.opendocument"
    r"|cdfv2|x-ole-storage)",
    re.IGNORECASE,
)
_OTHER_FAMILIES = {
    "application/zip": "zip",
    "text/rtf": "rtf",
    "text/html": "html",
    "text/xml": "xml",
    "application/xml": "xml",
    "application/json": "text",
}
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff]")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


class ExecutableAttachmentSettings(DetectorSettings):
    """Options of the attachments detector."""

    dangerous_extensions: tuple[str, ...] = DEFAULT_DANGEROUS_EXTENSIONS
    check_scripts: bool = True
    blocked_extensions: tuple[str, ...] = ()
    blocked_types: tuple[str, ...] = ()

    @field_validator("dangerous_extensions")
    @classmethod
    def _normalise(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(e.strip().lstrip(".").lower() for e in value if e.strip().lstrip("."))

    @field_validator("blocked_extensions")
    @classmethod
    def _blocked_extensions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return normalise_extensions(value)

    @field_validator("blocked_types")
    @classmethod
    def _blocked_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return normalise_types(value)


@dataclass(frozen=True, slots=True)
class _Hit:
    """One attachment that raises a symbol: its printable name and why."""

    name: str
    reason: str
    factor: float = 1.0


def _printable(name: str, limit: int = 100) -> str:
    shown = _UNPRINTABLE.sub(lambda m: f"<U+{ord(m.group(0)):04X}>", name)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _extensions(filename: str | None) -> tuple[str, ...]:
    """The name's extensions, lower-case, as Windows reads them (controls, spaces, dots trimmed)."""
    if not filename:
        return ()
    clean = _INVISIBLE.sub("", _BIDI.sub("", filename)).rstrip(" .")
    return tuple(part.strip().lower() for part in clean.split(".")[1:])


def _base_type(att: Attachment) -> str:
    return att.detected_type.split(";", 1)[0].strip().lower()


def native_program(content: bytes) -> str | None:
    """What kind of native program ``content`` is, read from its headers, or None."""
    if pe_kind(content) is not None:
        return "a Windows program (PE executable)"
    if content[:4] == b"\x7fELF" and len(content) >= 20 and content[4] in (1, 2):
        return "a Linux/Unix program (ELF executable)"
    if content[:4] in _MACHO_MAGICS:
        return "a macOS program (Mach-O executable)"
    # Java class files share the universal Mach-O magic; their next word is the version
    # (>= 45), while a universal Mach-O binary has a small architecture count there.
    if content[:4] in _FAT_MAGICS and 0 < int.from_bytes(content[4:8], "big") < 20:
        return "a macOS program (universal Mach-O executable)"
    return None


def windows_code(name: str | None, content: bytes) -> str | None:
    """Why ``content`` runs code on Windows though it is no program: a compiled HTML Help file,
    a registry file, an MSIX/APPX package (read by content; see windows_file_types.toml)."""
    return code_reason(windows_type(name, content))


def code_reason(found: WindowsMatch | None) -> str | None:
    """:func:`windows_code` for a type already looked up."""
    if found is None or found.by != "content" or found.type.content not in _CODE_BY_CONTENT:
        return None
    return f"is {found.kind}: {found.type.what}"


def _script_reason(att: Attachment, ext: str) -> tuple[str, float] | None:
    """Why the content is a script and how sure that makes us, or None."""
    if _SHEBANG.match(att.content):
        # Runs on Unix-like systems once made executable; not by a double-click on Windows.
        return "is a script (its first line names an interpreter)", 0.6
    kind = _base_type(att)
    if not (kind.startswith("text/") or kind in _SCANNED_TYPES):
        return None
    found = script_indicators(att.content)
    if len(found) >= 2 or (found and ext in _SCRIPT_EXTENSIONS):
        return f"contains Windows script code ({', '.join(found)})", 1.0
    return None


class ExecutableAttachmentDetector:
    """Reports attachments that are programs or scripts, and names that lie about the type."""

    name: ClassVar[str] = "attachments"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "ATT_EXECUTABLE": SymbolSpec(
            12.0, _GROUP, "An attachment is a program or script that can run on a workstation."
        ),
        "ATT_TYPE_MISMATCH": SymbolSpec(
            4.0, _GROUP, "An attachment's extension claims a harmless type its content is not."
        ),
        "ATT_DOUBLE_EXTENSION": SymbolSpec(
            3.0, _GROUP, "An attachment name hides its real extension (decoy extension, RLO)."
        ),
        "ATT_BLOCKED_TYPE": SymbolSpec(
            0.0, _GROUP, "The operator's policy blocks an attachment's name or type."
        ),
    }
    timeout: ClassVar[float] = 10.0
    #: Missing an executable is worse than holding mail while this detector is broken.
    fail_closed: ClassVar[bool] = True
    Settings: ClassVar[type[ExecutableAttachmentSettings]] = ExecutableAttachmentSettings

    def __init__(self, settings: ExecutableAttachmentSettings) -> None:
        self.settings = settings
        self._dangerous = frozenset(settings.dangerous_extensions)
        self._policy = AttachmentPolicy(
            settings.blocked_extensions, settings.blocked_types, ArchiveLimits()
        )

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        hits: dict[str, list[_Hit]] = {symbol: [] for symbol in self.symbols}
        for att in msg.attachments:
            for symbol, probe in (
                ("ATT_EXECUTABLE", self._executable),
                ("ATT_TYPE_MISMATCH", self._mismatch),
                ("ATT_DOUBLE_EXTENSION", self._double_extension),
            ):
                hit = probe(att)
                if hit is not None:
                    hits[symbol].append(hit)
        findings = [self._finding(symbol, found) for symbol, found in hits.items() if found]
        return findings + await self._policy.check(msg, self.name)

    def _finding(self, symbol: str, hits: list[_Hit]) -> Finding:
        first = hits[0]
        more = f" ({len(hits) - 1} more attachments too)" if len(hits) > 1 else ""
        return Finding(
            symbol=symbol,
            explanation=f'The attachment "{first.name}" {first.reason}{more}.',
            evidence=tuple(hit.name for hit in hits),
            factor=max(hit.factor for hit in hits),
            detector=self.name,
        )

    def _executable(self, att: Attachment) -> _Hit | None:
        name = _printable(att.filename or "(unnamed)")
        exts = _extensions(att.filename)
        ext = exts[-1] if exts else ""
        native = native_program(att.content)
        if native is not None:
            return _Hit(name, f"is {native}; do not open it")
        described = _MAGIC_EXECUTABLES.get(_base_type(att))
        if described is not None:
            return _Hit(name, f"is {described} ({att.detected_type}); do not open it", 0.8)
        if self.settings.check_scripts:
            script = _script_reason(att, ext)
            if script is not None:
                return _Hit(name, f"{script[0]}; do not open it", script[1])
        code = windows_code(att.filename, att.content)
        if code is not None:
            return _Hit(name, f"{code}; do not open it")
        if ext in self._dangerous:
            return _Hit(name, f'ends in ".{ext}", which Windows runs as a program or script')
        return None

    def _mismatch(self, att: Attachment) -> _Hit | None:
        exts = _extensions(att.filename)
        claim = _CLAIMS.get(exts[-1]) if exts else None
        if claim is None:
            return None
        claimed, fitting = claim
        actual = _content_family(att)
        if actual is None or actual[0] in fitting:
            return None
        return _Hit(
            _printable(att.filename or ""),
            f"is named like {claimed} (.{exts[-1]}) but its content is {actual[1]}",
        )

    def _double_extension(self, att: Attachment) -> _Hit | None:
        if not att.filename:
            return None
        name = _printable(att.filename)
        exts = _extensions(att.filename)
        if "\u202e" in att.filename or "\u2067" in att.filename:
            shown = _as_displayed(att.filename)
            real = f'".{exts[-1]}" file' if exts else "file"
            return _Hit(
                name,
                f'has a right-to-left override (U+202E) in its name, so it shows as "{shown}" '
                f"but is really a {real}",
            )
        if len(exts) >= 2 and exts[-1] in self._dangerous and exts[-2] in _DECOY_EXTENSIONS:
            return _Hit(
                name, f'hides its real type behind a decoy: it is a ".{exts[-1]}" file, '
                f'not a ".{exts[-2]}"'
            )  # fmt: skip
        return None


def _content_family(att: Attachment) -> tuple[str, str] | None:
    """(family, description) of the content, or None when libmagic could not tell."""
    native = native_program(att.content)
    if native is not None:
        return "executable", native
    kind = _base_type(att)
    described = att.detected_description.strip() or kind
    described = described if len(described) <= 80 else described[:77] + "..."
    if kind in _MAGIC_EXECUTABLES:
        return "executable", _MAGIC_EXECUTABLES[kind]
    if kind in {"application/octet-stream", "application/x-empty", "inode/x-empty", ""}:
        return None
    if kind == "application/pdf":
        return "pdf", "a PDF document"
    if kind == "image/svg+xml":
        return "svg", "an SVG image, which can carry scripts"
    if kind.startswith("image/"):
        return "image", f"an image ({described})"
    if _OFFICE_TYPES.match(kind):
        return "office", f"an Office document ({described})"
    if kind in _OTHER_FAMILIES:
        return _OTHER_FAMILIES[kind], f"something else ({described})"
    if kind in {"text/plain", "text/csv"}:
        return "text", f"plain text ({described})"
    return "other", f"something else ({described})"


def _as_displayed(filename: str) -> str:
    """How a right-to-left override makes the name look: the text after it reads backwards."""
    for mark in ("\u202e", "\u2067"):
        if mark in filename:
            before, _, after = filename.partition(mark)
            after, _, rest = after.partition("\u202c" if mark == "\u202e" else "\u2069")
            return _printable(before + after[::-1] + rest)
    return _printable(filename)
