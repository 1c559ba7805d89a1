"""Archive bombs end at a limit, fast and in little memory, and say which limit they hit.

Each bomb is generated at run time (a 1 GiB zero stream deflates to about 1 MiB, built from
one repeated block); time is measured around expand() and peak Python memory with tracemalloc.
Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator

import pytest
from helpers_archives import (
    MB,
    build,
    gzip_of_zeros,
    nested_zips,
    pe_bytes,
    zip_overlap_bomb,
    zipped,
)

from mailward.attachments import ArchiveLimits, ExpansionResult, expand

GIB = 1024 * MB
DEFAULT = ArchiveLimits()
MARGIN = 1.5  # seconds allowed beyond the time limit on a loaded machine
PEAK_LIMIT = 150 * MB


@pytest.fixture(scope="module")
def gzip_bomb() -> Iterator[bytes]:
    yield gzip_of_zeros(GIB)


@pytest.fixture(scope="module")
def overlap_bomb() -> Iterator[bytes]:
    yield zip_overlap_bomb(GIB, 10)  # ten entries sharing one 1 GiB stream: 10 GiB from 1 MiB


def measured(data: bytes, name: str, limits: ArchiveLimits = DEFAULT) -> ExpansionResult:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = expand(data, name, limits)
    finally:
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(
        f"\n{name}: {len(data) / MB:.2f} MiB in, limit {result.limit_hit}, "
        f"{result.bytes_read / MB:.1f} MiB read, {elapsed:.3f} s, peak {peak / MB:.1f} MiB"
    )
    assert elapsed < limits.max_seconds + MARGIN
    assert peak < PEAK_LIMIT
    return result


def test_gzip_of_one_gib_of_zeros_stops_at_a_limit(gzip_bomb: bytes) -> None:
    assert len(gzip_bomb) < 2 * MB
    result = measured(gzip_bomb, "zeros.gz")
    assert result.limit_hit == "max_member_bytes"
    assert result.bytes_read <= DEFAULT.max_member_bytes


def test_gzip_bomb_stops_on_total_bytes_when_members_may_be_big(gzip_bomb: bytes) -> None:
    limits = ArchiveLimits(max_member_bytes=2 * GIB, max_ratio=10_000)
    result = measured(gzip_bomb, "zeros.gz", limits)
    assert result.limit_hit == "max_total_bytes"


def test_gzip_bomb_stops_on_ratio(gzip_bomb: bytes) -> None:
    limits = ArchiveLimits(max_member_bytes=2 * GIB, max_total_bytes=2 * GIB)
    result = measured(gzip_bomb, "zeros.gz", limits)
    assert result.limit_hit == "max_ratio"
    assert result.bytes_read <= 101 * len(gzip_bomb)


def test_gzip_bomb_stops_on_time(gzip_bomb: bytes) -> None:
    limits = ArchiveLimits(max_member_bytes=2 * GIB, max_total_bytes=2 * GIB, max_ratio=1e6,
                           max_seconds=0.05)  # fmt: skip
    result = measured(gzip_bomb, "zeros.gz", limits)
    assert result.limit_hit == "max_seconds"


def test_overlapping_zip_entries_stop_at_a_limit(overlap_bomb: bytes) -> None:
    result = measured(overlap_bomb, "overlap.zip")
    assert result.limit_hit == "max_member_bytes"


def test_small_overlapping_zip_stops_on_ratio() -> None:
    # 20 MiB per entry passes the member limit; ten of them from 20 KiB cross the ratio
    result = measured(zip_overlap_bomb(20 * MB, 10), "overlap.zip")
    assert result.limit_hit == "max_ratio"


def test_twenty_nested_zips_stop_at_the_depth_limit() -> None:
    bomb = nested_zips(20, ("deep.exe", pe_bytes()))
    result = measured(bomb, "nest.zip")
    assert result.limit_hit == "max_depth"
    assert max(m.depth for m in result.members) == DEFAULT.max_depth
    assert all(m.name != "deep.exe" for m in result.members)


def test_nesting_within_the_depth_limit_is_read_to_the_end() -> None:
    result = expand(nested_zips(4, ("deep.exe", pe_bytes())), "nest.zip")
    assert result.limit_hit is None
    assert result.members[-1].display == (
        "nest.zip > level1.zip > level2.zip > level3.zip > deep.exe"
    )


def test_too_many_entries_stop_at_the_entry_limit() -> None:
    many = build("zip", [(f"f{i}.txt", b"x") for i in range(60)])
    result = expand(many, "many.zip", ArchiveLimits(max_entries=50))
    assert result.limit_hit == "max_entries"
    assert len(result.members) == 50  # the 51st entry header crossed the limit
    assert result.is_archive
    assert expand(many, "many.zip", ArchiveLimits(max_entries=60)).limit_hit is None


def test_small_repetitive_file_is_under_the_ratio_floor() -> None:
    log = b"2024-01-01 INFO all good\n" * 100_000  # 2.4 MiB from a few KiB: ratio > 100
    result = expand(zipped(("app.log", log)), "logs.zip")
    assert result.limit_hit is None
    assert result.members[0].size == len(log)


def test_members_read_before_the_bomb_are_kept() -> None:
    bomb = zipped(("first.exe", pe_bytes()), ("zeros.bin", bytes(8 * MB)))
    result = expand(bomb, "mixed.zip", ArchiveLimits(max_member_bytes=4 * MB, max_ratio=1e6))
    assert result.limit_hit == "max_member_bytes"
    assert [m.name for m in result.members] == ["first.exe"]
