"""Word 1-2 grams of a document, the same list as scikit-learn's word analyzer, built faster.

``WordGrams().grams(doc)`` equals ``HashingVectorizer(ngram_range=(1, 2),
strip_accents="unicode").build_analyzer()(doc)``: the document lower-cased, accents stripped
(NFKD, then every combining character dropped), split by the vectorizer's token pattern, then
the tokens followed by each pair of neighbouring tokens joined by one space. Two steps differ
in how, not in what: the combining characters are dropped with one ``str.translate`` (each
code point asked of :func:`unicodedata.combining` once, then remembered) instead of a Python
loop over the characters, and the pairs are joined by one ``map(" ".join, ...)`` instead of
slicing.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

from sklearn.feature_extraction.text import HashingVectorizer

_REMEMBERED = 65_536
#: scikit-learn's token pattern and the same tokens found faster: ``\b\w\w+\b`` matches
#: whole runs of two or more word characters, which is what ``\w\w++`` finds scanning left to
#: right (a match runs to the end of its run; a one-character run fails and is passed over),
#: without the two boundary tests at every character.
_SKLEARN_TOKEN = r"(?u)\b\w\w+\b"  # noqa: S105 (a pattern, not a secret)
_TOKEN = re.compile(r"\w\w++")


class _DropCombining(dict[int, int | None]):
    """``str.translate`` table deleting every combining character: each code point is looked
    up with :func:`unicodedata.combining` the first time it is seen, then remembered (at most
    :data:`_REMEMBERED` of them: mail with many distinct characters does not grow it for ever)."""

    def __missing__(self, point: int) -> int | None:
        if len(self) >= _REMEMBERED:
            self.clear()
        kept = None if unicodedata.combining(chr(point)) else point
        self[point] = kept
        return kept


_DROP_COMBINING = _DropCombining()


def strip_accents(text: str) -> str:
    """scikit-learn's ``strip_accents_unicode``: ``text`` itself when ASCII, else its NFKD
    form without combining characters."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).translate(_DROP_COMBINING)


class WordGrams:
    """The word 1-2 gram analyzer of the content model's word block."""

    def __init__(self) -> None:
        vectorizer = HashingVectorizer(ngram_range=(1, 2), strip_accents="unicode")
        pattern = vectorizer.token_pattern
        self._token = _TOKEN if pattern == _SKLEARN_TOKEN else re.compile(pattern)
        #: scikit-learn's own analyzer: the reference the tests compare with
        self.reference = vectorizer.build_analyzer()

    def grams(self, doc: str) -> list[str]:
        """Unigrams in order, then the bigrams in order."""
        tokens: list[str] = self._token.findall(strip_accents(doc.lower()))
        return tokens + list(map(" ".join, itertools.pairwise(tokens)))
