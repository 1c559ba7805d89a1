"""Recursive, in-memory archive expansion with libarchive, inside hard limits.

Nothing is written to disk and nothing runs through a shell: libarchive reads from the bytes in
memory, member names are data (sanitised for display, never used as paths), and member data is
read in chunks so the limits are checked between reads: total bytes, ratio, entries, depth,
time and member size. A limit ends the expansion with ``limit_hit`` set; libarchive errors are
recorded; :func:`expand` itself never raises.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import logging
import struct
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import libarchive
from libarchive import ffi
from libarchive.exception import ArchiveError

from mailward.attachments._formats import (
    ReadPlan,
    disk_image,
    display_name,
    read_plan,
    stream_member_name,
)
from mailward.attachments._model import ArchiveLimits, ExpansionResult, Member
from mailward.mime import SNIFF_BYTES, detect_type

log = logging.getLogger(__name__)

_CHUNK = 65536
_LOCK_WORDS = ("passphrase", "encrypt", "decrypt", "password")


class _LimitHit(Exception):
    """A hard limit was crossed; ``which`` names it."""

    def __init__(self, which: str) -> None:
        super().__init__(which)
        self.which = which


def _encryption_probe() -> Callable[[Any], bool]:
    """archive_entry_is_encrypted() when this libarchive has it (3.2+), else always False."""
    try:
        func = ffi.libarchive.archive_entry_is_encrypted
    except AttributeError:  # pragma: no cover - old libarchive
        return lambda entry: False
    func.argtypes = [ctypes.c_void_p]
    func.restype = ctypes.c_int
    return lambda entry: bool(func(entry._entry_p))


_entry_encrypted = _encryption_probe()


class _Budget:
    """Counts what the expansion used and raises _LimitHit when a limit is crossed."""

    def __init__(self, limits: ArchiveLimits, compressed: int) -> None:
        self.limits = limits
        self.compressed = max(compressed, 1)
        self.started = time.monotonic()
        self.deadline = self.started + limits.max_seconds
        self.bytes = 0
        self.entries = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise _LimitHit("max_seconds")

    def charge(self, count: int) -> None:
        self.bytes += count
        lim = self.limits
        if self.bytes > lim.max_total_bytes:
            raise _LimitHit("max_total_bytes")
        if self.bytes > lim.ratio_floor_bytes and self.bytes > lim.max_ratio * self.compressed:
            raise _LimitHit("max_ratio")
        self.tick()

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise _LimitHit("max_entries")
        self.tick()

    def save(self) -> tuple[int, int]:
        return self.bytes, self.entries

    def restore(self, saved: tuple[int, int]) -> None:
        self.bytes, self.entries = saved


@dataclass(slots=True)
class _Pass:
    """One read of one archive with one passphrase (or none)."""

    entries: int = 0
    locked: bool = False  # an entry (or the whole archive) needs a password we lack
    saw_encrypted: bool = False
    error: str | None = None
    unrecognised: bool = False
    containers: list[tuple[Member, ReadPlan]] = field(default_factory=list)


def _message(exc: ArchiveError) -> str:
    return str(exc.msg) if exc.msg else "damaged archive"


def _is_lock_error(exc: ArchiveError) -> bool:
    text = _message(exc).lower()
    return any(word in text for word in _LOCK_WORDS)


def _zip_encrypted_names(data: bytes, max_entries: int) -> frozenset[str]:
    """Names whose zip general-purpose flag bit 0 (encrypted) is set, from the central directory."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or len(data) < end + 12:
        return frozenset()
    (count,) = struct.unpack_from("<H", data, end + 10)
    if count > max_entries:
        return frozenset()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return frozenset(i.filename for i in archive.infolist() if i.flag_bits & 1)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return frozenset()


