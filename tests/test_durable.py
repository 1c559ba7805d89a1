"""Shared (group) fsyncs: every caller is covered by a sync that began after it asked."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mailward.durable import GroupSync, fsync_dir, group_sync


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
