"""The content row's cheaper parts give the numbers of what they replace, bit for bit: the
helper's ``unicode_row`` (word and char grams of any text in C) and ``zero_digits``, the link
facts shared by the meta tokens and the dense numbers, the ASCII subject's shouting count, and
the dense block joined as bytes. Each is compared with the code it replaced (kept here) or with
the general path, with and without the compiled helper."""

from __future__ import annotations

import dataclasses
import math
import random
import sys

import numpy as np
import pytest
from classifier_corpus import html_only, message, with_attachment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailward.classifier import FeatureSpec, Featurizer, _native, features, load_shipped
from mailward.classifier._fastrow import BlockHasher
from mailward.classifier._wordgrams import WordGrams, strip_accents
from mailward.config.settings import LimitSettings
from mailward.mime import parse_message
from mailward.model import ParsedMessage

NATIVE = _native.NATIVE
needs_c = pytest.mark.skipif(NATIVE is None, reason="the C helper _cfeat is not built")
SIZES = [(2**18, 2**18, 2**16), (2**4, 2**3, 2**2), (1, 1, 1), (1009, 2**31 - 1 - 2000, 991)]
#: Latin, Greek (final sigma), Turkish dotted I, CJK, emoji and other 4-byte word characters,
#: combining marks, Unicode spaces, digits of other scripts (Arabic-Indic, fullwidth,
#: mathematical), ligatures, ASCII
UNICODE = (
    "abcXYZ019 _.@+-!'  \t\n\x1c\x1f\x85\u00a0\u3000éßÀ½Σ\u03c3ςİ\u0131Ω中文😀\U0001d518\U00020000"
    "\u0301\u0308\u2019ﬁ٣٤\uff10\uff19\U0001d7ce\u2028Ⅻ²"
)
SPECS = [
    FeatureSpec(),
    FeatureSpec(identity_features=True),
    FeatureSpec(2**12, 2**12, 2**8, attachment_features=True, identity_features=True),
]


def parsed(raw: bytes) -> ParsedMessage:
    return parse_message(raw, LimitSettings())


def random_text(rnd: random.Random, alphabet: str, most: int) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, most)))


def as_arrays(done: tuple[bytes, bytes] | None) -> tuple[np.ndarray, np.ndarray]:
    assert done is not None
    return np.frombuffer(done[0], np.int32), np.frombuffer(done[1], np.float32)


def assert_same(got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]) -> None:
    assert got[0].dtype == want[0].dtype == np.int32
    assert got[1].dtype == want[1].dtype == np.float32
    assert got[0].tobytes() == want[0].tobytes()
    assert got[1].tobytes() == want[1].tobytes()


# --- the code these parts replaced, verbatim: the references -----------------------------


def old_meta_tokens(msg: ParsedMessage, attachments: bool = True) -> list[str]:
    tokens: list[str] = []
    for url in msg.urls[:50]:
        host = url.host
        if features._is_ip(host):
            tokens.append("ip_link")
        else:
            tokens += [f"dom:{url.domain}", f"tld:{url.domain.rsplit('.', 1)[-1]}"]
        tokens.append(f"scheme:{url.scheme}")
        path = url.url.split("://", 1)[-1].partition("/")[2].lower()
        tokens += [f"path:{word}" for word in features._PATH_WORD.findall(path)[:8]]
    domains = {u.domain for u in msg.urls}
    tokens += [f"urls:{features._bucket(len(msg.urls))}",
               f"domains:{features._bucket(len(domains))}"]  # fmt: skip
    if not attachments:
        return tokens
    for att in msg.attachments:
        ext = (
            att.filename.rsplit(".", 1)[-1].lower()[:10]
            if att.filename and "." in att.filename
            else ""
        )
        tokens += [
            f"att:type:{att.detected_type.split(';', 1)[0].strip().lower()}",
            f"att:ext:{ext}",
        ]
    tokens.append(f"atts:{features._bucket(len(msg.attachments))}")
    return tokens


def old_dense_features(msg: ParsedMessage, attachments: bool = True) -> list[float]:
    subject_letters = [c for c in msg.subject if c.isalpha()]
    upper = (
        sum(c.isupper() for c in subject_letters) / len(subject_letters) if subject_letters else 0.0
    )
    ips = any(features._is_ip(u.host) for u in msg.urls)
    return [
        math.log1p(len(msg.urls)) / 5,
        math.log1p(len({u.domain for u in msg.urls})) / 4,
        1.0 if ips else 0.0,
        math.log1p(len(msg.attachments)) / 3 if attachments else 0.0,
        math.log1p(len(msg.text)) / 12,
        upper,
        min((msg.subject + msg.text[:2000]).count("!"), 10) / 10,
        1.0 if not msg.text or msg.text.isspace() else 0.0,
    ]


