"""The standard test strings: EICAR (anti-virus) and GTUBE (anti-spam), anywhere in a message.

An administrator checks that a gateway works by sending these strings: every anti-virus product
reports the EICAR test file as a virus, every spam filter scores GTUBE as spam. mailward does the
same, so the path (scan, policy, quarantine or reject, notification) can be tested end to end
with a harmless message.

Detects
  - the EICAR test string (eicar.org: 68 printable characters; AV products accept it at the
    start of a file, mailward anywhere) in the raw message, the body text and HTML, any
    attachment, any member of an archive or disk image (the archives detector's expansion,
    ``ctx.expansions``; expanded here only when that detector is disabled), the deflate
    (/FlateDecode) streams of a PDF, the parts of an Office Open XML / OpenDocument file and the
    streams of an OLE2 (legacy Office) file;
  - the GTUBE string (SpamAssassin's Generic Test for Unsolicited Bulk Email) in the raw
    message, the body text or HTML.

Symbols (group "test_strings")
  AV_EICAR_TEST       20  the EICAR anti-virus test file; policy rejects it by default, as a virus
  CONTENT_GTUBE_TEST  25  the GTUBE spam test string: enough to reach reject_at (SpamAssassin
                          gives it 1000 points); the spam thresholds decide

Settings ``[detectors.teststrings]``
  max_decoded_bytes   bytes decoded from PDF streams and document parts, per message (32 MB)

This module never holds the EICAR string as one literal (an anti-virus scanner on a developer's
machine would quarantine the source file): it is joined from two halves at import.
"""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import ClassVar

import olefile
from pydantic import Field

from mailward.attachments import ExpansionResult, expand
from mailward.detectors._documents_base import shorten
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Finding, ParsedMessage

_GROUP = "test_strings"
#: The EICAR test string, from two halves (see the module docstring).
EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
_EICAR_BYTES = EICAR.encode("ascii")
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
_GTUBE_BYTES = GTUBE.encode("ascii")
_STREAM = re.compile(rb"stream\r?\n")
_MAX_STREAMS = 500
_MAX_PARTS = 500
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class StandardStringSettings(DetectorSettings):
    """Options of the test-string check."""

    max_decoded_bytes: int = Field(32 * 1024 * 1024, gt=0)


class _Budget:
    """Bytes decoded so far for one message (PDF streams, document parts)."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self, count: int) -> None:
        self.left -= count


def _pdf_streams(content: bytes, budget: _Budget) -> Iterator[bytes]:
    """The inflated data of each zlib-compressed stream of a PDF, within the budget."""
    if b"%PDF-" not in content[:1024]:
        return
    for count, match in enumerate(_STREAM.finditer(content)):
        if count >= _MAX_STREAMS or budget.left <= 0:
            return
        start = match.end()
        if content[start : start + 1] not in (b"x", b"X", b"h", b"H"):  # not a zlib header
            continue
        end = content.find(b"endstream", start)
        data = content[start : end if end >= 0 else len(content)]
        try:
            inflated = zlib.decompressobj().decompress(data, budget.left)
        except zlib.error:
            continue
        budget.take(len(inflated))
        yield inflated


def _zip_parts(content: bytes, budget: _Budget) -> Iterator[bytes]:
    """The parts of a ZIP-based document (OOXML, ODF), each read within the budget."""
    if content[:4] != b"PK\x03\x04":
        return
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for info in archive.infolist()[:_MAX_PARTS]:
                if budget.left <= 0:
                    return
                with archive.open(info) as part:
                    data = part.read(budget.left)
                budget.take(len(data))
                yield data
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError):
        return


def _ole_streams(content: bytes, budget: _Budget) -> Iterator[bytes]:
    """The streams of an OLE2 compound file (legacy Office), each read within the budget."""
    if content[:8] != _OLE_MAGIC:
        return
    try:
        with olefile.OleFileIO(content) as ole:
            for path in ole.listdir(streams=True, storages=False)[:_MAX_PARTS]:
                if budget.left <= 0:
                    return
                data = ole.openstream(path).read(budget.left)
                budget.take(len(data))
                yield data
    except Exception:  # a damaged compound file (olefile raises many kinds): nothing more
        return


def _inner(content: bytes, budget: _Budget, parts: bool) -> Iterator[tuple[bytes, str]]:
    """``content`` itself, then what it holds that is not in its raw bytes (with a note);
    ``parts``: read a ZIP's parts too (False when the archives detector expanded it)."""
    yield content, ""
    for data in _pdf_streams(content, budget):
        yield data, " (in a compressed PDF stream)"
    for data in _zip_parts(content, budget) if parts else ():
        yield data, " (in a part of the document)"
    for data in _ole_streams(content, budget):
        yield data, " (in a stream of the document)"


