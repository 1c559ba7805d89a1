"""Word 1-2 grams of a document, the same list as scikit-learn's word analyzer, built faster.

``WordGrams().grams(doc)`` equals ``HashingVectorizer(ngram_range=(1, 2),
strip_accents="unicode").build_analyzer()(doc)``: the document lower-cased, accents stripped
(NFKD, then every combining character dropped), split by the vectorizer's token pattern, then
the tokens followed by each pair of neighbouring tokens joined by one space. Three steps differ
in how, not in what: the combining characters are dropped by one ``str.replace`` per distinct
combining character found (among the non-ASCII runs) instead of a Python loop over the
characters; an ASCII document is split by ``str.translate`` and ``str.split`` instead of
searched (:meth:`WordGrams.tokens`); and the pairs are joined by one ``map(" ".join, ...)``
instead of slicing.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable

from mailward.classifier import _native

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
#: scikit-learn's token pattern and the same tokens found faster: ``\b\w\w+\b`` matches
#: whole runs of two or more word characters, which is what ``\w\w++`` finds scanning left to
#: right (a match runs to the end of its run; a one-character run fails and is passed over),
#: without the two boundary tests at every character.
_SKLEARN_TOKEN = r"(?u)\b\w\w+\b"  # noqa: S105 (a pattern, not a secret)
#: The token pattern of the word grams: scikit-learn's default (``HashingVectorizer()
#: .token_pattern``; tests/classifier/test_classifier_fastpaths.py checks it is the installed
#: version's), written here so that a scan does not import scikit-learn.
TOKEN_PATTERN = _SKLEARN_TOKEN
_TOKEN = re.compile(r"\w\w++")
#: ASCII characters to what :meth:`WordGrams.tokens` makes of them: a word character
#: (``\w``: letters, digits, "_") lower-cased, any other a space.
_ASCII_WORDS = {
    point: (ord(chr(point).lower()) if re.fullmatch(r"\w", chr(point)) else ord(" "))
    for point in range(128)
}
#: The same without lower-casing: for a document already lower-cased and stripped of accents,
#: whose NFKD form may still hold upper-case letters ("\u210c" decomposes to "H").
_ASCII_WORD_RUNS = {
    point: (point if re.fullmatch(r"\w", chr(point)) else ord(" ")) for point in range(128)
}


def strip_accents(text: str) -> str:
    """scikit-learn's ``strip_accents_unicode``: ``text`` itself when ASCII, else its NFKD
    form without combining characters (those are never ASCII: only the non-ASCII runs are
    looked through for them)."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    if decomposed.isascii():
        return decomposed
    native = _native.NATIVE
    # each non-ASCII character once: by the compiled helper in one pass, else from its runs
    marks = (
        native.distinct_non_ascii(decomposed)
        if native is not None
        else set("".join(_NON_ASCII.findall(decomposed)))
    )
    for mark in marks:
        if unicodedata.combining(mark):
            decomposed = decomposed.replace(mark, "")
    return decomposed


class WordGrams:
    """The word 1-2 gram analyzer of the content model's word block."""

    def __init__(self, pattern: str = TOKEN_PATTERN) -> None:
        self._pattern = pattern
        self._token = _TOKEN if pattern == _SKLEARN_TOKEN else re.compile(pattern)

    @functools.cached_property
    def reference(self) -> Callable[[str], list[str]]:
        """scikit-learn's own analyzer: the reference the tests compare with."""
        from sklearn.feature_extraction.text import (  # noqa: PLC0415 (tests only)
            HashingVectorizer,
        )

        vectorizer = HashingVectorizer(
            ngram_range=(1, 2), strip_accents="unicode", token_pattern=self._pattern
        )
        analyzer: Callable[[str], list[str]] = vectorizer.build_analyzer()
        return analyzer

    @property
    def splits_ascii(self) -> bool:
        """Whether :meth:`tokens` splits an ASCII document (the standard token pattern): its
        tokens are then the runs of two or more ASCII word characters, lower-cased."""
        return self._token is _TOKEN

    def tokens(self, doc: str) -> list[str]:
        """The unigrams, in order: those of :meth:`grams`. An ASCII document (with the
        standard pattern) is split instead of searched: its characters lower-cased and every
        one that is not a word character made a space in one ``str.translate``, then split at
        the spaces, keeping the words of two or more characters; so is a document that is ASCII
        once lower-cased and stripped of its accents (case kept: the pattern keeps it)."""
        if self._token is not _TOKEN:
            found: list[str] = self._token.findall(strip_accents(doc.lower()))
            return found
        if doc.isascii():
            return [word for word in doc.translate(_ASCII_WORDS).split() if len(word) > 1]
        stripped = strip_accents(doc.lower())
        if stripped.isascii():  # accents were all its non-ASCII: split it the same way
            return [word for word in stripped.translate(_ASCII_WORD_RUNS).split() if len(word) > 1]
        tokens: list[str] = _TOKEN.findall(stripped)
        return tokens

    def grams(self, doc: str) -> list[str]:
        """Unigrams in order, then the bigrams in order (found by the token pattern)."""
        tokens: list[str] = self._token.findall(strip_accents(doc.lower()))
        return tokens + list(map(" ".join, itertools.pairwise(tokens)))
