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
from itertools import compress
from operator import itemgetter
from typing import Any

import numpy as np
from datasketch import LeanMinHash, MinHash

_URL = re.compile(r"(?:https?://|hxxps?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
_NUMBER = re.compile(r"\d[\d.,:/-]*\d|\d")
_WORD = re.compile(r"\w+")
#: What every match of _URL contains (lower-case text: its IGNORECASE adds no other letter).
_URL_MARKS = re.compile(r"http|hxxp|www\.")
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
    # each pattern is skipped when the literal every match of it holds is absent (the same
    # text, without scanning it: most mail has no address in its text, much no link)
    if _URL_MARKS.search(text) is not None:
        text = _URL.sub(" url ", text)
    if "@" in text:
        text = _EMAIL.sub(" email ", text)
    text = _NUMBER.sub(" 0 ", text)
    words = []
    for token in _WORD.findall(text):
        if token.isalpha():  # no digit, no underscore (the tests check every code point)
            words.append("name" if token in names else token)
        elif any(c.isdigit() for c in token):
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
    return set(map(" ".join, zip(*(words[i:] for i in range(size)), strict=False)))


_SEED = 1
_SCHEME = "affine32"
_TEMPLATES: dict[int, MinHash] = {}
_EMPTY: dict[int, Any] = {}  # num_perm -> the hash values of an empty signature


def signature(normalised: str, num_perm: int = 64, shingle_words: int = 3) -> LeanMinHash:
    """The MinHash of the text's shingles (seeded: the same text always gives the same one).
    The permutations are made once per ``num_perm`` and shared."""
    return LeanMinHash(_minhash(normalised, num_perm, shingle_words))


def signature_bytes(normalised: str, num_perm: int = 64, shingle_words: int = 3) -> bytes:
    """``to_bytes(signature(...))`` without making the LeanMinHash (what a scan process
    sends)."""
    return _values_bytes(_minhash(normalised, num_perm, shingle_words).hashvalues)


def _minhash(normalised: str, num_perm: int, shingle_words: int) -> MinHash:
    template = _TEMPLATES.get(num_perm)
    if template is None:
        template = _TEMPLATES[num_perm] = MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME)
    mh = MinHash(num_perm=num_perm, seed=_SEED, permutations=template.permutations,
                 scheme=_SCHEME)
    mh.update_batch([s.encode() for s in shingles(normalised, shingle_words)])
    return mh


def to_bytes(mh: LeanMinHash) -> bytes:
    """A signature as stored (its hash values, little-endian uint32)."""
    return _values_bytes(mh.hashvalues)


def _values_bytes(values: Any) -> bytes:
    return bytes(np.asarray(values, dtype="<u4").tobytes())


def from_bytes(data: bytes) -> LeanMinHash:
    """A stored signature back (see :func:`to_bytes`)."""
    values = np.frombuffer(data, dtype="<u4")
    return LeanMinHash(seed=_SEED, hashvalues=values, scheme=_SCHEME)


def empty_hashvalues(num_perm: int) -> Any:
    """The hash values of the signature of an empty text (``num_perm`` of them)."""
    empty = _EMPTY.get(num_perm)
    if empty is None:
        empty = _EMPTY[num_perm] = np.asarray(MinHash(
            num_perm=num_perm, seed=_SEED, scheme=_SCHEME).hashvalues)
    return empty


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
    empty = empty_hashvalues(mine.shape[0])
    equal = np.count_nonzero(rows == mine, axis=1)
    blank = np.all(rows == empty, axis=1)
    size = float(mine.shape[0])
    return [0.0 if b else float(n) / size for n, b in zip(equal.tolist(), blank.tolist(),
                                                                 strict=True)]