class StandardTestStringDetector:
    """Reports the EICAR anti-virus and GTUBE anti-spam test strings."""

    name: ClassVar[str] = "teststrings"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "AV_EICAR_TEST": SymbolSpec(
            20.0, _GROUP, "The message carries the EICAR anti-virus test file, treated as a "
            "virus so that an administrator can test the path."
        ),
        "CONTENT_GTUBE_TEST": SymbolSpec(
            25.0, _GROUP, "The message carries the GTUBE anti-spam test string, scored as spam."
        ),
    }
    timeout: ClassVar[float] = 10.0
    #: Runs after the archives detector, whose expansions it reads (``ctx.expansions``).
    stage: ClassVar[int] = 1
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[StandardStringSettings]] = StandardStringSettings

    def __init__(self, settings: StandardStringSettings) -> None:
        self.settings = settings

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        expansions = dict(ctx.expansions)
        if "archives" in ctx.settings.engine.disabled:  # nobody expanded them: do it here
            for att in msg.attachments:
                expansions.setdefault(att.sha256, await asyncio.to_thread(expand, att.content,
                                                                          att.filename))
        if not msg.attachments:  # a few substring searches: cheaper than a thread hop
            return self._check(msg, expansions)
        return await asyncio.to_thread(self._check, msg, expansions)

    def _check(
        self, msg: ParsedMessage, expansions: Mapping[str, ExpansionResult]
    ) -> list[Finding]:
        out: list[Finding] = []
        eicar = self._eicar_places(msg, expansions)
        if eicar:
            more = f" ({len(eicar) - 1} more places too)" if len(eicar) > 1 else ""
            out.append(Finding(
                symbol="AV_EICAR_TEST",
                explanation=(
                    f"{eicar[0]} contains the EICAR anti-virus test file{more}: the standard, "
                    "harmless test string every anti-virus product reports as a virus. It is "
                    "treated as one, so this result shows the anti-virus path works end to end"
                ),
                evidence=tuple(eicar[:20]),
                detector=self.name,
            ))  # fmt: skip
        if _GTUBE_BYTES in msg.raw or GTUBE in msg.text or GTUBE in msg.html:
            out.append(Finding(
                symbol="CONTENT_GTUBE_TEST",
                explanation=(
                    "The message contains GTUBE, the standard anti-spam test string "
                    "(SpamAssassin's Generic Test for Unsolicited Bulk Email); it is scored as "
                    "spam, so this result shows the spam path works end to end"
                ),
                evidence=("GTUBE",),
                detector=self.name,
            ))  # fmt: skip
        return out

    def _eicar_places(
        self, msg: ParsedMessage, expansions: Mapping[str, ExpansionResult]
    ) -> list[str]:
        places: list[str] = []
        if EICAR in msg.text or EICAR in msg.html:
            places.append("The message body")
        budget = _Budget(self.settings.max_decoded_bytes)
        for att in msg.attachments:
            name = shorten(att.filename or "(unnamed)", 100)
            result = expansions.get(att.sha256)
            where = _found_in(att.content, budget, parts=result is None)
            if where is not None:
                places.append(f'The attachment "{name}"{where}')
            opened = set(result.archives) if result is not None else set()
            for member in result.members if result is not None else ():
                # a member the expansion opened itself (a nested archive) is not read again
                where = _found_in(member.content, budget, parts=member.display not in opened)
                if where is not None:
                    places.append(f'"{member.display}"{where}')
        if not places and _EICAR_BYTES in msg.raw:
            places.append("The raw message")
        return list(dict.fromkeys(places))


def _found_in(content: bytes, budget: _Budget, parts: bool) -> str | None:
    """Where in ``content`` the EICAR string is ("" for its raw bytes), or None."""
    for data, note in _inner(content, budget, parts):
        if _EICAR_BYTES in data:
            return note
    return None
