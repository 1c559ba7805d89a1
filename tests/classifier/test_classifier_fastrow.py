"""The content model's fast row equals the general path's row, bit for bit, on varied mail."""

from __future__ import annotations

import dataclasses
import random
import re

import numpy as np
import pytest
from classifier_corpus import html_only, message, with_attachment
from tests.helpers_subprocess import last_line_printed

from mailward.classifier import FeatureSpec, Featurizer, _native, features, load_shipped
from mailward.classifier._charhash import hash_ascii_windows, hash_char_ngrams, hash_word_windows
from mailward.classifier._fastrow import BlockHasher
from mailward.classifier._wordgrams import _TOKEN, WordGrams, strip_accents
from mailward.config.settings import LimitSettings
from mailward.mime import parse_message
from mailward.model import ParsedMessage

N = 2**18
SPECS = [
    FeatureSpec(),  # the shipped model's sizes, identity features off
    FeatureSpec(identity_features=True),
    FeatureSpec(2**12, 2**12, 2**8, attachment_features=True, identity_features=True),
]
#: ASCII (with the control characters str.split() takes for whitespace), Latin, CJK, emoji,
#: combining marks, non-breaking and other Unicode spaces, a curly apostrophe
ALPHABET = "abcXYZ019 _.@+-!'  \t\n\x1c\x1f\u00a0éßÀ½中文\u2028😀\U0001d518\u0301\u2019ﬁ"
ASCII = "abcXYZ019 _.,@+-!'\"()<>/:;  \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f\x7f"


def parsed(raw: bytes) -> ParsedMessage:
    return parse_message(raw, LimitSettings())


LONG = " ".join(f"word{i % 97} Grüße{i % 13}, café" for i in range(3000))
MESSAGES = [
    message("Verify", "Your account is suspended, verify at once: call 555 0100",
            "http://198.51.100.4/a"),
    message("Minutes", "Attached are the minutes of the budget meeting, café déjà vu.", None),
    message("Hi", "", None),
    message("   ", " \n\t \n", None),
    message("中文 😀", "你好\uff0c世界\u3002请点击链接 https://例子.example/登录 ﬁne Ⅻ İstanbul Ωmega", None),
    message("LONG", LONG, "https://www.example.com/" + "a/" * 40),
    message("Cut", "x" * (features.CHAR_CHARS - 3) + "éééé and more words " * 500, None),
    message("Mail", "write to ann+tag@mail.example.org or bob@x.y, 2024-01-02", None),
    html_only("<html><body><p>Dear customer,</p><p>Your <b>parcel</b> is waiting: "
              "<a href='https://track.example-parcel.top/x?id=1'>track it</a>.</p>"
              "<p>Grüße &nbsp; \u2019quoted\u2019</p></body></html>"),
    html_only("<html><body><img src='https://cdn.example.com/x.png'></body></html>"),
    with_attachment(),
]  # fmt: skip


def same_row(featurizer: Featurizer, msg: ParsedMessage) -> None:
    fast_idx, fast_val = featurizer.row(msg)
    ref_idx, ref_val = featurizer.reference_row(msg)
    assert fast_idx.dtype == ref_idx.dtype == np.int32
    assert fast_val.dtype == ref_val.dtype == np.float32
    assert fast_idx.tobytes() == ref_idx.tobytes()
    assert fast_val.tobytes() == ref_val.tobytes()


@pytest.mark.parametrize("spec", SPECS)
def test_the_fast_row_is_the_general_paths_row(spec: FeatureSpec) -> None:
    featurizer = Featurizer(spec)
    for raw in MESSAGES:
        same_row(featurizer, parsed(raw))


@pytest.mark.parametrize("seed", range(3))
def test_the_fast_row_is_the_general_paths_row_on_random_text(seed: int) -> None:
    rnd = random.Random(seed)
    base = parsed(message("x", "y", "http://example.com/a", seed))
    featurizer = Featurizer(SPECS[0])
    for i in range(300):
        alphabet = ASCII if i % 2 else ALPHABET
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 400)))
        subject = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 20)))
        same_row(featurizer, dataclasses.replace(base, subject=subject, text=text))


def test_a_lone_surrogate_takes_the_general_path() -> None:
    base = parsed(message("x", "y", None))
    msg = dataclasses.replace(base, text="bad \udc80 text")
    featurizer = Featurizer(SPECS[0])
    with pytest.raises(UnicodeEncodeError):
        featurizer.reference_row(msg)
    with pytest.raises(UnicodeEncodeError):
        featurizer.row(msg)


def test_without_the_compiled_hashing_loop_the_row_is_the_general_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    msg = parsed(MESSAGES[1])
    fast = Featurizer(SPECS[0]).row(msg)
    monkeypatch.setattr(features, "hash_loop", lambda: None)
    monkeypatch.setattr(_native, "NATIVE", None)
    calls: list[int] = []
    featurizer = Featurizer(SPECS[0])
    reference = featurizer.reference_row
    monkeypatch.setattr(featurizer, "reference_row", lambda m: calls.append(1) or reference(m))
    general = featurizer.row(msg)
    assert calls == [1]
    assert fast[0].tobytes() == general[0].tobytes()
    assert fast[1].tobytes() == general[1].tobytes()


