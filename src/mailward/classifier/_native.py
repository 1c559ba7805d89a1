"""The content classifier's optional compiled helper (``_cfeat.c``), when it was built.

``pip install`` builds ``mailward.classifier._cfeat`` where a C compiler and the Python headers
are at hand (setup.py declares it optional); :data:`NATIVE` then holds its functions, else
None, and every caller takes the Python/numpy path, which gives the same numbers. Why C at all
is said in ``_cfeat.c``'s header and in docs/performance.md (branch ``cfeat``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

#: ``ascii_row(doc, char_chars, meta, word_n, char_n, meta_n) -> (int32 columns, float32
#: values) as bytes``, or None for a text it does not handle (not ASCII, over-long)
AsciiRow = Callable[[str, int, list[str], int, int, int], tuple[bytes, bytes] | None]
#: ``token_blocks(tokens, char_words, meta, word_n, char_n, meta_n)``: the same from the word
#: unigrams, the lower-cased words of the char-gram text and the meta tokens (any str), or None
TokenBlocks = Callable[[list[str], list[str], list[str], int, int, int], tuple[bytes, bytes] | None]
#: ``unicode_row(word_text, char_text, meta, word_n, char_n, meta_n)``: the same from any text,
#: given its word-gram text (lower-cased, accents stripped) and char-gram text (lower-cased),
#: or None (too large, a surrogate in the char-gram text)
UnicodeRow = Callable[[str, str, list[str], int, int, int], tuple[bytes, bytes] | None]
#: ``zero_digits(text)``: ``text`` with every decimal digit (``\d``) made "0"
ZeroDigits = Callable[[str], str]
#: ``local_start(text, lo, hi)``: the smallest ``start >= lo`` with ``text[start:hi]`` all
#: characters of an address's local part (``[\w.+-]``)
LocalStart = Callable[[str, int, int], int]
#: ``distinct_non_ascii(text)``: each non-ASCII character of ``text`` once, in order
DistinctNonAscii = Callable[[str], str]
#: ``row_sums(coef_t, indices, values, out)``: out[c] = the float32 sum of
#: coef_t[indices[i], c] * values[i], added in the row's order
RowSums = Callable[
    [npt.NDArray[np.float32], npt.NDArray[np.int32], npt.NDArray[np.float32],
     npt.NDArray[np.float32]],
    None,
]  # fmt: skip


class Native(NamedTuple):
    """The compiled functions."""

    ascii_row: AsciiRow
    token_blocks: TokenBlocks
    row_sums: RowSums
    unicode_row: UnicodeRow
    zero_digits: ZeroDigits
    local_start: LocalStart
    distinct_non_ascii: DistinctNonAscii


def load() -> Native | None:
    """The compiled helper's functions, or None when it was not built (or fails to load)."""
    try:
        import mailward.classifier._cfeat as cfeat  # noqa: PLC0415 (optional, compiled)
    except ImportError:
        return None
    return Native(
        cfeat.ascii_row, cfeat.token_blocks, cfeat.row_sums, cfeat.unicode_row,
        cfeat.zero_digits, cfeat.local_start, cfeat.distinct_non_ascii,
    )


NATIVE = load()