class SignatureMatrix:
    """Signatures by key, kept as the rows of one array: :meth:`similarities` compares one
    signature with any of them by one gather of their rows, the same figures as
    :func:`similarities` without stacking the candidates' arrays for every message.

    Keys whose signatures hold the same values share one row (a campaign's members often
    have the same normalised text): a signature is compared with each distinct row of its
    candidates once, and each candidate gets its row's figure."""

    def __init__(self) -> None:
        self._values: Any = None  # rows of hash values, allocated on the first add
        self._blank: Any = np.zeros(0, dtype=bool)  # rows of an empty text's signature
        self._row: dict[str, int] = {}  # key -> its row
        self._by_values: dict[bytes, int] = {}  # a row's values (dtype and bytes) -> the row
        self._values_of: dict[int, bytes] = {}  # the reverse
        self._users: dict[int, int] = {}  # row -> keys on it
        self._free: list[int] = []
        self._made = 0  # rows used so far (free ones included)

    def __len__(self) -> int:
        return len(self._row)

    def add(self, key: str, sig: MinHash) -> None:
        """Keep ``key``'s signature (replacing an earlier one)."""
        values = np.asarray(sig.hashvalues)
        if self._values is None:
            self._values = np.empty((16, values.shape[0]), dtype=values.dtype)
            self._blank = np.zeros(16, dtype=bool)
        if values.shape != self._values.shape[1:]:
            raise ValueError("cannot keep MinHash signatures of different lengths together")
        wider = np.result_type(self._values.dtype, values.dtype)
        if wider != self._values.dtype:
            self._values = self._values.astype(wider)
        content = values.dtype.str.encode() + values.tobytes()
        row = self._by_values.get(content)
        old = self._row.get(key)
        if old is not None:
            if old == row:
                return
            self._release(old)
        if row is None:
            row = self._free.pop() if self._free else self._made
            if row >= self._values.shape[0]:
                grow = self._values.shape[0]
                self._values = np.concatenate([self._values, np.empty_like(self._values)])
                self._blank = np.concatenate([self._blank, np.zeros(grow, dtype=bool)])
            self._made = max(self._made, row + 1)
            self._values[row] = values
            self._blank[row] = bool(np.array_equal(values, empty_hashvalues(values.shape[0])))
            self._by_values[content] = row
            self._values_of[row] = content
            self._users[row] = 0
        self._users[row] += 1
        self._row[key] = row

    def remove(self, key: str) -> None:
        row = self._row.pop(key, None)
        if row is not None:
            self._release(row)

    def _release(self, row: int) -> None:
        """One key fewer on ``row``; the row is free when none is left."""
        self._users[row] -= 1
        if not self._users[row]:
            del self._users[row]
            del self._by_values[self._values_of.pop(row)]
            self._free.append(row)

    def similarities(self, sig: MinHash, keys: Sequence[str]) -> list[float]:
        """:func:`similarity` of ``sig`` with the signature of each of ``keys`` (kept here)."""
        if not keys:
            return []
        if is_blank(sig):
            return [0.0] * len(keys)
        rows = self._rows_of(keys)
        result: list[float] = self._scores(sig, np.array(rows, dtype=np.intp)).tolist()
        return result

    def similar(self, sig: MinHash, keys: Sequence[str], threshold: float) -> list[str]:
        """Those of ``keys`` (in their order) whose :meth:`similarities` with ``sig`` is at
        least ``threshold``: the same keys, each distinct row compared once."""
        if not keys:
            return []
        if is_blank(sig):
            return list(keys) if threshold <= 0.0 else []
        rows = self._rows_of(keys)
        # one row for all (a campaign's identical texts): no dict of them to make
        distinct = (rows[0],) if rows.count(rows[0]) == len(rows) else dict.fromkeys(rows)
        if len(distinct) == len(rows):  # a signature each: one figure per key
            scores = self._scores(sig, np.array(rows, dtype=np.intp))
            picked = np.flatnonzero(scores >= threshold).tolist()
            if len(picked) == len(keys):
                return list(keys)
            return [keys[i] for i in picked]
        if len(distinct) == 1:  # one signature, often this very one: all or none pass
            mine = np.asarray(sig.hashvalues)
            if self._by_values.get(mine.dtype.str.encode() + mine.tobytes()) == rows[0]:
                # equal values (not blank: ``sig`` is not): a similarity of exactly 1.0
                return list(keys) if threshold <= 1.0 else []
        passed = self._scores(sig, np.fromiter(distinct, np.intp, len(distinct))) >= threshold
        if passed.all():
            return list(keys)
        if not passed.any():
            return []
        kept = set(compress(distinct, passed.tolist()))
        return [key for key, row in zip(keys, rows, strict=True) if row in kept]

    def _rows_of(self, keys: Sequence[str]) -> tuple[int, ...]:
        found = itemgetter(*keys)(self._row)
        return found if len(keys) > 1 else (found,)

    def _scores(self, sig: MinHash, rows: Any) -> Any:
        """The similarities of a non-blank ``sig`` with the signatures of ``rows`` (an array
        of row numbers), as an array."""
        mine = np.asarray(sig.hashvalues)
        if mine.shape != self._values.shape[1:]:
            raise ValueError("cannot compare MinHash signatures of different lengths")
        equal = np.count_nonzero(self._values[rows] == mine, axis=1)
        scores = equal / float(mine.shape[0])
        scores[self._blank[rows]] = 0.0
        return scores


def is_blank(sig: MinHash) -> bool:
    """``sig.is_empty()`` (the signature of an empty text), without comparing every value
    when the first one already differs from an empty signature's (nearly every text)."""
    values = sig.hashvalues
    if (sig.scheme == _SCHEME and len(values)
            and values[0] != empty_hashvalues(len(values))[0]):
        return False
    return bool(sig.is_empty())


def similarity(a: MinHash, b: MinHash) -> float:
    """Estimated Jaccard similarity of two signatures (0 when either text was empty)."""
    if a.is_empty() or b.is_empty():
        return 0.0
    return float(a.jaccard(b))
