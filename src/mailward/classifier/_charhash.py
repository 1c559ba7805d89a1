"""Character n-grams of a document hashed in one vectorised pass (numpy), no n-gram strings.

The same columns as scikit-learn's ``HashingVectorizer(analyzer="char_wb", ngram_range=(lo,
hi))`` with ``alternate_sign=False``: the document lower-cased, runs of whitespace made one
space, each word padded with a space on both sides, every ``lo``..``hi``-character window of a
padded word (a padded word shorter than a size counts once, whole, at its own length), each
window's UTF-8 bytes hashed with signed 32-bit MurmurHash3 (seed 0), column ``abs(h) %
n_features``.

How: the padded words are laid side by side (``" w1  w2 "``); a window of that string is a
window of one padded word exactly when it holds no two spaces in a row, so the windows are all
the positions of that string minus those. MurmurHash3 then runs over all windows at once in
uint32 arithmetic: the little-endian 32-bit word starting at every byte of the text is read
once (an unaligned strided view, zeros past the end), a window's j-th block is the word at
its start plus 4j, and its tail is the word after its last whole block masked to the bytes
left. :func:`hash_char_ngrams` returns the column of every window (duplicates included).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_C1 = np.uint32(0xCC9E2D51)
_C2 = np.uint32(0x1B873593)
_M5 = np.uint32(5)
_N1 = np.uint32(0xE6546B64)
_F1 = np.uint32(0x85EBCA6B)
_F2 = np.uint32(0xC2B2AE35)
#: A tail of 0..3 bytes: the bits of the 32-bit word that belong to it.
_TAIL_MASK = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF], dtype=np.uint32)

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]


def _rotl(x: U32, r: int) -> U32:
    out: U32 = (x << np.uint32(r)) | (x >> np.uint32(32 - r))
    return out


def _block(k: U32) -> U32:
    """MurmurHash3's scrambling of one 4-byte block (or tail) before it enters the state."""
    return _rotl(k * _C1, 15) * _C2


def _words_at(data: bytes, reach: int) -> U32:
    """The little-endian 32-bit word starting at each byte of ``data`` and ``reach`` bytes past
    its end (bytes past the end read as zero)."""
    buffer = data + bytes(reach + 4)
    view: U32 = np.ndarray((len(data) + reach,), dtype="<u4", buffer=buffer, strides=(1,))
    return view.astype(np.uint32)


def hash_char_ngrams(doc: str, lo: int, hi: int, n_features: int) -> I32:
    """The column of every char_wb window of ``doc`` (sizes ``lo``..``hi``), as scikit-learn
    hashes them. Raises UnicodeEncodeError where scikit-learn would (a lone surrogate)."""
    # str.split() splits at every character scikit-learn's \s\s+ collapse matches, so the
    # collapse itself changes no word
    return _hash_words(doc.lower().split(), lo, hi, n_features)


def hash_word_windows(words: list[str], n_features: int) -> I32:
    """:func:`hash_char_ngrams` (sizes 3..5) of a document already lower-cased and split
    (``doc.lower().split()``): scikit-learn pads each word on its own (``" w "``) and takes
    the windows of each; :func:`hash_ascii_windows` when all is ASCII."""
    padded = " " + "  ".join(words) + " "
    if padded.isascii():
        return hash_ascii_windows(padded.encode("ascii"), n_features)
    return _hash_words(words, 3, 5, n_features)


def _hash_words(words: list[str], lo: int, hi: int, n_features: int) -> I32:
    """The column of every window of the padded ``words`` (``" w1  w2 "``)."""
    padded = " " + "  ".join(words) + " "
    data = padded.encode("utf-8")  # strict, as scikit-learn encodes each n-gram
    n_chars = len(padded)
    offsets: I64 | None = None
    if len(data) == n_chars:  # ASCII: a character's byte offset is its index
        space = np.frombuffer(data, dtype=np.uint8) == 32
    else:
        points = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32)
        space = points == 32
        offsets = np.zeros(n_chars + 1, dtype=np.int64)
        sizes = 1 + (points >= 0x80) + (points >= 0x800) + (points >= 0x10000)
        np.cumsum(sizes, out=offsets[1:])
    doubled = np.zeros(n_chars + 1, dtype=np.int64)  # doubled[i]: "  " starting at <= i - 2
    if n_chars > 1:
        np.cumsum(space[:-1] & space[1:], out=doubled[2:])
    starts: list[I64] = []
    ends: list[I64] = []
    for n in range(lo, hi + 1):
        if n_chars < n:
            break
        first = np.arange(n_chars - n + 1, dtype=np.int64)
        # "  " starting at any of first .. first+n-2 means the window spans two words
        first = first[doubled[first + n] - doubled[first + 1] == 0]
        if offsets is None:
            starts.append(first)
            ends.append(first + n)
        else:
            starts.append(offsets[first])
            ends.append(offsets[first + n])
    if not starts:
        return np.empty(0, dtype=np.int32)
    begin = np.concatenate(starts)
    return _columns(data, begin, np.concatenate(ends) - begin, hi * 4, n_features)


