"""Char n-grams hashed in one numpy pass: the same columns as scikit-learn's char_wb hashing."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer

from mailward.classifier._charhash import hash_char_ngrams

N = 2**18
DOCS = [
    "", " ", "a", "ab", "a b", "Hello   World!\r\n\tagain",
    "Grüße aus Köln: Straße, ½ price — 中文 😀 now", "x\u2028y\u00a0z  ",
    "Verify your account at https://example.com/login?id=12345 within 24 hours",
]


def reference(doc: str) -> list[int]:
    vec = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), alternate_sign=False,
                            norm=None, n_features=N)
    row = vec.transform([doc])
    return sorted(int(c) for c, v in zip(row.indices, row.data, strict=True) for _ in range(int(v)))


@pytest.mark.parametrize("doc", DOCS)
def test_columns_are_scikit_learns(doc: str) -> None:
    assert sorted(hash_char_ngrams(doc, 3, 5, N).tolist()) == reference(doc)


def test_no_window_spans_two_words() -> None:
    # " a " and " b ", never "a  " or "  b"
    assert len(hash_char_ngrams("a b", 3, 5, N)) == 2
    assert len(hash_char_ngrams("ab", 3, 5, N)) == 3  # " ab", "ab ", " ab "


def test_a_lone_surrogate_fails_as_scikit_learn_does() -> None:
    with pytest.raises(UnicodeEncodeError):
        hash_char_ngrams("bad \udc80 text", 3, 5, N)
    assert np.asarray(hash_char_ngrams("", 3, 5, N)).size == 0