# --- messages ---------------------------------------------------------------------------

MANY_LINKS = " ".join(
    [f"https://site{i % 7}.example.com/Path/Word{i}?q=1" for i in range(55)]
    + ["http://198.51.100.9/late", "http://[2001:db8::1]/v6"]
)
MESSAGES = [
    message("Verify NOW!!", "Your account is suspended! verify: http://198.51.100.4/a", None),
    message("Grüße ÀÉ Σ", "Attached are the minutes, café déjà vu! ٣ \uff10 \U0001d7ce digits 2024", None),
    message("", "", None),
    message("!!!", "!" * 3000, None),
    message("ⓐⒷ Ⓒ upper-case symbols", "text", "https://例子.example/登录"),
    message("Many links", MANY_LINKS, None),
    message("Mail", "write to ann+tag@mail.example.org or bob@x.y, ünïcode@例子.example", None),
    html_only("<html><body><p>Dear customer,</p><a href='https://track.example-parcel.top/"
              "Track/Parcel?id=1'>track</a> <a href='http://10.0.0.1:8080/x'>x</a></body></html>"),
    with_attachment(),
]  # fmt: skip


def varied_messages() -> list[ParsedMessage]:
    rnd = random.Random(11)
    msgs = [parsed(raw) for raw in MESSAGES]
    base = msgs[-2]
    for i in range(200):
        alphabet = UNICODE if i % 2 else "abcXYZ019 _.,@+-!'\"()  \t\r\n\x0b\x1c\x7f"
        msgs.append(dataclasses.replace(
            base, subject=random_text(rnd, alphabet, 30), text=random_text(rnd, alphabet, 600)
        ))  # fmt: skip
    return msgs


@pytest.mark.parametrize("attachments", [False, True])
def test_meta_tokens_and_dense_numbers_are_the_old_codes(attachments: bool) -> None:
    for msg in varied_messages():
        links = features.LinkFacts.of(msg)
        for given_links in (None, links):
            assert features.meta_tokens(msg, attachments, given_links) == old_meta_tokens(
                msg, attachments
            )
            new = features.dense_features(msg, attachments, given_links)
            old = old_dense_features(msg, attachments)
            assert [x.hex() for x in new] == [x.hex() for x in old]


def test_a_link_beyond_the_first_fifty_still_counts_as_an_ip_link() -> None:
    msg = parsed(MESSAGES[5])
    assert len(msg.urls) > 50
    links = features.LinkFacts.of(msg)
    assert not any(links.ip_first) and links.any_ip
    assert "ip_link" not in features.meta_tokens(msg)
    assert features.dense_features(msg)[2] == 1.0


def test_the_upper_case_share_is_counted_as_isalpha_and_isupper_count() -> None:
    rnd = random.Random(5)
    subjects = ["", "!!!", "ABC def", "ⓐⒷ Ⓒ", "ΣΑΣ", "ǅ titlecase", "ÀÉ ab"]
    subjects += [random_text(rnd, "aBcXYZ019 !?" + UNICODE, 40) for _ in range(500)]
    for subject in subjects:
        letters = [c for c in subject if c.isalpha()]
        want = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
        assert features.upper_share(subject).hex() == want.hex()


def test_digits_are_zeroed_as_the_pattern_zeroes_them_with_and_without_the_helper(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = ["", "abc", "٣", "x٣y 12 \uff10\uff19 \U0001d7ce", "\U0001d7ce", "é9", "ab\ud800 12", "²³ Ⅻ ٣"]
    texts.append("".join(map(chr, range(0, sys.maxunicode + 1, 7))))  # every 7th code point
    for text in texts:
        want = features._DIGIT.sub("0", text)
        got = features.body_text(dataclasses.replace(parsed(MESSAGES[2]), subject="", text=text))
        assert got == "\n" + want[: features.WORD_CHARS]
        if NATIVE is not None:
            zeroed = NATIVE.zero_digits(text)
            assert zeroed == want
            assert zeroed.isascii() == want.isascii()  # the narrowest str: "٣" -> "0" is ASCII
    monkeypatch.setattr(_native, "NATIVE", None)
    for text in texts:
        msg = dataclasses.replace(parsed(MESSAGES[2]), subject="", text=text)
        assert features.body_text(msg) == "\n" + features._DIGIT.sub("0", text)[:8000]


@needs_c
def test_zero_digits_of_every_code_point_is_the_patterns() -> None:
    assert NATIVE is not None
    text = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    assert NATIVE.zero_digits(text) == features._DIGIT.sub("0", text)
    with pytest.raises(TypeError):
        NATIVE.zero_digits(b"12")  # type: ignore[arg-type]


def numpy_blocks(
    doc: str, meta: list[str], sizes: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    assert features.hash_loop() is not None
    hasher = BlockHasher(sizes, features.hash_loop())
    words = doc[: features.CHAR_CHARS].lower().split()
    return hasher.numpy_blocks(WordGrams().tokens(doc), words, meta)


def unicode_row(doc: str, meta: list[str], sizes: tuple[int, int, int]) -> tuple[bytes, bytes]:
    assert NATIVE is not None
    done = NATIVE.unicode_row(
        strip_accents(doc.lower()), doc[: features.CHAR_CHARS].lower(), meta, *sizes
    )
    assert done is not None
    return done


@needs_c
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), st.text(alphabet=UNICODE, max_size=300)),
       st.lists(st.text(max_size=12), max_size=20), st.sampled_from(SIZES))  # fmt: skip
