"""Edit distances for look-alike domains: Damerau-Levenshtein (optimal string alignment) with an
early stop, a linear one-edit test, deletion neighbourhoods for the candidate index, keyboard
slips, and a short phrase naming the first difference.

Written here rather than taken from a library: the look-alike search needs the bounded early
stop and the deletion sets together, on short labels, with no native dependency.
"""

from __future__ import annotations

import functools
from difflib import SequenceMatcher


def deletions(word: str, depth: int) -> set[str]:
    """``word`` and every string left after deleting up to ``depth`` of its characters.

    Up to two deletions (all the look-alike index asks for), each pair of positions is
    deleted once: the second deletion is made at or after the first one's place in the
    shortened string (half the strings :func:`deletions_by_layers` builds for the same set).
    """
    if depth > 2:
        return deletions_by_layers(word, depth)
    out = {word}
    if depth >= 1:
        ones = [word[:i] + word[i + 1 :] for i in range(len(word))]
        out.update(ones)
        if depth == 2:
            out.update(w[:j] + w[j + 1 :] for i, w in enumerate(ones) for j in range(i, len(w)))
    return out


def deletions_by_layers(word: str, depth: int) -> set[str]:
    """:func:`deletions` the plain way: every character of every string of the last layer."""
    out = frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out = out | frontier
    return out


def damerau_levenshtein(a: str, b: str, bound: int | None = None) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, transpositions.

    With ``bound``, stops early and returns ``bound + 1`` once the distance must exceed it.
    """
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if bound is not None and min(cur) > bound and min(prev) > bound:
            return bound + 1
        prev2, prev = prev, cur
    return prev[-1]


def difference(seen: str, real: str) -> str:
    """A short phrase for the first difference: 'a "1" in place of "l"', 'an extra "s"'."""
    diff = [i for i, (x, y) in enumerate(zip(seen, real, strict=False)) if x != y]
    if len(seen) == len(real) and len(diff) == 2 and diff[1] == diff[0] + 1:
        at = diff[0]
        if seen[at : at + 2] == real[at : at + 2][::-1]:
            return f'"{real[at : at + 2]}" swapped to "{seen[at : at + 2]}"'
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, seen, real, autojunk=False).get_opcodes():
        if tag == "replace":
            return f'a "{seen[i1:i2]}" in place of "{real[j1:j2]}"'
        if tag == "insert":
            return f'"{real[j1:j2]}" left out'
        if tag == "delete":
            return f'an extra "{seen[i1:i2]}"'
    return ""


def one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one edit (linear time, no table)."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    a_rest, b_rest = a[start:], b[start:]
    if len(a_rest) == len(b_rest):
        swapped = len(a_rest) >= 2 and a_rest[0] == b_rest[1] and a_rest[1] == b_rest[0]
        return a_rest[1:] == b_rest[1:] or (swapped and a_rest[2:] == b_rest[2:])
    return a_rest[1:] == b_rest or a_rest == b_rest[1:]


def within(a: str, b: str, limit: int) -> int | None:
    """The distance between ``a`` and ``b`` if at most ``limit`` (cheap length test first)."""
    if limit <= 0 or abs(len(a) - len(b)) > limit:
        return None
    if limit == 1 and not one_edit(a, b):
        return None
    distance = damerau_levenshtein(a, b, limit)
    return distance if distance <= limit else None


_KEYBOARD = ("1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm")


@functools.cache
def keyboard_neighbours() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for row_index, row in enumerate(_KEYBOARD):
        for col, key in enumerate(row):
            near = out.setdefault(key, set())
            for other_row in _KEYBOARD[max(0, row_index - 1) : row_index + 2]:
                near.update(other_row[max(0, col - 1) : col + 2])
            near.discard(key)
    return {k: frozenset(v) for k, v in out.items()}


def is_typo(cand: str, real: str) -> bool:
    """A keystroke slip: a letter dropped, doubled or swapped, or a neighbouring key hit."""
    if len(cand) != len(real):
        return True
    diff = [i for i, (x, y) in enumerate(zip(cand, real, strict=True)) if x != y]
    if len(diff) != 1:
        return len(diff) == 2  # a transposition (distance 1 with two differing positions)
    return cand[diff[0]] in keyboard_neighbours().get(real[diff[0]], frozenset())