def _columns(data: bytes, begin: I64, length: I64, width: int, n_features: int) -> I32:
    """MurmurHash3 (x86, 32 bits, seed 0) of ``data[begin:begin+length]`` for every row
    (``length`` at most ``width``), as its column."""
    words = _words_at(data, width)
    n_blocks = length >> 2
    h = np.zeros(len(begin), dtype=np.uint32)
    with np.errstate(over="ignore"):
        for j in range(int(n_blocks.max())):
            mixed = _rotl(h ^ _block(words[begin + 4 * j]), 13) * _M5 + _N1
            h = np.where(n_blocks > j, mixed, h)
        h ^= _block(words[begin + 4 * n_blocks] & _TAIL_MASK[length & 3])
        h ^= length.astype(np.uint32)
        h ^= h >> np.uint32(16)
        h *= _F1
        h ^= h >> np.uint32(13)
        h *= _F2
        h ^= h >> np.uint32(16)
    # abs() of the signed hash, exact in uint32 (abs(-2**31) is 2**31)
    magnitude = np.where(h >= np.uint32(2**31), -h, h)
    out: I32 = (magnitude % np.uint32(n_features)).astype(np.int32)
    return out


def hash_ascii_windows(data: bytes, n_features: int) -> I32:
    """:func:`hash_char_ngrams` for sizes 3..5 of an ASCII document already padded (``" w1  w2
    "``, as ``data``), in fewer numpy passes: a window of at most 5 bytes is at most one
    whole block and a tail, so the three sizes are hashed at every start position at once
    (the 4- and 5-byte windows share their first block), then the windows that lie inside one
    padded word are kept."""
    size = len(data)
    if size < 3:
        return np.empty(0, dtype=np.int32)
    starts = size - 2  # positions where a 3-byte window fits
    padded = data + bytes(8)
    view: U32 = np.ndarray((starts,), dtype="<u4", buffer=padded, strides=(1,))
    raw = np.frombuffer(padded, dtype=np.uint8)
    keys = np.empty((3, starts), dtype=np.uint32)
    np.bitwise_and(view, np.uint32(0xFFFFFF), out=keys[0])  # 3 bytes: all tail
    keys[1] = view  # 4 and 5 bytes: this first block
    keys[2] = raw[4 : 4 + starts]  # 5 bytes: a 1-byte tail
    with np.errstate(over="ignore"):
        keys *= _C1
        keys = (keys << np.uint32(15)) | (keys >> np.uint32(17))
        keys *= _C2
        first = (keys[1] << np.uint32(13)) | (keys[1] >> np.uint32(19))
        first *= _M5
        first += _N1
        h = np.empty((3, starts), dtype=np.uint32)
        np.bitwise_xor(keys[0], np.uint32(3), out=h[0])
        np.bitwise_xor(first, np.uint32(4), out=h[1])
        np.bitwise_xor(first, keys[2], out=h[2])
        h[2] ^= np.uint32(5)
        h ^= h >> np.uint32(16)
        h *= _F1
        h ^= h >> np.uint32(13)
        h *= _F2
        h ^= h >> np.uint32(16)
    # doubled[q]: "  " starts at q, or q is past the last pair a window may hold
    space = raw[:size] == 32
    doubled = np.ones(size + 1, dtype=bool)
    np.logical_and(space[:-1], space[1:], out=doubled[: size - 1])
    # a window of n bytes at p spans two words when "  " starts at any of p .. p+n-2
    spans = np.empty((3, starts), dtype=bool)
    np.logical_or(doubled[:starts], doubled[1 : starts + 1], out=spans[0])
    np.logical_or(spans[0], doubled[2 : starts + 2], out=spans[1])
    np.logical_or(spans[1], doubled[3 : starts + 3], out=spans[2])
    kept = h[~spans]
    magnitude = np.where(kept >= np.uint32(2**31), -kept, kept)
    out: I32 = (magnitude % np.uint32(n_features)).astype(np.int32)
    return out
