# The compiled helper's functions (src/mailward/classifier/_cfeat.c); see _native.py.
import numpy as np
import numpy.typing as npt

def ascii_row(
    doc: str, char_chars: int, meta: list[str], word_n: int, char_n: int, meta_n: int, /
) -> tuple[bytes, bytes] | None: ...
def token_blocks(
    tokens: list[str],
    char_words: list[str],
    meta: list[str],
    word_n: int,
    char_n: int,
    meta_n: int,
    /,
) -> tuple[bytes, bytes] | None: ...
def row_sums(
    coef_t: npt.NDArray[np.float32],
    indices: npt.NDArray[np.int32],
    values: npt.NDArray[np.float32],
    out: npt.NDArray[np.float32],
    /,
) -> None: ...
def unicode_row(
    word_text: str,
    char_text: str,
    meta: list[str],
    word_n: int,
    char_n: int,
    meta_n: int,
    /,
) -> tuple[bytes, bytes] | None: ...
def zero_digits(text: str, /) -> str: ...
def local_start(text: str, lo: int, hi: int, /) -> int: ...
def distinct_non_ascii(text: str, /) -> str: ...
