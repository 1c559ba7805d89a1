"""The hashed part of one message's row, in few calls: the three blocks counted in one sort.

:func:`hashed_blocks` gives exactly what the general path (``Featurizer.reference_row``:
scikit-learn's analyzers, each block hashed, counted and l2-normalised on its own) gives for
the word, char and meta blocks, for less:

- the word 1-2 grams are hashed in one call of scikit-learn's compiled hashing loop, the
  bigrams made on the way (no list of all grams); the link/attachment tokens in another;
- the char_wb 3-5 grams of an ASCII text in one numpy pass over its start positions
  (:func:`mailward.classifier._charhash.hash_ascii_windows`);
- the columns of the three blocks, which do not overlap, are put side by side and counted in
  one sort, which keeps the blocks in column order; each block is then l2-normalised by its
  own counts, with the same float64 operations as the general path's ``_normalised``.

:meth:`BlockHasher.text_blocks` does all of that in one call of the compiled helper
(``_cfeat.c``, :mod:`mailward.classifier._native`) for an ASCII text when it was built, and
:meth:`BlockHasher.hashed_blocks` from the tokens of any text: the same numbers, without a
Python string per gram or a numpy call per step.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain, pairwise, repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from mailward.classifier._charhash import hash_word_windows
from mailward.classifier._native import Native
from mailward.classifier._wordgrams import WordGrams, strip_accents

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float32]
#: ``transform(raw_X, n_features, dtype, alternate_sign, seed) -> (indices, indptr, values)``,
#: scikit-learn's compiled hashing loop
HashLoop = Callable[..., tuple[Any, Any, Any]]


def _arrays(done: tuple[bytes, bytes]) -> tuple[IntArray, FloatArray]:
    """The compiled helper's (columns, values) bytes as arrays (read-only views)."""
    columns, values = done
    return np.frombuffer(columns, dtype=np.int32), np.frombuffer(values, dtype=np.float32)


class BlockHasher:
    """Hashes and counts the word, char and meta blocks of a spec (sizes in column order);
    ``native`` is the compiled helper, or None."""

    def __init__(
        self, sizes: tuple[int, int, int], hash_loop: HashLoop, native: Native | None = None
    ) -> None:
        self.word_features, self.char_features, self.meta_features = sizes
        self._sizes = sizes
        self._native = native
        self._char_at = self.word_features
        self._meta_at = self.word_features + self.char_features
        self._hash_loop = hash_loop
        self._edges = np.array([self._char_at, self._meta_at], dtype=np.int32)

    def _hashed(self, tokens: Any, n_features: int) -> IntArray:
        indices = self._hash_loop([zip(tokens, repeat(1))], n_features, np.float32, False, 0)[0]
        return np.asarray(indices, dtype=np.int32)

    def native_row(
        self, doc: str, char_chars: int, meta: list[str], grams: WordGrams
    ) -> tuple[bytes, bytes] | None:
        """:meth:`text_blocks` as the compiled helper's (int32 columns, float32 values) bytes,
        when it was built, ``grams`` splits text as it does (the standard token pattern) and it
        takes ``doc``: an ASCII one whole (``ascii_row``), any other as its word-gram text
        (lower-cased, accents stripped: what ``grams.tokens`` splits) and its char-gram text
        (``unicode_row``); else None."""
        native = self._native
        if native is None or not grams.splits_ascii:
            return None
        if doc.isascii():
            return native.ascii_row(doc, char_chars, meta, *self._sizes)
        return native.unicode_row(
            strip_accents(doc.lower()), doc[:char_chars].lower(), meta, *self._sizes
        )

    def text_blocks(
        self, doc: str, char_chars: int, meta: list[str], grams: WordGrams
    ) -> tuple[IntArray, FloatArray]:
        """:meth:`hashed_blocks` of the document ``doc`` (``body_text``): word grams of it all
        (``grams``), char grams of its first ``char_chars`` characters, and the ``meta`` tokens.
        In one call of the compiled helper when it was built, ``doc`` is ASCII and ``grams``
        splits ASCII text as the helper does; else here."""
        done = self.native_row(doc, char_chars, meta, grams)
        if done is not None:
            return _arrays(done)
        return self.token_row(doc, char_chars, meta, grams)

    def token_row(
        self, doc: str, char_chars: int, meta: list[str], grams: WordGrams
    ) -> tuple[IntArray, FloatArray]:
        """:meth:`text_blocks` from the tokens of ``doc`` (any text): :meth:`hashed_blocks`."""
        return self.hashed_blocks(grams.tokens(doc), doc[:char_chars].lower().split(), meta)

    def hashed_blocks(
        self, tokens: list[str], char_words: list[str], meta: list[str]
    ) -> tuple[IntArray, FloatArray]:
        """(sorted columns, values) of the word, char and meta blocks: ``tokens`` are the word
        unigrams (bigrams are made here), ``char_words`` the char-gram text lower-cased and
        split at whitespace, ``meta`` the link/attachment tokens. Raises UnicodeEncodeError on
        a lone surrogate, as scikit-learn's hashing does. In one call of the compiled helper
        when it was built."""
        if self._native is not None:
            done = self._native.token_blocks(tokens, char_words, meta, *self._sizes)
            if done is not None:
                return _arrays(done)
        return self.numpy_blocks(tokens, char_words, meta)

    def numpy_blocks(
        self, tokens: list[str], char_words: list[str], meta: list[str]
    ) -> tuple[IntArray, FloatArray]:
        """:meth:`hashed_blocks` with scikit-learn's hashing loop and numpy."""
        grams = chain(tokens, map(" ".join, pairwise(tokens)))
        columns = np.concatenate((
            self._hashed(grams, self.word_features),
            hash_word_windows(char_words, self.char_features) + np.int32(self._char_at),
            self._hashed(meta, self.meta_features) + np.int32(self._meta_at),
        ))  # fmt: skip
        return self._counted(columns)

    def _counted(self, columns: IntArray) -> tuple[IntArray, FloatArray]:
        """(distinct columns, count / its block's l2 norm of counts), as the general path's
        ``_normalised`` gives for each block: the same float64 numbers (whole counts and their
        squares add up exactly in any order; square root and division are correctly rounded)."""
        if not len(columns):
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)
        ordered = np.sort(columns)
        new = np.empty(len(ordered), dtype=bool)
        new[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
        first = np.flatnonzero(new)
        unique: IntArray = ordered[first]
        counts = np.empty(len(first), dtype=np.float64)
        np.subtract(first[1:], first[:-1], out=counts[:-1])
        counts[-1] = len(ordered) - first[-1]
        block = np.searchsorted(self._edges, unique, side="right")
        norms = np.sqrt(np.bincount(block, weights=counts * counts, minlength=3))
        values: FloatArray = (counts / norms[block]).astype(np.float32)
        return unique, values
