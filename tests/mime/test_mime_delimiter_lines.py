"""Delimiter lines found without a per-message pattern: the same as the boundary pattern."""

from __future__ import annotations

import random
import re

import pytest

from mailward.mime._limits import count_parts, delimiter_lines


def _pattern_lines(raw: bytes, declared: set[bytes]) -> list[tuple[bytes, bool, int, int]]:
    """What the pattern built from the declared boundaries (longest first) matches."""
    names = b"|".join(re.escape(name) for name in sorted(declared, key=len, reverse=True))
    pattern = re.compile(rb"^--(" + names + rb")(--)?[ \t]*\r?$", re.MULTILINE)
    return [(m[1], m[2] is not None, m.start(), m.end()) for m in pattern.finditer(raw)]


CASES = [
    (b"--b\r\nx\r\n--b--\r\n", {b"b"}),
    (b"pre\n--b \t\r\n--b--  \n--bb\n--b-\n", {b"b"}),
    (b"--b \n--b --\n--b  --\n--b--\n", {b"b ", b"b"}),  # a boundary that ends in a blank
    (b"--x--\n--x----\n--x--y\n", {b"x--", b"x"}),  # a boundary that ends in "--"
    (b"--\n----\n-- \n---\n", {b""}),  # boundary=""
    (b"--a\rb\n--a\r\r\n--a\r", {b"a"}),  # a lone CR inside the line or doubled
    (b"x--a\n --a\n\n--a", {b"a"}),  # not at a line start; the last line without a newline
]


@pytest.mark.parametrize(("raw", "declared"), CASES)
def test_the_same_lines_as_the_pattern(raw: bytes, declared: set[bytes]) -> None:
    assert [tuple(d) for d in delimiter_lines(raw, declared)] == _pattern_lines(raw, declared)


def test_random_lines_agree_with_the_pattern() -> None:
    rng = random.Random(15)
    pieces = [b"a", b"b", b"-", b"--", b" ", b"\t", b"\r", b"\n", b"\r\n", b"x"]
    for _ in range(3000):
        declared = {
            b"".join(rng.choice([b"a", b"b", b"-", b" ", b"x"]) for _ in range(rng.randint(0, 3)))
            for _ in range(rng.randint(1, 3))
        }
        raw = b"".join(
            (b"--" + rng.choice(sorted(declared)) if rng.random() < 0.5 else b"")
            + b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 5)))
            for _ in range(rng.randint(1, 10))
        )
        assert [tuple(d) for d in delimiter_lines(raw, declared)] == _pattern_lines(raw, declared)


def test_a_long_run_of_blanks_is_cut_at_the_longest_boundary() -> None:
    raw = b"--b" + b" " * 200_000 + b"\n--b--\n"
    assert [(d.name, d.closing) for d in delimiter_lines(raw, {b"b"})] == [
        (b"b", False), (b"b", True),
    ]  # fmt: skip
    assert count_parts(raw, {b"b"}, 10) == 1