@pytest.mark.skipif(_native.NATIVE is None, reason="the compiled helper is not built")
def test_with_the_compiled_helper_a_text_it_passes_back_takes_the_general_path_without_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    msg = parsed(MESSAGES[1])
    fast = Featurizer(SPECS[0]).row(msg)
    monkeypatch.setattr(features, "hash_loop", lambda: None)
    featurizer = Featurizer(SPECS[0])
    assert featurizer.row(msg)[0].tobytes() == fast[0].tobytes()  # the helper: no loop needed
    monkeypatch.setattr(BlockHasher, "native_row", lambda *_args: None)
    general = featurizer.row(msg)
    assert general[0].tobytes() == fast[0].tobytes()
    assert general[1].tobytes() == fast[1].tobytes()


@pytest.mark.skipif(_native.NATIVE is None, reason="the compiled helper is not built")
def test_a_scan_does_not_import_scikit_learn() -> None:
    # scikit-learn (and scipy.stats with it) is most of a second of every start
    script = (
        "import asyncio, sys\n"
        "from mailward.config.settings import Settings\n"
        "from mailward.engine.pipeline import Engine\n"
        "raw = b'From: a@example.net\\r\\nSubject: hi\\r\\n\\r\\nHello there, see you\\r\\n'\n"
        "outcome = asyncio.run(Engine(Settings()).scan(raw))\n"
        "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))\n"
    )
    assert last_line_printed(script) == "[]"


def test_one_message_is_predicted_as_a_batch_is_on_varied_mail() -> None:
    model = load_shipped()
    for raw in MESSAGES:
        msg = parsed(raw)
        one = model.predict_one(msg)
        (batch,) = model.predict([msg])
        assert [v.hex() for v in one.values()] == [v.hex() for v in batch.values()]


def test_ascii_windows_are_the_general_passs() -> None:
    rnd = random.Random(9)
    docs = ["", " ", "a", "ab", "abc", "a b", "ab  cd\x1c\x1fe", "x" * 30]
    docs += ["".join(rnd.choice(ASCII) for _ in range(rnd.randint(0, 60))) for _ in range(2000)]
    for doc in docs:
        padded = (" " + "  ".join(doc.lower().split()) + " ").encode("ascii")
        expected = sorted(hash_char_ngrams(doc, 3, 5, N).tolist())
        assert sorted(hash_ascii_windows(padded, N).tolist()) == expected
        assert sorted(hash_word_windows(doc.lower().split(), N).tolist()) == expected
    columns = hash_ascii_windows(b" a  bc ", 2**31 - 1)  # not a power of two: abs, then modulo
    assert sorted(columns.tolist()) == sorted(hash_char_ngrams("a bc", 3, 5, 2**31 - 1).tolist())


def test_word_tokens_are_the_patterns_on_ascii_and_unicode() -> None:
    words = WordGrams()
    rnd = random.Random(4)
    docs = [*(m.decode(errors="replace") for m in MESSAGES), "a_b c9 __ x", ""]
    docs += ["".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 80))) for _ in range(1500)]
    docs += ["".join(rnd.choice(ASCII) for _ in range(rnd.randint(0, 80))) for _ in range(1500)]
    sklearn_token = re.compile(r"(?u)\b\w\w+\b")
    for doc in docs:
        expected = sklearn_token.findall(strip_accents(doc.lower()))
        assert words.tokens(doc) == expected
        assert _TOKEN.findall(strip_accents(doc.lower())) == expected


def test_blank_text_is_told_without_stripping_it() -> None:
    base = parsed(message("x", "y", None))
    for text, blank in [("", 1.0), (" \n\t\u00a0\u2028", 1.0), (" x ", 0.0), ("\x1c", 1.0)]:
        msg = dataclasses.replace(base, text=text)
        assert features.dense_features(msg)[-1] == blank == (0.0 if text.strip() else 1.0)


def test_word_tokens_of_text_ascii_once_unaccented_are_the_patterns() -> None:
    """Documents whose only non-ASCII characters go away with the accents are split, not
    searched: the same tokens, with the case the decomposition leaves ("\u210c" is "H")."""
    words = WordGrams()
    rnd = random.Random(7)
    accented = "éàüçñÉÀÜ\u00a0\u210c\u2160\ufb01"  # accents, nbsp, black-letter H, roman one, fi ligature
    docs = ["café naïve Ünïcode", "\u210cello \u210cELLO wörld", "x\u00a0y zz\ufb01le_ab", "é"]
    pool = ASCII + accented
    docs += ["".join(rnd.choice(pool) for _ in range(rnd.randint(1, 60))) for _ in range(2000)]
    sklearn_token = re.compile(r"(?u)\b\w\w+\b")
    stripped_ascii = 0
    for doc in docs:
        stripped = strip_accents(doc.lower())
        stripped_ascii += not doc.isascii() and stripped.isascii()
        assert words.tokens(doc) == sklearn_token.findall(stripped)
    assert words.tokens("\u210cello") == ["Hello"]
    assert stripped_ascii > 1000
