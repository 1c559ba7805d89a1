"""Programs hidden in archives and disk images, encrypted archives, and archive bombs.

Each attachment that is an archive, a compressed stream or a disk image (by content: libmagic,
or the images' own signatures, ISO 9660/UDF volume descriptors, VHD footer, VHDX header; or by
name when neither can tell) is expanded in memory by :func:`mailward.attachments.expand`,
recursively and within hard limits; the members are checked like attachments are (native
program headers, Windows script code, extensions Windows runs, and the table of Windows file
types in mailward/data/windows_file_types.toml: CHM, registry and MSIX files by content,
shortcuts to other locations (.url to a share, .library-ms, .search-ms), OneNote notebooks
embedding a payload). Encrypted archives are tried with the passwords the message itself offers
("Password: 4471"). The expansions are published in ``ctx.expansions`` for later stages.

Symbols (default weight, group "attachments")
  ATT_ARCHIVE_EXECUTABLE   12  a program, script or other file Windows runs or opens (see
                               above) inside an archive or image, at any depth;
                               evidence is the member chain ("invoice.zip > inner.iso > run.lnk")
  ATT_ARCHIVE_ENCRYPTED     4  a password-protected archive; factor 1.0 when no password opened
                               it, ``unlocked_factor`` when one from the message did (and then
                               its contents were scanned too)
  ATT_CONTAINER_IMAGE       5  an ISO/IMG/VHD/VHDX disk image (files in it lose Mark-of-the-Web);
                               policy quarantines it by default
  ATT_ARCHIVE_TOO_COMPLEX   0  an archive crossed a hard limit or could not be read, so it was
                               not fully scanned; policy should force quarantine on it
  ATT_ARCHIVE_NESTED        2  archives nested ``nested_levels`` deep or more (zip in a zip)

Settings ``[detectors.archives]``
  max_total_bytes, max_ratio, max_entries, max_depth, max_seconds, max_member_bytes
                        the expansion limits (see ArchiveLimits); max_seconds is shared by all
                        the attachments of a message
  try_body_passwords    try candidate passwords found in the subject and text (default true)
  dangerous_extensions  extensions treated as programs (default: the attachments detector's)
  nested_levels         archive levels that count as nested (default 2)
  unlocked_factor       factor of ATT_ARCHIVE_ENCRYPTED when a password opened it (default 0.5)
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import ClassVar

from pydantic import Field, field_validator

from mailward.attachments import (
    ArchiveLimits,
    ExpansionResult,
    Member,
    disk_image,
    display_name,
    expand,
    extension,
    find_passwords,
    read_plan,
    windows_type,
)
from mailward.detectors._script_indicators import script_indicators
from mailward.detectors.attachments import (
    DEFAULT_DANGEROUS_EXTENSIONS,
    code_reason,
    native_program,
)
from mailward.detectors.windows_types import onenote_payloads
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Attachment, Finding, ParsedMessage

_GROUP = "attachments"
_DEFAULTS = ArchiveLimits()
#: libmagic types of programs that native_program() does not read itself.
_PROGRAM_TYPES = {
    "application/x-dosexec": "a Windows/DOS program",
    "application/vnd.microsoft.portable-executable": "a Windows program",
    "application/x-msdownload": "a Windows program",
    "application/x-msi": "a Windows installer",
    "application/x-ms-shortcut": "a Windows shortcut that can run commands",
}
_SCRIPT_EXTENSIONS = frozenset(
    {"js", "jse", "vbs", "vbe", "wsf", "wsh", "hta", "ps1", "psm1", "bat", "cmd"}
)
_TEXTUAL = frozenset(
    {"application/javascript", "application/x-javascript", "application/ecmascript",
     "application/xml", "image/svg+xml", "application/octet-stream", "application/json"}
)  # fmt: skip
_LIMIT_NAMES = {
    "max_total_bytes": "total unpacked size",
    "max_ratio": "compression ratio",
    "max_entries": "number of entries",
    "max_depth": "nesting depth",
    "max_seconds": "time allowed",
    "max_member_bytes": "size of one member",
}


class ArchiveSettings(DetectorSettings):
    """Options of the archives detector: the expansion limits and what counts as a program."""

    max_total_bytes: int = Field(_DEFAULTS.max_total_bytes, gt=0)
    max_ratio: float = Field(_DEFAULTS.max_ratio, gt=0)
    max_entries: int = Field(_DEFAULTS.max_entries, gt=0)
    max_depth: int = Field(_DEFAULTS.max_depth, gt=0)
    max_seconds: float = Field(_DEFAULTS.max_seconds, gt=0)
    max_member_bytes: int = Field(_DEFAULTS.max_member_bytes, gt=0)
    try_body_passwords: bool = True
    dangerous_extensions: tuple[str, ...] = DEFAULT_DANGEROUS_EXTENSIONS
    nested_levels: int = Field(2, ge=2)
    unlocked_factor: float = Field(0.5, ge=0, le=1)

    @field_validator("dangerous_extensions")
    @classmethod
    def _normalise(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(e.strip().lstrip(".").lower() for e in value if e.strip().lstrip("."))

    def limits(self) -> ArchiveLimits:
        return ArchiveLimits(
            max_total_bytes=self.max_total_bytes,
            max_ratio=self.max_ratio,
            max_entries=self.max_entries,
            max_depth=self.max_depth,
            max_seconds=self.max_seconds,
            max_member_bytes=self.max_member_bytes,
        )


def _script_reason(member: Member) -> str | None:
    kind = member.detected_type.split(";", 1)[0].strip().lower()
    if not (kind.startswith("text/") or kind in _TEXTUAL):
        return None
    found = script_indicators(member.content)
    if len(found) >= 2 or (found and extension(member.name) in _SCRIPT_EXTENSIONS):
        return f"contains Windows script code ({', '.join(found)})"
    return None


def _windows_reason(member: Member) -> str | None:
    """A member Windows runs or opens though it is no program: CHM, .reg, MSIX, a shortcut to
    another location, a OneNote notebook with a payload (windows_file_types.toml)."""
    found = windows_type(member.name, member.content)
    code = code_reason(found)
    if code is not None or found is None:
        return code
    if found.type.windows_does == "shell_handler" and not found.web:
        where = ", ".join(found.targets[:2]) or "a location that could not be read"
        return f"is {found.kind} pointing to {where}, which Windows opens on a double-click"
    if found.type.id == "onenote":
        payloads = onenote_payloads(member.content)
        if payloads:
            return f"is a OneNote notebook embedding {payloads[0]}"
    return None


class ArchiveDetector:
    """Expands archives and disk images and reports programs, encryption and bombs in them."""

    name: ClassVar[str] = "archives"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "ATT_ARCHIVE_EXECUTABLE": SymbolSpec(
            12.0, _GROUP, "An archive or disk image holds a program, script or another file "
            "Windows runs or opens on a double-click (shortcut, CHM, .reg, OneNote payload)."
        ),
        "ATT_ARCHIVE_ENCRYPTED": SymbolSpec(
            4.0, _GROUP, "An attached archive is password-protected, hiding it from scanners."
        ),
        "ATT_CONTAINER_IMAGE": SymbolSpec(
            5.0, _GROUP, "A disk image (ISO/IMG/VHD/VHDX) is attached; it bypasses "
            "Mark-of-the-Web. Policy quarantines it by default."
        ),
        "ATT_ARCHIVE_TOO_COMPLEX": SymbolSpec(
            0.0, _GROUP, "An archive crossed a hard limit or could not be read; not fully scanned."
        ),
        "ATT_ARCHIVE_NESTED": SymbolSpec(2.0, _GROUP, "Archives are nested inside archives."),
    }
    timeout: ClassVar[float] = 10.0
    #: Missing a payload is worse than holding mail while this detector is broken.
    fail_closed: ClassVar[bool] = True
    Settings: ClassVar[type[ArchiveSettings]] = ArchiveSettings

    def __init__(self, settings: ArchiveSettings) -> None:
        self.settings = settings
        self._dangerous = frozenset(settings.dangerous_extensions)

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        worth = [att for att in msg.attachments if _worth_expanding(att)]
        if not worth:
            return []  # nothing to open: no passwords to look for either
        passwords: list[str] = []
        if self.settings.try_body_passwords:
            passwords = find_passwords(f"{msg.subject}\n{msg.text}")
        results, expanded = await asyncio.to_thread(self._expand_all, worth, passwords)
        ctx.expansions.update(expanded)  # for later stages (test strings)
        return self._findings(results)

    def _expand_all(
        self, worth: list[Attachment], passwords: list[str]
    ) -> tuple[list[tuple[Attachment, ExpansionResult]], dict[str, ExpansionResult]]:
        """Each attachment's expansion, all within one time limit and one thread hop (the
        same file attached twice under one name is expanded once), and the expansions by
        the attachments' SHA-256 (those out of time are not expansions)."""
        limits = self.settings.limits()
        deadline = time.monotonic() + limits.max_seconds
        results: list[tuple[Attachment, ExpansionResult]] = []
        done: dict[tuple[str, str | None], ExpansionResult] = {}
        expanded: dict[str, ExpansionResult] = {}
        for att in worth:
            key = (att.sha256, att.filename)
            result = done.get(key)
            if result is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    results.append((att, _out_of_time(att)))
                    continue
                budget = dataclasses.replace(limits, max_seconds=remaining)
                typed = (att.detected_type, att.detected_description)
                result = done[key] = expand(att.content, att.filename, budget, passwords, typed)
            results.append((att, result))
            expanded[att.sha256] = result
        return results, expanded

    def _findings(self, results: list[tuple[Attachment, ExpansionResult]]) -> list[Finding]:
        out: list[Finding] = []
        for symbol, probe in (
            ("ATT_ARCHIVE_EXECUTABLE", self._executables),
            ("ATT_ARCHIVE_ENCRYPTED", self._encrypted),
            ("ATT_CONTAINER_IMAGE", self._images),
            ("ATT_ARCHIVE_TOO_COMPLEX", self._too_complex),
            ("ATT_ARCHIVE_NESTED", self._nested),
        ):
            hits = [hit for _, result in results for hit in probe(result)]
            if hits:
                out.append(self._finding(symbol, hits))
        return out

    def _finding(self, symbol: str, hits: list[tuple[str, str, float]]) -> Finding:
        reason = hits[0][1]
        more = f" ({len(hits) - 1} more)" if len(hits) > 1 else ""
        return Finding(
            symbol=symbol,
            explanation=f"{reason}{more}.",
            evidence=tuple(dict.fromkeys(hit[0] for hit in hits)),
            factor=max(hit[2] for hit in hits),
            detector=self.name,
        )

    def _executables(self, result: ExpansionResult) -> list[tuple[str, str, float]]:
        hits = []
        for member in result.members:
            why = self._program(member)
            if why is not None:
                hits.append((member.display, f'"{member.display}" {why}; do not open it', 1.0))
        return hits

    def _program(self, member: Member) -> str | None:
        if not member.encrypted:
            native = native_program(member.content)
            if native is not None:
                return f"is {native}"
            kind = member.detected_type.split(";", 1)[0].strip().lower()
            if kind in _PROGRAM_TYPES:
                return f"is {_PROGRAM_TYPES[kind]}"
            script = _script_reason(member)
            if script is not None:
                return script
            windows = _windows_reason(member)
            if windows is not None:
                return windows
        ext = extension(member.name)
        if ext in self._dangerous:
            return f'ends in ".{ext}", which Windows runs as a program or script'
        return None

    def _encrypted(self, result: ExpansionResult) -> list[tuple[str, str, float]]:
        hits = []
        for chain, password in result.passwords:
            reason = (
                f'The archive "{chain}" is password-protected; the password "{password}" given '
                "in the message opened it, and its contents were scanned too"
            )
            hits.append((chain, reason, self.settings.unlocked_factor))
        for chain in result.encrypted:
            reason = (
                f'"{chain}" is encrypted and no password in the message opened it, so its '
                "contents could not be scanned"
            )
            hits.append((chain, reason, 1.0))
        hits.sort(key=lambda hit: -hit[2])  # the locked ones explain the score
        return hits

    def _images(self, result: ExpansionResult) -> list[tuple[str, str, float]]:
        hits = []
        for chain in result.images:
            reason = (
                f'"{chain}" is a disk image (ISO/IMG/VHD/VHDX); Windows mounts it with a '
                "double-click and the files inside lose their Mark-of-the-Web warning"
            )
            hits.append((chain, reason, 1.0))
        return hits

    def _too_complex(self, result: ExpansionResult) -> list[tuple[str, str, float]]:
        if result.limit_hit is not None:
            what = _LIMIT_NAMES.get(result.limit_hit, result.limit_hit)
            reason = (
                f'The archive "{result.name}" could not be fully scanned: it crossed the limit '
                f"on {what} ({result.limit_hit}), as archive bombs do"
            )
            return [(result.name, reason, 1.0)]
        images = set(result.images)
        for chain, error in result.errors:
            if chain not in images:  # libarchive reads few disk images: that is expected
                reason = f'The archive "{chain}" could not be read, so it was not scanned ({error})'
                return [(chain, reason, 1.0)]
        return []

    def _nested(self, result: ExpansionResult) -> list[tuple[str, str, float]]:
        if result.max_nesting < self.settings.nested_levels:
            return []
        deepest = max(result.archives, key=lambda chain: chain.count(" > "))
        reason = (
            f'The attachment "{result.name}" holds archives nested {result.max_nesting} levels '
            f'deep ("{deepest}")'
        )
        return [(deepest, reason, 1.0)]


def _worth_expanding(att: Attachment) -> bool:
    return (
        read_plan(att.detected_type, att.filename) is not None
        or disk_image(att.detected_type, att.detected_description, att.filename, att.content)
        is not None
    )


def _out_of_time(att: Attachment) -> ExpansionResult:
    return ExpansionResult(
        name=display_name(att.filename), is_archive=False, limit_hit="max_seconds"
    )