def test_the_helpers_unicode_row_is_the_numpy_paths(
    doc: str, meta: list[str], sizes: tuple[int, int, int]
) -> None:
    if any(0xD800 <= ord(c) <= 0xDFFF for c in doc):
        return  # declined (see below)
    assert_same(as_arrays(unicode_row(doc, meta, sizes)), numpy_blocks(doc, meta, sizes))


@needs_c
@pytest.mark.parametrize("sizes", SIZES)
def test_the_helpers_unicode_row_is_the_numpy_paths_on_edge_texts(
    sizes: tuple[int, int, int],
) -> None:
    rnd = random.Random(3)
    docs = ["", "é", "éé", "a é", "中文 😀😀 \U00020000\U00020000", "x" * 1499 + "中文字符",
            "ΣΑΣ ΟΔΟΣ", "İstanbul", "ﬁne Ⅻ ²", "Grüße " * 2000, "\u3000a\u3000bc\x85de"]
    docs += [random_text(rnd, UNICODE, 3000) for _ in range(50)]  # fmt: skip
    for doc in docs:
        meta = ["dom:例子.example", "tld:com", "x"]
        assert_same(as_arrays(unicode_row(doc, meta, sizes)), numpy_blocks(doc, meta, sizes))


@needs_c
def test_the_helpers_unicode_row_declines_and_rejects() -> None:
    assert NATIVE is not None
    assert NATIVE.unicode_row("ab", "é \ud800", [], 8, 8, 8) is None  # a surrogate: declined
    assert NATIVE.unicode_row("é" * (2**22 + 1), "", [], 8, 8, 8) is None  # over-long
    assert NATIVE.unicode_row("ab", "", ["x"] * (2**16 + 1), 8, 8, 8) is None  # many tokens
    assert NATIVE.unicode_row("ab", "", ["x" * (2**20 + 1)], 8, 8, 8) is None  # a long token
    with pytest.raises(UnicodeEncodeError):
        NATIVE.unicode_row("ab", "", ["\udc80"], 8, 8, 8)
    with pytest.raises(TypeError):
        NATIVE.unicode_row(b"ab", "", [], 8, 8, 8)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        NATIVE.unicode_row("ab", "", ("x",), 8, 8, 8)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="block sizes"):
        NATIVE.unicode_row("ab", "", [], 8, 0, 8)
    # a lone surrogate in the word text is no word character (as for the pattern): the runs
    # around it are the tokens
    assert features.hash_loop() is not None
    want = BlockHasher((8, 8, 8), features.hash_loop()).numpy_blocks(["bc", "éé"], [], [])
    assert_same(as_arrays(NATIVE.unicode_row("a\ud800bc é éé", "", [], 8, 8, 8)), want)