class _Expander:
    """The state of one expansion: budget, members found, containers seen."""

    def __init__(self, limits: ArchiveLimits, compressed: int, passwords: Sequence[str]) -> None:
        self.limits = limits
        self.budget = _Budget(limits, compressed)
        self.passwords = tuple(dict.fromkeys(p for p in passwords if p))
        self.members: list[Member] = []
        self.archives: list[str] = []
        self.images: list[str] = []
        self.locked: list[str] = []
        self.used: list[tuple[str, str]] = []
        self.errors: list[tuple[str, str]] = []
        self.nesting = 0

    def container(self, data: bytes, chain: tuple[str, ...], depth: int, plan: ReadPlan) -> None:
        """List and read one container, then the containers inside it, depth first."""
        if depth >= self.limits.max_depth:
            raise _LimitHit("max_depth")
        found = self._open(data, chain, depth, plan)
        if found is None:
            return
        self.archives.append(" > ".join(chain))
        self.nesting = max(self.nesting, depth + 1)
        for member, inner in found.containers:
            self.container(member.content, member.chain, member.depth, inner)

    def _open(
        self, data: bytes, chain: tuple[str, ...], depth: int, plan: ReadPlan
    ) -> _Pass | None:
        """The pass that read the container: without a password, else with the first that works."""
        flagged = frozenset[str]()
        if "zip" in plan.formats:
            flagged = _zip_encrypted_names(data, self.limits.max_entries)
        last_error = "not readable as " + plan.kind
        for fmt in plan.formats:
            mark = len(self.members)
            first = self._pass(data, chain, depth, plan, fmt, None, flagged)
            if first.unrecognised or (plan.is_stream and fmt != "raw" and first.entries == 0):
                del self.members[mark:]
                last_error = first.error or last_error
                continue
            if first.error is not None:
                self.errors.append((" > ".join(chain), first.error))
            if first.locked:
                return self._unlock(data, chain, depth, plan, fmt, first, mark)
            return first
        if plan.by_content:  # it looked like one by its bytes; by its name only, it is not
            self.errors.append((" > ".join(chain), last_error))
        return None

    def _unlock(
        self, data: bytes, chain: tuple[str, ...], depth: int, plan: ReadPlan,
        fmt: str, first: _Pass, mark: int,
    ) -> _Pass:  # fmt: skip
        """Try each password; keep the first pass that opens everything, else the first pass."""
        saved, end = self.budget.save(), len(self.members)
        for password in self.passwords:
            trial = self._pass(data, chain, depth, plan, fmt, password, frozenset())
            if not trial.locked and trial.error is None:
                self.members[mark:] = self.members[end:]
                self.used.append((" > ".join(chain), password))
                return trial
            del self.members[end:]
            self.budget.restore(saved)
        if first.entries == 0:
            self.locked.append(" > ".join(chain))
        return first

    def _pass(
        self, data: bytes, chain: tuple[str, ...], depth: int, plan: ReadPlan,
        fmt: str, password: str | None, flagged: frozenset[str],
    ) -> _Pass:  # fmt: skip
        """Read every entry once; a wrong password ends the pass at the first locked entry."""
        result = _Pass()
        try:
            with libarchive.memory_reader(
                data, format_name=fmt, filter_name=plan.filter_name, passphrase=password
            ) as archive:
                for entry in archive:
                    self.budget.entry()
                    result.entries += 1
                    if not entry.isfile:
                        continue
                    raw_name = entry.pathname
                    name = stream_member_name(chain[-1]) if fmt == "raw" else display_name(raw_name)
                    encrypted = _entry_encrypted(entry) or raw_name in flagged
                    result.saw_encrypted |= encrypted
                    opened = self._member(entry, (*chain, name), depth + 1, result, encrypted)
                    if not opened and password is not None:
                        return result
        except ArchiveError as exc:
            self._pass_error(exc, result)
        return result

    def _pass_error(self, exc: ArchiveError, result: _Pass) -> None:
        if _is_lock_error(exc):
            result.locked = result.saw_encrypted = True
        elif result.entries == 0:
            result.unrecognised = True
            result.error = _message(exc)
        else:
            result.error = _message(exc)

    def _member(
        self, entry: Any, chain: tuple[str, ...], depth: int, result: _Pass, encrypted: bool
    ) -> bool:
        """Read one member into the result; False when its data is locked by encryption."""
        try:
            content, size, digest, typed = self._read(entry, chain[-1])
        except ArchiveError as exc:
            if not (encrypted or _is_lock_error(exc)):
                raise
            result.locked = result.saw_encrypted = True
            self.members.append(
                Member(chain, 0, "", "application/octet-stream", "encrypted", depth, encrypted=True)
            )
            return False
        # typed already when its head was read (the head is the content's first 64 KiB)
        mime, description = detect_type(content) if typed is None else typed
        member = Member(
            chain, size, digest, mime, description, depth, content, truncated=len(content) < size
        )
        self.members.append(member)
        if disk_image(mime, description, chain[-1], content) is not None:
            self.images.append(member.display)
        plan = read_plan(mime, chain[-1])
        if plan is not None:
            result.containers.append((member, plan))
        return True

    def _read(self, entry: Any, name: str) -> tuple[bytes, int, str, tuple[str, str] | None]:
        """(bytes kept, size, sha256, the type of the kept bytes when it was needed to decide
        how much to keep) of one member, read chunk by chunk within the limits."""
        digest = hashlib.sha256()
        kept = bytearray()
        size = 0
        keep = max(self.limits.keep_bytes, SNIFF_BYTES)
        typed: tuple[str, str] | None = None
        for block in entry.get_blocks(_CHUNK):
            size += len(block)
            if size > self.limits.max_member_bytes:
                raise _LimitHit("max_member_bytes")
            self.budget.charge(len(block))
            digest.update(block)
            room = keep - len(kept)
            if room > 0:
                kept += block[:room]
            if typed is None and len(kept) >= SNIFF_BYTES:
                typed = detect_type(bytes(kept[:SNIFF_BYTES]))
                if _container_like(typed, name):
                    keep = self.limits.max_member_bytes
        return bytes(kept), size, digest.hexdigest(), typed


