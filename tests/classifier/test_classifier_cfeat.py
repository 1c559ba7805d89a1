"""The compiled helper (``_cfeat.c``) gives the numpy path's numbers bit for bit; without it
(not built, or failing to load) the Python path is used. The tests of the helper itself skip
where it was not built; the fallback tests run everywhere."""

from __future__ import annotations

import dataclasses
import random
import sys

import numpy as np
import pytest
from classifier_corpus import html_only, message, with_attachment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailward.classifier import FeatureSpec, Featurizer, _native, features, load_shipped
from mailward.classifier._fastrow import BlockHasher
from mailward.classifier._wordgrams import WordGrams
from mailward.config.settings import LimitSettings
from mailward.mime import parse_message
from mailward.model import ParsedMessage

NATIVE = _native.NATIVE
needs_c = pytest.mark.skipif(NATIVE is None, reason="the C helper _cfeat is not built")
#: the shipped sizes; small ones (columns collide); sizes that are not powers of two
SIZES = [(2**18, 2**18, 2**16), (2**4, 2**3, 2**2), (1, 1, 1), (1009, 2**31 - 1 - 2000, 991)]
#: ASCII with every character str.split() and the word tokenizer tell apart
ASCII = "abcXYZ019 _.,@+-!'\"()<>/:;  \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f\x7f\x00"
#: Latin, CJK, emoji, combining marks, Unicode spaces and word characters, ASCII
UNICODE = "abcXYZ019 _.@+-!'  \t\n\x1c\x1f\u00a0éßÀ½中文\u2028😀\U0001d518\u0301\u2019ﬁİ"
LONG_UNICODE = " ".join(f"word{i % 97} Grüße{i % 13}, café 中文{i}" for i in range(3000))
ascii_texts = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=127), max_size=300),
    st.text(alphabet=ASCII, max_size=300),
    st.lists(st.sampled_from(["a", "ab", "Word", "x" * 40, "  ", "\t\n", "-", "_", "9"])).map(
        "".join
    ),
)
meta_lists = st.lists(st.text(max_size=12), max_size=20)  # any Unicode but lone surrogates


def parsed(raw: bytes) -> ParsedMessage:
    return parse_message(raw, LimitSettings())


def python_blocks(
    doc: str, meta: list[str], sizes: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The numpy path's blocks of ``doc`` (what the helper replaces)."""
    assert features.hash_loop() is not None
    hasher = BlockHasher(sizes, features.hash_loop())
    grams = WordGrams()
    tokens = grams.tokens(doc)
    return hasher.numpy_blocks(tokens, doc[: features.CHAR_CHARS].lower().split(), meta)


def c_blocks(
    doc: str, meta: list[str], sizes: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    assert NATIVE is not None
    done = NATIVE.ascii_row(doc, features.CHAR_CHARS, meta, *sizes)
    assert done is not None
    return np.frombuffer(done[0], dtype=np.int32), np.frombuffer(done[1], dtype=np.float32)


def assert_same(got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]) -> None:
    assert got[0].dtype == want[0].dtype == np.int32
    assert got[1].dtype == want[1].dtype == np.float32
    assert got[0].tobytes() == want[0].tobytes()
    assert got[1].tobytes() == want[1].tobytes()


ASCII_MESSAGES = [
    message("Verify", "Your account is suspended, verify at once: call 555 0100",
            "http://198.51.100.4/a"),
    message("Hi", "", None),
    message("   ", " \n\t \n", None),
    message("LONG", " ".join(f"word{i % 97} x_y, {i}" for i in range(3000)),
            "https://www.example.com/" + "abc/" * 40),
    message("Cut", "x" * (features.CHAR_CHARS - 3) + " and more words " * 500, None),
    message("Mail", "write to ann+tag@mail.example.org or bob@x.y, 2024-01-02", None),
    message("Unicode link", "click https://xn--fsq.example/login now", None),
    html_only("<html><body><p>Dear customer,</p><p>Your <b>parcel</b> is waiting: "
              "<a href='https://track.example-parcel.top/x?id=1'>track it</a>.</p></body></html>"),
    with_attachment(),
]  # fmt: skip
SPECS = [
    FeatureSpec(),
    FeatureSpec(identity_features=True),
    FeatureSpec(2**12, 2**12, 2**8, attachment_features=True, identity_features=True),
]


@needs_c
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ascii_texts, meta_lists, st.sampled_from(SIZES))
def test_the_helpers_blocks_are_the_numpy_paths(
    doc: str, meta: list[str], sizes: tuple[int, int, int]
) -> None:
    assert_same(c_blocks(doc, meta, sizes), python_blocks(doc, meta, sizes))


