"""The C helper for a message's lines that start with "--" and its bare CRs
(``mailward.mime._rawlines``) gives what the patterns it stands in for give."""

from __future__ import annotations

import random

import pytest
from test_mime_rawscan_paths import MESSAGES, _mutations

from mailward.mime import _rawscan
from mailward.mime._rawscan import RawScan, _dash_lines, _dash_lines_by_find

_rawlines = pytest.importorskip("mailward.mime._rawlines")

EDGES = [
    b"", b"-", b"--", b"\n--", b"--\n", b"\r", b"\r\n", b"\n\r", b"a\rb", b"a\r\n--b\r",
    b"--x\r\n--y\r--z\n--", b"\r\r\n", b"x\n\n--\n-\n--a\r\n", b"---\n \n--\r", b"\n" * 5,
    b"--a--\r\nbody\r\n--a--", b"a\n--b\n--c", b"\x00--\n--\x00\r\x00",
]  # fmt: skip


def _by_patterns(raw: bytes) -> tuple[list[tuple[int, int]], bool]:
    return _dash_lines(raw), b"\r" in raw and _rawscan._BARE_CR.search(raw) is not None


@pytest.mark.parametrize("raw", EDGES)
def test_edges_as_the_patterns(raw: bytes) -> None:
    assert _rawlines.dash_lines_and_bare_cr(raw) == _by_patterns(raw)
    assert _dash_lines_by_find(raw) == _dash_lines(raw)


def test_messages_mutations_and_random_bytes_as_the_patterns() -> None:
    rng = random.Random(11)
    randoms = [
        bytes(rng.choice(b"-\r\nab ") for _ in range(rng.randint(0, 40))) for _ in range(5000)
    ]
    for raw in [*MESSAGES, *_mutations(300), *randoms]:
        assert _rawlines.dash_lines_and_bare_cr(raw) == _by_patterns(raw), raw


def test_raw_scan_takes_both_facts_from_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []

    def counted(raw: bytes) -> tuple[list[tuple[int, int]], bool]:
        calls.append(raw)
        return _rawlines.dash_lines_and_bare_cr(raw)

    monkeypatch.setattr(_rawscan, "_ONE_PASS", counted)
    raw = b"a: b\r\n\r\n--x\rz\r\n--y"
    scan = RawScan(raw)
    assert scan.bare_cr is True
    assert scan.dash_lines == [(8, 14), (15, 18)]
    assert len(calls) == 1
    monkeypatch.setattr(_rawscan, "_ONE_PASS", None)  # the Python way gives the same
    again = RawScan(raw)
    assert (again.dash_lines, again.bare_cr) == (scan.dash_lines, scan.bare_cr)
