"""Shared (group) fsyncs: every caller is covered by a sync that began after it asked."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mailward import durable
from mailward.durable import GroupSync, fsync_dir, group_sync, read_file


def test_concurrent_callers_share_syncs() -> None:
    started = threading.Event()
    release = threading.Event()
    calls: list[str] = []

    def slow_sync(path: str) -> None:
        calls.append(path)
        started.set()
        release.wait(10)

    group = GroupSync("p", slow_sync)
    with ThreadPoolExecutor(max_workers=9) as pool:
        first = pool.submit(group.sync)
        assert started.wait(10)
        rest = [pool.submit(group.sync) for _ in range(8)]  # they ask while the first runs
        release.set()
        for f in [first, *rest]:
            f.result(10)
    # The first sync cannot cover requests made after it began: one more covers all 8.
    assert group.syncs == 2
    assert calls == ["p", "p"]


def test_one_caller_alone_gets_its_own_sync() -> None:
    group = GroupSync("p", lambda path: None)
    group.sync()
    group.sync()
    assert group.syncs == 2


def test_a_failed_sync_raises_and_the_next_caller_syncs_again() -> None:
    outcomes = iter([OSError("disk"), None])

    def flaky(path: str) -> None:
        err = next(outcomes)
        if err is not None:
            raise err

    group = GroupSync("p", flaky)
    with pytest.raises(OSError, match="disk"):
        group.sync()
    group.sync()
    assert group.syncs == 1


def test_fsync_dir_and_group_sync_on_real_paths(tmp_path: Path) -> None:
    fsync_dir(tmp_path)
    seen: list[str] = []
    group_sync(str(tmp_path), seen.append)
    assert seen == [str(tmp_path)]
    with pytest.raises(FileNotFoundError):
        fsync_dir(tmp_path / "missing")


def test_read_file_gives_the_bytes_without_touching_the_access_time(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b'{"attempts": 1}')
    os.utime(path, ns=(1_000_000_000, 2_000_000_000))  # read before written: relatime updates
    assert read_file(path) == b'{"attempts": 1}'
    if durable._NOATIME:
        assert path.stat().st_atime_ns == 1_000_000_000
    big = tmp_path / "big"
    big.write_bytes(bytes(range(256)) * 1000)
    assert read_file(big) == big.read_bytes()


def test_read_file_falls_back_where_noatime_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """O_NOATIME is refused on another user's file (EPERM): it is opened the usual way."""
    path = tmp_path / "theirs"
    path.write_bytes(b"bytes")
    monkeypatch.setattr(durable, "_NOATIME", 0o1000000)
    opened: list[int] = []
    real_open = os.open

    def open_(file: Any, flags: int, *args: Any) -> int:
        opened.append(flags)
        if flags & 0o1000000:
            raise PermissionError(1, "Operation not permitted")
        return real_open(file, flags, *args)

    monkeypatch.setattr(durable.os, "open", open_)
    assert read_file(path) == b"bytes"
    assert [bool(f & 0o1000000) for f in opened] == [True, False]