@needs_c
def test_the_helpers_blocks_are_the_numpy_paths_on_random_and_edge_texts() -> None:
    rnd = random.Random(15)
    docs = ["", " ", "a", "ab", "abc", "a b", "ab  cd\x1c\x1fe", "x" * 30, "A" * 5000, "_" * 3]
    docs += ["".join(rnd.choice(ASCII) for _ in range(rnd.randint(0, 600))) for _ in range(800)]
    docs += [" ".join("w" * rnd.randint(1, 9) for _ in range(400)) for _ in range(20)]
    meta = ["dom:example.com", "tld:com", "dom:例子.example", "path:é", "", "urls:1"]
    for doc in docs:
        for sizes in SIZES:
            assert_same(c_blocks(doc, meta, sizes), python_blocks(doc, meta, sizes))


@needs_c
@pytest.mark.parametrize("repeats", [1, 2, 14, 15, 16, 17, 40, 300])
def test_the_helpers_counts_around_its_small_count_table_are_the_numpy_paths(
    repeats: int,
) -> None:
    """Counts under 16 take their value from a table made once per row, larger ones are divided
    one by one: both equal the numpy path's, whatever the words' lengths (1-9 characters: padded
    words whose last window is 3, 4 or 5 bytes), in the word, char and meta blocks."""
    words = ["a", "ab", "abc", "abcd", "abcde", "abcdef", "go", "x_y", "abcdefghi"]
    for i in range(len(words)):
        doc = " ".join(words[: i + 1] * repeats) + " tail"
        meta = ["dom:example.com"] * repeats + ["tld:com"]
        for sizes in SIZES:
            assert_same(c_blocks(doc, meta, sizes), python_blocks(doc, meta, sizes))


@needs_c
@pytest.mark.parametrize("spec", SPECS)
def test_the_row_with_the_helper_is_the_general_paths_row(spec: FeatureSpec) -> None:
    featurizer = Featurizer(spec)
    rnd = random.Random(8)
    base = parsed(message("x", "y", "http://example.com/a/bcd/efgh"))
    msgs = [parsed(raw) for raw in ASCII_MESSAGES]
    for _ in range(200):
        text = "".join(rnd.choice(ASCII) for _ in range(rnd.randint(0, 500)))
        msgs.append(dataclasses.replace(base, subject="Hello There", text=text))
    for msg in msgs:
        assert features.body_text(msg).isascii()
        assert_same(featurizer.row(msg), featurizer.reference_row(msg))


def token_inputs(doc: str) -> tuple[list[str], list[str]]:
    return WordGrams().tokens(doc), doc[: features.CHAR_CHARS].lower().split()


@needs_c
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), st.text(alphabet=UNICODE, max_size=300)), meta_lists,
       st.sampled_from(SIZES))  # fmt: skip
def test_the_helpers_token_blocks_are_the_numpy_paths(
    doc: str, meta: list[str], sizes: tuple[int, int, int]
) -> None:
    assert NATIVE is not None
    tokens, words = token_inputs(doc)
    done = NATIVE.token_blocks(tokens, words, meta, *sizes)
    assert done is not None
    want = BlockHasher(sizes, features.hash_loop()).numpy_blocks(tokens, words, meta)
    assert_same((np.frombuffer(done[0], np.int32), np.frombuffer(done[1], np.float32)), want)


@needs_c
@pytest.mark.parametrize("spec", SPECS)
def test_the_row_of_unicode_text_with_the_helper_is_the_general_paths_row(
    spec: FeatureSpec,
) -> None:
    featurizer = Featurizer(spec)
    rnd = random.Random(9)
    base = parsed(message("x", "y", "https://例子.example/登录"))
    msgs = [dataclasses.replace(base, subject="Grüße", text=LONG_UNICODE)]
    for _ in range(200):
        text = "".join(rnd.choice(UNICODE) for _ in range(rnd.randint(0, 500)))
        msgs.append(dataclasses.replace(base, subject="Hello There", text=text))
    for msg in msgs:
        assert_same(featurizer.row(msg), featurizer.reference_row(msg))