def _container_like(typed: tuple[str, str], name: str) -> bool:
    mime, description = typed
    return read_plan(mime, name) is not None or disk_image(mime, description, name) is not None


def expand(
    content: bytes,
    name: str | None,
    limits: ArchiveLimits | None = None,
    passwords: Sequence[str] = (),
    detected: tuple[str, str] | None = None,
) -> ExpansionResult:
    """List and read the members of ``content`` (an archive, disk image or compressed stream),
    recursively, in memory and within ``limits``; try ``passwords`` on encrypted ones.
    ``detected``: ``detect_type(content)`` when the caller has it already (an attachment's
    detected type and description), so libmagic's answer is not looked up again.

    Never raises: a crossed limit sets ``limit_hit``, a damaged container adds to ``errors``.
    Bytes that are no container give ``is_archive=False`` and no members.
    """
    limits = limits or ArchiveLimits()
    root = display_name(name)
    mime, description = detect_type(content) if detected is None else detected
    expander = _Expander(limits, len(content), passwords)
    if disk_image(mime, description, name, content) is not None:
        expander.images.append(root)
    plan = read_plan(mime, name)
    limit_hit: str | None = None
    if plan is not None:
        try:
            expander.container(content, (root,), 0, plan)
        except _LimitHit as hit:
            limit_hit = hit.which
        except Exception as exc:  # never let a damaged archive crash the scan
            log.warning("archive expansion failed: %s", type(exc).__name__)
            expander.errors.append((root, f"{type(exc).__name__}: {exc}"))
    return _result(expander, root, limit_hit)


def _result(ex: _Expander, root: str, limit_hit: str | None) -> ExpansionResult:
    encrypted = [m.display for m in ex.members if m.encrypted] + ex.locked
    return ExpansionResult(
        name=root,
        is_archive=bool(ex.archives or ex.locked or ex.members),
        members=tuple(ex.members),
        archives=tuple(ex.archives),
        max_nesting=ex.nesting,
        images=tuple(dict.fromkeys(ex.images)),
        encrypted=tuple(encrypted),
        passwords=tuple(ex.used),
        limit_hit=limit_hit,
        errors=tuple(ex.errors),
        bytes_read=ex.budget.bytes,
        elapsed=time.monotonic() - ex.budget.started,
    )
