"""Durable file writes: the bytes and the directory entry are on disk before we say so.

fsyncs of one path asked for at the same time from several threads are shared (group
commit): a caller returns once an fsync that *started after its request* has finished, so
what it wrote before asking is on disk, and N concurrent callers cost one or two fsyncs
instead of N. The SQLite store uses the same to fsync its write-ahead log after a commit,
outside the database's write lock (see :mod:`mailward.store._engine`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path


def write_synced(
    path: str | Path, data: bytes, *, exclusive: bool = False, mode: int = 0o600
) -> None:
    """Write ``data`` to ``path`` and fsync it. ``exclusive``: fail if it exists, and never
    follow a symlink there."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    flags |= (os.O_EXCL | os.O_NOFOLLOW) if exclusive else os.O_TRUNC
    fd = os.open(path, flags, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


#: Reading a file does not update its access time (Linux; for files of this user only).
_NOATIME = getattr(os, "O_NOATIME", 0)


def read_file(path: str | Path) -> bytes:
    """The bytes of a regular file, as ``Path.read_bytes`` gives them, in four system calls
    instead of nine (a short read of a regular file is its end).

    Opened without an access-time update where the system allows it: the first read of a
    file just written would otherwise dirty its inode, a journalled write on ext4 that can
    wait for a commit the other threads' fsyncs started (the spool reads small state files
    on the event loop)."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | _NOATIME)
    except PermissionError:  # O_NOATIME on another user's file: read it the usual way
        if not _NOATIME:
            raise
        fd = os.open(path, flags)
    try:
        want = os.fstat(fd).st_size + 1
        chunks = []
        while True:
            chunk = os.read(fd, want)
            chunks.append(chunk)
            if len(chunk) < want:
                return chunk if len(chunks) == 1 else b"".join(chunks)
            want = 1 << 16  # it grew since fstat: read on to its end
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """fsync a directory, so that entries created or renamed in it survive a crash (shared
    with the other threads syncing the same directory at the same time)."""
    group_sync(str(path), _fsync_directory)


def _fsync_directory(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class GroupSync:
    """Shared fsyncs of one path: :meth:`sync` returns once a sync begun after the call has
    ended. One thread (the leader) syncs for everyone waiting; the rest wait for it."""

    def __init__(self, path: str, sync: Callable[[str], None]) -> None:
        self.path = path
        self._sync = sync
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._running = False
        #: How many syncs were really made (for tests and benchmarks).
        self.syncs = 0

    def sync(self) -> None:
        with self._cond:
            self._requested += 1
            ticket = self._requested
            while self._done < ticket:
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                covered = self._requested  # every request made before this sync starts
                self._cond.release()
                try:
                    self._sync(self.path)
                    self.syncs += 1
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
                self._done = max(self._done, covered)


_GROUPS: dict[tuple[str, Callable[[str], None]], GroupSync] = {}
_GROUPS_LOCK = threading.Lock()


def group_sync(path: str, sync: Callable[[str], None]) -> None:
    """``sync(path)``, shared with the threads asking for the same at the same time."""
    key = (path, sync)
    group = _GROUPS.get(key)
    if group is None:
        with _GROUPS_LOCK:
            group = _GROUPS.setdefault(key, GroupSync(path, sync))
    group.sync()