@needs_c
def test_token_blocks_decline_and_reject_as_ascii_row_does() -> None:
    assert NATIVE is not None
    assert NATIVE.token_blocks(["a" * (2**20 + 1)], [], [], 8, 8, 8) is None  # a long token
    assert NATIVE.token_blocks([], ["é" * 2**19 + "e"], [], 8, 8, 8) is None  # a long word
    assert NATIVE.token_blocks([], ["word"] * 2**20, [], 8, 8, 8) is None  # too many columns
    assert NATIVE.token_blocks([], [], ["x"] * (2**16 + 1), 8, 8, 8) is None
    for tokens, words, meta in [(["a\udc80"], [], []), ([], ["\udc80"], []), ([], [], ["\ud800"])]:
        with pytest.raises(UnicodeEncodeError):
            NATIVE.token_blocks(tokens, words, meta, 8, 8, 8)
    with pytest.raises(TypeError):
        NATIVE.token_blocks(["ok", 3], [], [], 8, 8, 8)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        NATIVE.token_blocks([], ("tuple",), [], 8, 8, 8)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must"):
        NATIVE.token_blocks([], [], [], 8, 0, 8)


@needs_c
def test_the_helper_declines_what_it_does_not_handle() -> None:
    assert NATIVE is not None
    assert NATIVE.ascii_row("café", 1500, [], 8, 8, 8) is None  # not ASCII
    assert NATIVE.ascii_row("a" * (2**22 + 1), 1500, [], 8, 8, 8) is None  # over-long
    assert NATIVE.ascii_row("ab", 1500, ["x"] * (2**16 + 1), 8, 8, 8) is None  # many tokens


@needs_c
def test_the_helper_rejects_bad_arguments_and_lone_surrogates() -> None:
    assert NATIVE is not None
    with pytest.raises(UnicodeEncodeError):
        NATIVE.ascii_row("ab cd", 1500, ["ok", "bad \udc80"], 8, 8, 8)
    with pytest.raises(TypeError):
        NATIVE.ascii_row("ab cd", 1500, ["ok", b"bytes"], 8, 8, 8)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        NATIVE.ascii_row("ab cd", 1500, ("a tuple",), 8, 8, 8)  # type: ignore[arg-type]
    for sizes in [(0, 8, 8), (8, -1, 8), (8, 8, 2**31), (2**30, 2**30, 2**30)]:
        with pytest.raises(ValueError, match="must"):
            NATIVE.ascii_row("ab cd", 1500, [], *sizes)
    with pytest.raises(ValueError, match="char_chars"):
        NATIVE.ascii_row("ab cd", -1, [], 8, 8, 8)


@needs_c
def test_the_helper_keeps_no_references() -> None:
    assert NATIVE is not None
    doc = "".join(["some ascii text, ", "made here"])
    token = "".join(["dom:", "example.com"])
    meta = [token, token]
    before = (sys.getrefcount(doc), sys.getrefcount(token), sys.getrefcount(meta))
    for _ in range(500):
        NATIVE.ascii_row(doc, 1500, meta, 2**18, 2**18, 2**16)
        with pytest.raises(TypeError):
            NATIVE.ascii_row(doc, 1500, [*meta, 1], 2**18, 2**18, 2**16)  # type: ignore[list-item]
        with pytest.raises(UnicodeEncodeError):
            NATIVE.ascii_row(doc, 1500, [token, "\udc80"], 2**18, 2**18, 2**16)
    after = (sys.getrefcount(doc), sys.getrefcount(token), sys.getrefcount(meta))
    assert after == before


@needs_c
def test_row_sums_are_numpys_float32_sums_in_row_order() -> None:
    assert NATIVE is not None
    rng = np.random.default_rng(3)
    coef_t = rng.standard_normal((5000, 3)) * rng.choice([1e-6, 1.0, 1e6], (5000, 3))
    coef_t = coef_t.astype(np.float32)
    coef_t[7] = -0.0
    for terms in [0, 1, 2, 17, 3000]:
        indices = rng.integers(0, 5000, terms).astype(np.int32)
        values = rng.standard_normal(terms).astype(np.float32)
        if terms:
            indices[0] = 7
        out = np.empty(3, dtype=np.float32)
        NATIVE.row_sums(coef_t, indices, values, out)
        if terms:
            products = coef_t.take(indices, axis=0) * values[:, None]
            want = np.cumsum(products, axis=0, dtype=np.float32)[-1]
        else:
            want = np.zeros(3, dtype=np.float32)
        assert out.tobytes() == want.tobytes()


