"""ContentClassifierDetector with a tiny model trained in the test."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from helpers_detectors import by_symbol, make_message, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "classifier"))
from classifier_corpus import write_corpus

from mailward.classifier import FeatureSpec, training
from mailward.detectors.content import (
    ContentClassifierDetector,
    ContentClassifierSettings,
)
from mailward.model import Url

SMALL = FeatureSpec(word_features=2**12, char_features=2**12, meta_features=2**8)
LINK = "http://secure-login.example-verify.top/account/verify"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("content")
    corpus = training.load_corpus(write_corpus(root / "corpus"), holdout_fraction=0.0)
    model = training.fit(corpus.train, SMALL)
    model.save(root / "model")
    return str(root / "model")


def detector(path: str, **kw: float) -> ContentClassifierDetector:
    return ContentClassifierDetector(ContentClassifierSettings(model_path=path, **kw))


def phishy():  # type: ignore[no-untyped-def]
    url = Url(LINK, "http", "secure-login.example-verify.top", "example-verify.top", "text")
    return make_message(
        subject="Action needed",
        text=f"Hello,\n\nConfirm your password to keep your account active.\n\n{LINK}\n",
        urls=(url,),
    )


def test_phish_like_message_raises_content_phish(model_path: str) -> None:
    found = by_symbol(run(detector(model_path), phishy()))
    assert set(found) == {"CONTENT_PHISH"}
    finding = found["CONTENT_PHISH"]
    assert finding.explanation.startswith("The wording and links resemble known phishing")
    assert "(probability 0." in finding.explanation
    assert 0.0 < finding.factor <= 1.0


def test_ordinary_message_raises_nothing(model_path: str) -> None:
    msg = make_message(subject="Minutes", text="Attached are the minutes of the budget meeting.")
    assert run(detector(model_path), msg) == []


def test_spam_like_message_raises_content_spam(model_path: str) -> None:
    link = "http://deals.example-shop.biz/offer"
    msg = make_message(
        subject="spam note",
        text=f"Hello,\n\nCheap watches and discount pills, order now and save big.\n\n{link}\n",
        urls=(Url(link, "http", "deals.example-shop.biz", "example-shop.biz", "text"),),
    )
    found = by_symbol(run(detector(model_path), msg))
    assert "CONTENT_SPAM" in found and "CONTENT_PHISH" not in found


def test_factor_grows_with_probability_within_the_band(model_path: str) -> None:
    low = by_symbol(run(detector(model_path, phish_threshold_low=0.05), phishy()))
    high = by_symbol(run(detector(model_path, phish_threshold_low=0.5), phishy()))
    assert low["CONTENT_PHISH"].factor >= high["CONTENT_PHISH"].factor
    assert detector(model_path, phish_threshold=0.7).edges("phish").edges == (0.5, 0.7, 0.95)
    assert detector(model_path, phish_threshold=0.3).edges("phish").edges[1] == 0.5  # order
    assert detector(model_path).edges("phish").edges == (0.5, 0.8, 0.95)  # no thresholds


def test_thresholds_above_the_probability_raise_nothing(model_path: str) -> None:
    det = detector(model_path, phish_threshold_low=0.9999, spam_threshold_low=0.9999)
    assert run(det, phishy()) == []


def test_missing_model_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="cannot read model"):
        run(detector(str(tmp_path / "none")), phishy())


def test_transform_and_predict_is_fast(model_path: str) -> None:
    det = detector(model_path)
    msgs = [phishy() for _ in range(100)]
    det.model.predict(msgs[:1])
    started = time.perf_counter()
    for msg in msgs:
        det.model.predict([msg])
    assert (time.perf_counter() - started) / len(msgs) < 0.02
