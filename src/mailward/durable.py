"""Durable file writes: the bytes and the directory entry are on disk before we say so."""

from __future__ import annotations

import os
from pathlib import Path


def write_synced(path: Path, data: bytes, *, exclusive: bool = False, mode: int = 0o600) -> None:
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


def fsync_dir(path: Path) -> None:
    """fsync a directory, so that entries created or renamed in it survive a crash."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