@needs_c
def test_row_sums_check_their_arrays() -> None:
    assert NATIVE is not None
    coef_t = np.ones((10, 3), dtype=np.float32)
    values = np.ones(2, dtype=np.float32)
    out = np.empty(3, dtype=np.float32)
    for bad in ([0, 10], [-1, 0]):
        with pytest.raises(IndexError):
            NATIVE.row_sums(coef_t, np.array(bad, dtype=np.int32), values, out)
    ok = np.array([0, 9], dtype=np.int32)
    with pytest.raises(TypeError):
        NATIVE.row_sums(coef_t.astype(np.float64), ok, values, out)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        NATIVE.row_sums(coef_t, ok.astype(np.int64), values, out)  # type: ignore[arg-type]
    with pytest.raises((TypeError, ValueError, BufferError)):  # not C-contiguous
        NATIVE.row_sums(np.ones((3, 10), dtype=np.float32).T, ok, values, out)
    with pytest.raises(ValueError, match="match"):
        NATIVE.row_sums(coef_t, ok, values[:1], out)
    with pytest.raises(ValueError, match="match"):
        NATIVE.row_sums(coef_t, ok, values, out[:2])
    out.flags.writeable = False
    with pytest.raises((TypeError, ValueError, BufferError)):
        NATIVE.row_sums(coef_t, ok, values, out)


@needs_c
def test_the_model_predicts_the_same_with_and_without_the_helper() -> None:
    model = load_shipped()
    assert model._row_sums is not None
    featurizer = model.featurizer
    for raw in ASCII_MESSAGES:
        msg = parsed(raw)
        row = featurizer.row(msg)
        with_c = model._sums(*row)
        model._row_sums = None
        try:
            without = model._sums(*row)
        finally:
            model._row_sums = NATIVE.row_sums if NATIVE is not None else None
        assert with_c.tobytes() == without.tobytes()
        one = model.predict_one(msg)
        (batch,) = model.predict([msg])
        assert [v.hex() for v in one.values()] == [v.hex() for v in batch.values()]


@needs_c
def test_the_row_uses_the_helper_for_ascii_and_unicode_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert NATIVE is not None
    calls: list[tuple[str, str]] = []

    def counting(doc: str, *args: object) -> tuple[bytes, bytes] | None:
        calls.append(("ascii", doc))
        return NATIVE.ascii_row(doc, *args)  # type: ignore[arg-type]

    def counting_unicode(words: str, chars: str, *args: object) -> tuple[bytes, bytes] | None:
        calls.append(("unicode", chars))
        return NATIVE.unicode_row(words, chars, *args)  # type: ignore[arg-type]

    native = NATIVE._replace(ascii_row=counting, unicode_row=counting_unicode)
    monkeypatch.setattr(_native, "NATIVE", native)
    featurizer = Featurizer(SPECS[0])
    msg = parsed(ASCII_MESSAGES[0])
    assert_same(featurizer.row(msg), featurizer.reference_row(msg))
    assert calls == [("ascii", features.body_text(msg))]
    unicode = dataclasses.replace(msg, text="Grüße, café")
    assert_same(featurizer.row(unicode), featurizer.reference_row(unicode))
    assert calls[1:] == [("unicode", features.body_text(unicode).lower())]
    surrogate = dataclasses.replace(msg, text="Grüße \ud800 café")  # declined: the general path
    with pytest.raises(UnicodeEncodeError):
        featurizer.row(surrogate)
    assert len(calls) == 3


def test_a_helper_that_fails_to_import_leaves_the_python_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "mailward.classifier._cfeat", None)  # import fails
    assert _native.load() is None
    monkeypatch.setattr(_native, "NATIVE", None)
    featurizer = Featurizer(SPECS[0])
    model = dataclasses.replace(load_shipped(), _featurizer=None)
    assert model._row_sums is None
    for raw in ASCII_MESSAGES:
        msg = parsed(raw)
        assert_same(featurizer.row(msg), featurizer.reference_row(msg))
        assert featurizer._fast is not None and featurizer._fast._native is None
        one = model.predict_one(msg)
        (batch,) = model.predict([msg])
        assert [v.hex() for v in one.values()] == [v.hex() for v in batch.values()]
