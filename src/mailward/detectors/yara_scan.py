"""YARA rules and ClamAV over attachments and the message's text and HTML.

YARA: every ``.yar``/``.yara`` file under ``rules_dir`` is compiled once (``yara.compile`` with
one namespace per file) and recompiled when the files change; their modification times are
checked at most every 30 seconds. A rule that fails to compile keeps the last good rule set.
ClamAV: a clamd client speaking the INSTREAM protocol ("zINSTREAM\\0", chunks with 4-byte
big-endian lengths, a zero-length terminator, reply "stream: <name> FOUND"). The client comes
from ``ScanContext.clients["clamd"]`` when the gateway provides one (anything with an async
``scan(data) -> str | None``), else from ``clamd_socket`` or ``clamd_host``/``clamd_port``.
Archive members (:func:`mailward.attachments.expand`) are scanned too.

Symbols (default weight, group "yara")
  YARA_MATCH   10  a YARA rule matched; a rule's meta ``score`` sets the factor (score / 10)
  AV_VIRUS     20  ClamAV found a virus (evidence: the signature name)

Settings ``[detectors.yara]``
  rules_dir     folder of YARA rule files ("" = no YARA)
  clamd_socket  clamd unix socket path ("" = none); or clamd_host + clamd_port (TCP); the
                socket wins when both are set
  max_bytes     bytes of each object scanned (default 25 MB); keep it at or below clamd's
                StreamMaxLength, whose refusal is an error, not a clean verdict

Fail-closed: when clamd is configured but gives no answer (unreachable, connection dropped, an
error reply such as the size limit, no answer in time) the check raises :class:`ClamdError`;
the engine records ENGINE_DETECTOR_ERROR and ENGINE_FAIL_CLOSED, and the policy applies
``[policy] fail_closed_action`` ("tempfail", the default: 451 while the client waits, a
deferred re-scan from the spool after 250; or "quarantine"). Nothing is delivered unscanned.
AV_VIRUS forces quarantine at least (``[policy] force``). See docs/antivirus.md.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

import yara

from mailward.attachments import expand
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Finding, ParsedMessage

log = logging.getLogger(__name__)

_GROUP = "yara"
_RECHECK_SECONDS = 30.0
_CHUNK = 64 * 1024
_RULE_SUFFIXES = (".yar", ".yara")


class YaraSettings(DetectorSettings):
    """Options of the YARA / ClamAV detector."""

    rules_dir: str = ""
    clamd_socket: str = ""
    clamd_host: str = ""
    clamd_port: int = 3310
    max_bytes: int = 25 * 1024 * 1024


class AvClient(Protocol):
    """An antivirus scanner: the signature name found in ``data``, or None when clean."""

    async def scan(self, data: bytes) -> str | None: ...


class ClamdError(Exception):
    """clamd could not scan (connection failed, size limit, error reply)."""


class ClamdClient:
    """A clamd INSTREAM client over a unix socket or TCP."""

    def __init__(self, socket_path: str = "", host: str = "", port: int = 3310,
                 timeout: float = 20.0) -> None:  # fmt: skip
        self.socket_path, self.host, self.port, self.timeout = socket_path, host, port, timeout

    async def scan(self, data: bytes) -> str | None:
        """The signature name clamd found in ``data``, None when clean; ClamdError when clamd
        cannot say (unreachable, dropped the connection, an error reply, no answer in time)."""
        try:
            return await asyncio.wait_for(self._scan(data), self.timeout)
        except TimeoutError as exc:
            raise ClamdError(f"clamd did not answer within {self.timeout:g}s") from exc

    async def _scan(self, data: bytes) -> str | None:
        try:
            if self.socket_path:
                reader, writer = await asyncio.open_unix_connection(self.socket_path)
            else:
                reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            raise ClamdError(f"cannot reach clamd: {exc}") from exc
        try:
            writer.write(b"zINSTREAM\0")
            for start in range(0, len(data), _CHUNK):
                chunk = data[start : start + _CHUNK]
                writer.write(struct.pack(">I", len(chunk)) + chunk)
                await writer.drain()
            writer.write(struct.pack(">I", 0))
            await writer.drain()
            reply = (await reader.read(4096)).rstrip(b"\0\r\n").decode("utf-8", "replace")
        except OSError as exc:  # e.g. clamd closed the stream at its StreamMaxLength
            raise ClamdError(f"clamd dropped the connection: {exc}") from exc
        finally:
            writer.close()
        return parse_clamd_reply(reply)


def parse_clamd_reply(reply: str) -> str | None:
    """The virus name of a "stream: Name FOUND" reply; None for "OK"; ClamdError otherwise."""
    _, _, verdict = reply.partition(": ")
    if verdict.endswith(" FOUND"):
        return verdict[: -len(" FOUND")].strip()
    if verdict.strip() == "OK":
        return None
    raise ClamdError(f"clamd replied {reply[:200]!r}")


class RuleSet:
    """The compiled rules of a folder, recompiled when its files change (checked every 30 s)."""

    def __init__(self, folder: str, recheck: float = _RECHECK_SECONDS) -> None:
        self.folder = Path(folder)
        self.recheck = recheck
        self._rules: Any = None
        self._stamp: tuple[tuple[str, float], ...] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def rules(self) -> Any:
        """The current compiled rules (None when the folder holds no rule files)."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self.recheck:
                self._checked = now
                self._refresh()
            return self._rules

    def _refresh(self) -> None:
        files = sorted(p for p in self.folder.rglob("*") if p.suffix.lower() in _RULE_SUFFIXES)
        stamp = tuple((str(p), p.stat().st_mtime) for p in files)
        if stamp == self._stamp:
            return
        paths = {f"r{i}_{p.stem}": str(p) for i, p in enumerate(files)}
        try:
            self._rules = yara.compile(filepaths=paths) if paths else None
        except yara.Error:
            if self._rules is None and self._stamp is None:
                raise
            log.exception("YARA rules in %s failed to compile; keeping the last good set",
                          self.folder)  # fmt: skip
        self._stamp = stamp


