"""Normalised text and MinHash signatures for campaign clustering.

Before hashing, the details a campaign rotates from one message to the next are taken out, so
the similarity is that of the lure itself: the text is lower-cased; URLs become ``url``,
e-mail addresses ``email``, tokens holding a digit (amounts, dates, reference numbers)
``num``, the recipient's name tokens (from the envelope recipients' local parts and the To
display names) ``name``; punctuation is dropped and whitespace collapsed. The signature is a
:class:`datasketch.MinHash` over word shingles (``[campaigns] shingle_words``) of that text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from datasketch import LeanMinHash, MinHash

_URL = re.compile(r"(?:https?://|hxxps?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
_NUMBER = re.compile(r"\d[\d.,:/-]*\d|\d")
_WORD = re.compile(r"\w+")
_NAME_SPLIT = re.compile(r"[^a-z]+")
#: Most characters of a message's text that are hashed (a lure fits in far less).
MAX_TEXT = 20_000


def name_tokens(recipients: Iterable[str], display_names: Iterable[str] = ()) -> frozenset[str]:
    """Lower-case name tokens of the recipients (``jane.doe@x`` -> jane, doe), 2+ letters."""
    tokens: set[str] = set()
    for rcpt in recipients:
        tokens.update(_NAME_SPLIT.split(rcpt.rpartition("@")[0].lower()))
    for name in display_names:
        tokens.update(_NAME_SPLIT.split(name.lower()))
    return frozenset(t for t in tokens if len(t) >= 2)


def normalise(text: str, names: frozenset[str] = frozenset()) -> str:
    """The text with its rotating details replaced (see the module docstring)."""
    text = text[:MAX_TEXT].lower()
    text = _URL.sub(" url ", text)
    text = _EMAIL.sub(" email ", text)
    text = _NUMBER.sub(" 0 ", text)
    words = []
    for token in _WORD.findall(text):
        if any(c.isdigit() for c in token):
            words.append("num")
        elif token in names:
            words.append("name")
        elif token.strip("_"):
            words.append(token)
    return " ".join(words)


def shingles(normalised: str, size: int = 3) -> set[str]:
    """Word ``size``-grams of normalised text (the words themselves when there are fewer)."""
    words = normalised.split()
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}


_SEED = 1
_SCHEME = "affine32"
_TEMPLATES: dict[int, MinHash] = {}
_EMPTY: dict[int, Any] = {}  # num_perm -> the hash values of an empty signature


def signature(normalised: str, num_perm: int = 64, shingle_words: int = 3) -> LeanMinHash:
    """The MinHash of the text's shingles (seeded: the same text always gives the same one).
    The permutations are made once per ``num_perm`` and shared."""
    template = _TEMPLATES.get(num_perm)
    if template is None:
        template = _TEMPLATES[num_perm] = MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME)
    mh = MinHash(num_perm=num_perm, seed=_SEED, permutations=template.permutations,
                 scheme=_SCHEME)
    mh.update_batch([s.encode() for s in shingles(normalised, shingle_words)])
    return LeanMinHash(mh)


def to_bytes(mh: LeanMinHash) -> bytes:
    """A signature as stored (its hash values, little-endian uint32)."""
    return bytes(np.asarray(mh.hashvalues, dtype="<u4").tobytes())


def from_bytes(data: bytes) -> LeanMinHash:
    """A stored signature back (see :func:`to_bytes`)."""
    values = np.frombuffer(data, dtype="<u4")
    return LeanMinHash(seed=_SEED, hashvalues=values, scheme=_SCHEME)


def similarities(sig: MinHash, others: Sequence[MinHash]) -> list[float]:
    """:func:`similarity` of ``sig`` with each of ``others``, in one array operation (the same
    figures; a cluster's candidates are compared in one go instead of one call each)."""
    if not others:
        return []
    if sig.is_empty():
        return [0.0] * len(others)
    mine = np.asarray(sig.hashvalues)
    rows = np.stack([np.asarray(o.hashvalues) for o in others])
    if rows.shape[1] != mine.shape[0]:
        raise ValueError("cannot compare MinHash signatures of different lengths")
    empty = _EMPTY.get(mine.shape[0])
    if empty is None:
        empty = _EMPTY[mine.shape[0]] = np.asarray(MinHash(
            num_perm=mine.shape[0], seed=_SEED, scheme=_SCHEME).hashvalues)
    equal = np.count_nonzero(rows == mine, axis=1)
    blank = np.all(rows == empty, axis=1)
    size = float(mine.shape[0])
    return [0.0 if b else float(n) / size for n, b in zip(equal.tolist(), blank.tolist(),
                                                                 strict=True)]


def similarity(a: MinHash, b: MinHash) -> float:
    """Estimated Jaccard similarity of two signatures (0 when either text was empty)."""
    if a.is_empty() or b.is_empty():
        return 0.0
    return float(a.jaccard(b))
