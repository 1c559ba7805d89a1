"""Character n-grams of a document hashed in one vectorised pass (numpy), no n-gram strings.

The same columns as scikit-learn's ``HashingVectorizer(analyzer="char_wb", ngram_range=(lo,
hi))`` with ``alternate_sign=False``: the document lower-cased, runs of whitespace made one
space, each word padded with a space on both sides, every ``lo``..``hi``-character window of a
padded word (a padded word shorter than a size counts once, whole, at its own length), each
window's UTF-8 bytes hashed with signed 32-bit MurmurHash3 (seed 0), column ``abs(h) %
n_features``.

How: the padded words are laid side by side (``" w1  w2 "``); a window of that string is a
window of one padded word exactly when it holds no two spaces in a row, so the windows are all
the positions of that string minus those. Each window's bytes (at most 4 per character) are
gathered into a row of a byte matrix, and MurmurHash3 runs over all rows at once in uint32
arithmetic. :func:`hash_char_ngrams` returns the column of every window (duplicates included).
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

_WHITE_SPACES = re.compile(r"\s\s+")  # as scikit-learn's char_wb analyzer
_C1 = np.uint32(0xCC9E2D51)
_C2 = np.uint32(0x1B873593)
_M5 = np.uint32(5)
_N1 = np.uint32(0xE6546B64)
_F1 = np.uint32(0x85EBCA6B)
_F2 = np.uint32(0xC2B2AE35)

U32 = npt.NDArray[np.uint32]


def _rotl(x: U32, r: int) -> U32:
    out: U32 = (x << np.uint32(r)) | (x >> np.uint32(32 - r))
    return out


def _utf8_lengths(points: U32) -> npt.NDArray[np.int64]:
    out: npt.NDArray[np.int64] = (
        1 + (points >= 0x80) + (points >= 0x800) + (points >= 0x10000)
    ).astype(np.int64)
    return out


def hash_char_ngrams(doc: str, lo: int, hi: int, n_features: int) -> npt.NDArray[np.int64]:
    """The column of every char_wb window of ``doc`` (sizes ``lo``..``hi``), as scikit-learn
    hashes them. Raises UnicodeEncodeError where scikit-learn would (a lone surrogate)."""
    words = _WHITE_SPACES.sub(" ", doc.lower()).split()
    padded = " " + "  ".join(words) + " "
    data = padded.encode("utf-8")  # strict, as scikit-learn encodes each n-gram
    points = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32)
    n_chars = len(points)
    offsets = np.zeros(n_chars + 1, dtype=np.int64)
    np.cumsum(_utf8_lengths(points), out=offsets[1:])
    space = points == 32
    doubled = np.zeros(n_chars + 1, dtype=np.int64)  # doubled[i]: "  " starting at <= i - 2
    if n_chars > 1:
        np.cumsum(space[:-1] & space[1:], out=doubled[2:])
    starts: list[npt.NDArray[np.int64]] = []
    ends: list[npt.NDArray[np.int64]] = []
    for n in range(lo, hi + 1):
        if n_chars < n:
            break
        first = np.arange(n_chars - n + 1, dtype=np.int64)
        # "  " starting at any of first .. first+n-2 means the window spans two words
        clean = doubled[first + n] - doubled[first + 1] == 0
        first = first[clean]
        starts.append(offsets[first])
        ends.append(offsets[first + n])
    if not starts:
        return np.empty(0, dtype=np.int64)
    begin, stop = np.concatenate(starts), np.concatenate(ends)
    return _columns(data, begin, stop - begin, hi * 4, n_features)


def _columns(
    data: bytes,
    begin: npt.NDArray[np.int64],
    length: npt.NDArray[np.int64],
    width: int,
    n_features: int,
) -> npt.NDArray[np.int64]:
    """MurmurHash3 (x86, 32 bits, seed 0) of ``data[begin:begin+length]`` for every row."""
    width = (width + 3) // 4 * 4 + 4  # whole blocks, and room for a tail block
    buffer = np.zeros(len(data) + width, dtype=np.uint8)
    buffer[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    span = np.arange(width, dtype=np.int64)
    rows = buffer[begin[:, None] + span]
    rows[span[None, :] >= length[:, None]] = 0  # bytes past the window read as zero
    blocks = np.ascontiguousarray(rows).view("<u4").astype(np.uint32)
    n_blocks = length // 4
    h = np.zeros(len(begin), dtype=np.uint32)
    with np.errstate(over="ignore"):
        for j in range(blocks.shape[1] - 1):
            active = n_blocks > j
            if not active.any():
                break
            k = _rotl(blocks[:, j] * _C1, 15) * _C2
            mixed = _rotl(h ^ k, 13) * _M5 + _N1
            h = np.where(active, mixed, h)
        tail = blocks[np.arange(len(begin)), n_blocks]  # zero when the length is whole blocks
        h ^= _rotl(tail * _C1, 15) * _C2
        h ^= length.astype(np.uint32)
        h ^= h >> np.uint32(16)
        h *= _F1
        h ^= h >> np.uint32(13)
        h *= _F2
        h ^= h >> np.uint32(16)
    signed = h.astype(np.int64)
    magnitude = np.where(signed >= 2**31, 2**32 - signed, signed)  # abs() of the signed hash
    out: npt.NDArray[np.int64] = magnitude % n_features
    return out