@pytest.mark.parametrize("spec", SPECS)
def test_the_row_is_the_general_paths_with_and_without_the_helper(
    spec: FeatureSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    msgs = varied_messages()
    featurizer = Featurizer(spec)
    rows = []
    for msg in msgs:
        row = featurizer.row(msg)
        assert_same(row, featurizer.reference_row(msg))
        rows.append(row)
    monkeypatch.setattr(_native, "NATIVE", None)
    without = Featurizer(spec)
    for msg, row in zip(msgs, rows, strict=True):
        assert_same(without.row(msg), row)


def test_the_model_predicts_as_a_batch_on_varied_mail() -> None:
    model = load_shipped()
    for msg in varied_messages()[:60]:
        one = model.predict_one(msg)
        (batch,) = model.predict([msg])
        assert [v.hex() for v in one.values()] == [v.hex() for v in batch.values()]


@pytest.mark.parametrize("helper", [True, False])
def test_addresses_are_replaced_as_the_pattern_replaces_them_both_ways(
    helper: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if helper and NATIVE is None:
        pytest.skip("the C helper _cfeat is not built")
    if not helper:
        monkeypatch.setattr(_native, "NATIVE", None)
    rnd = random.Random(8)
    letters = "ab.+-_@é1 \n中x-\u0661\u00b2\U0001d518\ud800"
    texts = ["a@b.c@d.e", "a@b.c.d+x@y.z", "@@a@b", "ü.ß+x@例子.example", "é\U0001d518@b.c"]
    texts += [random_text(rnd, letters, 40) for _ in range(5000)]
    for text in texts:
        want = features._EMAIL.sub(" emailaddress ", text)
        assert features._addresses_replaced(text) == want


@needs_c
def test_local_start_walks_back_within_its_bounds() -> None:
    assert NATIVE is not None
    assert NATIVE.local_start("x ab.c+d-e_f@", 0, 12) == 2
    assert NATIVE.local_start("x ab.c+d-e_f@", 5, 12) == 5  # not before lo
    assert NATIVE.local_start("abc", 3, 3) == 3
    assert NATIVE.local_start("é\U0001d518ü@", 0, 3) == 0  # word characters of any width
    assert NATIVE.local_start("a\u00b2b", 0, 3) == 0  # "²" is \w (isalnum), as for the pattern
    assert NATIVE.local_start("a\ud800b", 0, 3) == 2
    for lo, hi in [(-1, 2), (0, 4), (3, 2)]:
        with pytest.raises(ValueError, match="lo <= hi"):
            NATIVE.local_start("abc", lo, hi)


@needs_c
def test_distinct_non_ascii_is_each_non_ascii_character_once_in_order() -> None:
    assert NATIVE is not None
    rnd = random.Random(4)
    texts = ["", "abc", "é", "aéüéa\U0001d518ü\U0010ffff\u0080", "\ud800x\ud800"]
    texts += [random_text(rnd, UNICODE, 300) for _ in range(300)]
    texts.append("".join(map(chr, range(0x110000))))
    for text in texts:
        want = "".join(dict.fromkeys(c for c in text if ord(c) > 127))
        assert NATIVE.distinct_non_ascii(text) == want
    assert NATIVE.distinct_non_ascii("é" * 3) == "é"  # the bits of one call are cleared
    with pytest.raises(TypeError):
        NATIVE.distinct_non_ascii(b"x")  # type: ignore[arg-type]


@pytest.mark.parametrize("helper", [True, False])
def test_accents_are_stripped_as_scikit_learn_strips_them_both_ways(
    helper: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.feature_extraction.text import strip_accents_unicode

    if helper and NATIVE is None:
        pytest.skip("the C helper _cfeat is not built")
    if not helper:
        monkeypatch.setattr(_native, "NATIVE", None)
    rnd = random.Random(6)
    texts = ["café déjà", "e\u0301\u0308", "ﬁ Ⅻ ²", "中文 😀", "plain"]
    texts += [random_text(rnd, UNICODE + "\u0327\u0300\u20dd", 200) for _ in range(500)]
    for text in texts:
        assert strip_accents(text) == strip_accents_unicode(text)


@needs_c
@pytest.mark.parametrize("classes", [1, 2, 3, 4, 17])
def test_row_sums_of_any_class_count_are_numpys_float32_sums_in_row_order(classes: int) -> None:
    assert NATIVE is not None
    rng = np.random.default_rng(classes)
    coef_t = rng.standard_normal((4000, classes)) * rng.choice([1e-6, 1.0, 1e6], (4000, classes))
    coef_t = coef_t.astype(np.float32)
    coef_t[7] = -0.0  # a first term of -0.0 stays -0.0 (cumsum starts from it)
    for terms in [0, 1, 2, 9, 2500]:
        indices = rng.integers(0, 4000, terms).astype(np.int32)
        values = rng.standard_normal(terms).astype(np.float32)
        if terms:
            indices[0] = 7
        out = np.empty(classes, dtype=np.float32)
        NATIVE.row_sums(coef_t, indices, values, out)
        if terms:
            products = coef_t.take(indices, axis=0) * values[:, None]
            want = np.cumsum(products, axis=0, dtype=np.float32)[-1]
        else:
            want = np.zeros(classes, dtype=np.float32)
        assert out.tobytes() == want.tobytes()
        if terms:
            bad = indices.copy()
            bad[-1] = 4000
            with pytest.raises(IndexError):
                NATIVE.row_sums(coef_t, bad, values, out)