def _objects(msg: ParsedMessage, limit: int) -> Iterator[tuple[str, bytes]]:
    """(label, bytes) of everything worth scanning: attachments, members, text, HTML."""
    for att in msg.attachments:
        label = f'attachment "{(att.filename or "(unnamed)")[:100]}"'
        yield label, att.content[:limit]
        # expand() never raises; limits and damage are the archives detector's findings
        for member in expand(att.content, att.filename).members:
            if member.content:
                yield f"{label} member {member.display[:100]!r}", bytes(member.content)[:limit]
    if msg.html:
        yield "the message HTML", msg.html.encode("utf-8", "replace")[:limit]
    if msg.text:
        yield "the message text", msg.text.encode("utf-8", "replace")[:limit]


class YaraDetector:
    """Matches YARA rules and asks ClamAV about attachments and message content."""

    name: ClassVar[str] = "yara"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "YARA_MATCH": SymbolSpec(10.0, _GROUP, "A YARA rule matched the message."),
        "AV_VIRUS": SymbolSpec(20.0, _GROUP, "The antivirus scanner found a virus."),
    }
    timeout: ClassVar[float] = 30.0
    #: Configured scanning that cannot run must hold mail, not pass it.
    fail_closed: ClassVar[bool] = True
    Settings: ClassVar[type[YaraSettings]] = YaraSettings

    def __init__(self, settings: YaraSettings) -> None:
        self.settings = settings
        self._rules = RuleSet(settings.rules_dir) if settings.rules_dir else None

    def _av(self, ctx: ScanContext) -> AvClient | None:
        client = ctx.clients.get("clamd")
        if client is not None:
            return client  # type: ignore[no-any-return]
        s = self.settings
        if s.clamd_socket or s.clamd_host:
            return ClamdClient(s.clamd_socket, s.clamd_host, s.clamd_port)
        return None

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        av = self._av(ctx)
        if self._rules is None and av is None:
            return []  # nothing to scan with: the objects (archives expanded) are not made
        objects = list(_objects(msg, self.settings.max_bytes))
        findings: list[Finding] = []
        if self._rules is not None:
            findings.extend(await asyncio.to_thread(self._yara, objects))
        if av is not None:
            viruses = [(label, await av.scan(data)) for label, data in objects if data]
            found = [(label, name) for label, name in viruses if name]
            if found:
                findings.append(self._virus(found))
        return findings

    def _yara(self, objects: list[tuple[str, bytes]]) -> list[Finding]:
        assert self._rules is not None
        rules = self._rules.rules()
        if rules is None:
            return []
        matched: dict[str, tuple[Any, str]] = {}
        for label, data in objects:
            for match in rules.match(data=data, timeout=20):
                matched.setdefault(match.rule, (match, label))
        if not matched:
            return []
        ranked = sorted(matched.values(), key=lambda item: -_rule_factor(item[0]))
        top, where = ranked[0]
        description = str(top.meta.get("description", "")).strip()
        about = f": {description}" if description else ""
        more = f" ({len(ranked) - 1} more rules matched)" if len(ranked) > 1 else ""
        return [
            Finding(
                symbol="YARA_MATCH",
                explanation=f'The YARA rule "{top.rule}"{about} matched {where}{more}.',
                evidence=tuple(m.rule for m, _ in ranked),
                factor=_rule_factor(top),
                detector=self.name,
            )
        ]

    def _virus(self, found: list[tuple[str, str]]) -> Finding:
        label, virus = found[0]
        return Finding(
            symbol="AV_VIRUS",
            explanation=f"The antivirus scanner found {virus} in {label}.",
            evidence=tuple(dict.fromkeys(name for _, name in found)),
            detector=self.name,
        )


def _rule_factor(match: Any) -> float:
    """A rule's meta ``score`` / 10, or 1.0 when it has none or it is not a number."""
    try:
        return max(0.0, float(match.meta["score"]) / 10.0)
    except (KeyError, TypeError, ValueError):
        return 1.0
