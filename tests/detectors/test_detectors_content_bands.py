"""The banded score of the content detector: edges, logit ramps, caps, overrides, wording."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers_detectors import by_symbol, make_message, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "classifier"))
from classifier_corpus import write_corpus

from mailward.classifier import FeatureSpec, training
from mailward.detectors.content import (
    WEIGHTS,
    ContentClassifierDetector,
    ContentClassifierSettings,
    band_points,
)
from mailward.model import ParsedMessage

EDGES = (0.6, 0.8, 0.95)
BELOW = np.nextafter
# the bands are about the text model's probability: no identity features in this tiny model
SMALL = FeatureSpec(
    word_features=2**12, char_features=2**12, meta_features=2**8, identity_features=False
)


def points(p: float, edges: tuple[float, float, float] = EDGES) -> float:
    found = band_points(p, edges)
    assert found is not None
    return found[1]


def in_band(found: tuple[int, float] | None, band: int, expected: float) -> bool:
    return found is not None and found[0] == band and found[1] == pytest.approx(expected)


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_below_the_weak_edge_there_is_no_finding() -> None:
    assert band_points(BELOW(0.6, 0.0), EDGES) is None
    assert band_points(0.0, EDGES) is None
    assert in_band(band_points(0.6, EDGES), 0, 1.0)


@pytest.mark.parametrize(
    ("p", "band", "expected"),
    [
        (0.6, 0, 1.0),
        (0.8, 1, 5.5),
        (0.95, 2, 10.0),
        (0.999, 2, 12.0),
        (0.99999, 2, 12.0),
    ],
)
def test_band_edges(p: float, band: int, expected: float) -> None:
    assert in_band(band_points(p, EDGES), band, expected)


def test_just_below_an_edge_is_the_top_of_the_lower_band() -> None:
    assert points(BELOW(0.8, 0.0)) == pytest.approx(4.5, abs=1e-6)
    assert points(BELOW(0.95, 0.0)) == pytest.approx(9.5, abs=1e-6)
    assert points(BELOW(0.999, 0.0)) == pytest.approx(12.0, abs=1e-6)
    assert band_points(BELOW(0.8, 0.0), EDGES)[0] == 0  # type: ignore[index]


def test_points_rise_linearly_in_logit_space() -> None:
    mid = 1 / (1 + math.exp(-(logit(0.6) + logit(0.8)) / 2))
    assert points(mid) == pytest.approx(2.75)
    assert points(0.7) != pytest.approx(2.75)  # not linear in p
    assert points(0.7) < points(0.75) < points(0.79)


def test_empty_bands_and_a_top_edge_above_0999() -> None:
    assert in_band(band_points(0.8, (0.8, 0.8, 0.95)), 1, 5.5)
    assert in_band(band_points(0.9995, (0.6, 0.8, 0.9995)), 2, 12.0)
    share = (logit(0.9) - logit(0.8)) / (logit(0.9995) - logit(0.8))
    assert in_band(band_points(0.9, (0.6, 0.8, 0.9995)), 1, 5.5 + 4 * share)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("bands")
    corpus = training.load_corpus(write_corpus(root / "corpus"), holdout_fraction=0.0)
    model = training.fit(corpus.train, SMALL)
    model.info["thresholds_at_ham_fpr"] = {
        "phish": {"0.1%": 0.03, "0.3%": 0.02, "0.5%": 0.015, "1%": 0.01, "2%": 0.005},
        "spam": {"0.1%": 0.9, "0.3%": 0.4, "0.5%": 0.3, "1%": 0.2, "2%": 0.1},
    }
    model.save(root / "model")
    return str(root / "model")


def detector(path: str, **kw: float) -> ContentClassifierDetector:
    return ContentClassifierDetector(ContentClassifierSettings(model_path=path, **kw))


def test_edges_come_from_the_model_and_settings_override_each(model_path: str) -> None:
    assert detector(model_path).edges("phish").edges == (0.01, 0.02, 0.03)
    assert detector(model_path).edges("spam").edges == (0.2, 0.4, 0.9)
    edges = detector(model_path, spam_threshold=0.5, spam_threshold_high=0.97).edges("spam")
    assert edges.edges == (0.2, 0.5, 0.97) and edges.configured == (False, True, True)
    assert detector(model_path, spam_threshold_low=0.6).edges("spam").edges == (0.6, 0.6, 0.9)
    assert detector(model_path, spam_threshold_low=0.6).edges("phish").edges == (0.01, 0.02, 0.03)


def lure() -> ParsedMessage:
    return make_message(
        subject="Action needed", text="Confirm your password to keep your account active."
    )


def test_explanation_names_probability_and_band(model_path: str) -> None:
    det = detector(model_path, phish_threshold_high=0.9)
    p = det.model.predict([lure()])[0]["phish"]
    assert 0.03 < p < 0.9
    finding = by_symbol(run(det, lure()))["CONTENT_PHISH"]
    assert finding.explanation == (
        f"The wording and links resemble known phishing (probability {p:.2f}, "
        "a level seen in at most 0.3% of legitimate mail in training)."
    )
    assert finding.factor == pytest.approx(points(p, (0.01, 0.02, 0.9)) / 12)
    strong = by_symbol(run(detector(model_path), lure()))["CONTENT_PHISH"]
    assert strong.explanation.endswith(
        "a level seen in at most 0.1% of legitimate mail in training)."
    )
    assert strong.factor >= 10 / 12 > finding.factor
    configured = by_symbol(run(detector(model_path, phish_threshold_high=0.035), lure()))
    assert configured["CONTENT_PHISH"].explanation.endswith(
        "at or above the configured 0.1% threshold 0.035)."
    )


def test_spam_uses_the_same_points_capped_at_its_weight(model_path: str) -> None:
    assert WEIGHTS == {"phish": 12.0, "spam": 4.5}
    det = detector(model_path, spam_threshold_low=0.001, spam_threshold=0.002,
                   spam_threshold_high=0.003)  # fmt: skip
    spam = by_symbol(run(det, lure())).get("CONTENT_SPAM")
    assert spam is not None and spam.factor == 1.0  # 10+ points, capped at 4.5 of 4.5
    weak = detector(model_path, spam_threshold_low=0.001, spam_threshold=0.99,
                    spam_threshold_high=0.999)  # fmt: skip
    assert by_symbol(run(weak, lure()))["CONTENT_SPAM"].factor * 4.5 < 4.5  # the weak band
    symbols = ContentClassifierDetector.symbols
    assert symbols["CONTENT_PHISH"].weight == 12.0 and symbols["CONTENT_SPAM"].weight == 4.5
    assert symbols["CONTENT_PHISH"].group == symbols["CONTENT_SPAM"].group == "content"
