"""Thresholds chosen out-of-fold on the training part only; held-out metrics are report-only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from classifier_corpus import message, write_corpus

from mailward.classifier import FeatureSpec, LinearModel, cv, in_holdout, training
from mailward.classifier.split import assign_folds, fold_key, split_key

SMALL = FeatureSpec(word_features=2**12, char_features=2**12, meta_features=2**8)
LURE = "Your password expires today, verify your account at the portal now."


def train(root: Path) -> LinearModel:
    return cv.train(training.load_corpus(root), SMALL)


def replace_with(path: Path, body: str, held_out: bool) -> None:
    """Overwrite ``path`` with a new message whose split side is ``held_out``."""
    for n in range(10_000):
        raw = message("Account notice", f"{body}\n\nref {n}", "http://login.example-verify.top/")
        if in_holdout(raw) is held_out:
            path.write_bytes(raw)
            return
    raise AssertionError("no candidate found")


def side(root: Path, held_out: bool) -> list[Path]:
    return sorted(p for p in root.rglob("*.eml") if in_holdout(p.read_bytes()) is held_out)


def test_fold_key_uses_other_bits_than_the_split() -> None:
    raws = [f"m{i}".encode() for i in range(200)]
    assert all(fold_key(r) == fold_key(bytes(r)) for r in raws)
    assert sum(fold_key(r) % 4 == split_key(r) % 4 for r in raws) < 120


def test_folds_are_stratified_deterministic_and_keep_duplicates_together() -> None:
    labels = ["ham"] * 9 + ["phish"] * 6
    keys = [fold_key(f"x{i}".encode()) for i in range(15)]
    keys[1] = keys[0]  # two identical messages
    folds = assign_folds(labels, keys, 4)
    assert folds == assign_folds(labels, keys, 4)
    assert folds[0] == folds[1]
    for label in ("ham", "phish"):
        per_fold = [
            sum(1 for f, lab in zip(folds, labels, strict=True) if lab == label and f == k)
            for k in range(4)
        ]
        assert max(per_fold) - min(per_fold) <= 2 and sum(per_fold) == labels.count(label)
    distinct = [f for i, f in enumerate(folds) if i != 1 and labels[i] == "phish"]
    assert sorted(distinct) == [0, 0, 1, 1, 2, 3]
    with pytest.raises(ValueError):
        assign_folds(labels, keys, 1)


def test_threshold_lets_at_most_the_fraction_above() -> None:
    ham = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95], dtype=np.float32)
    assert cv.threshold_at_fpr(ham, 0.0) == pytest.approx(0.95)  # none above
    t = cv.threshold_at_fpr(ham, 0.2)
    assert t == pytest.approx(0.8) and np.sum(ham > t) == 2
    assert np.sum(ham > np.nextafter(np.float32(t), np.float32(0))) == 3  # smallest such value
    assert cv.threshold_at_fpr(ham, 0.29) == pytest.approx(0.8)
    assert cv.threshold_at_fpr(ham, 1.0) == 0.0
    with pytest.raises(ValueError):
        cv.threshold_at_fpr(np.array([], dtype=np.float32), 0.1)


def test_fpr_labels_and_rates() -> None:
    assert [cv.fpr_label(f) for f in cv.FPR_POINTS] == ["0.1%", "0.3%", "0.5%", "1%", "2%"]
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.5, 0.5], [0.4, 0.6]], dtype=np.float32)
    labels, classes = ["ham", "ham", "phish", "phish"], ["ham", "phish"]
    assert cv.thresholds_at_ham_fpr(probs, ["phish"] * 4, classes) == {}
    (row,) = cv.rates_at(probs, labels, classes, {"phish": {"1%": 0.6}})["phish"].values()
    assert row == {"threshold": 0.6, "recall": 0.5, "ham_fpr": 0.5}  # p >= t counts


def test_model_records_cv_thresholds_and_report_only_holdout(tmp_path: Path) -> None:
    model = train(write_corpus(tmp_path / "c"))
    thresholds = model.info["thresholds_at_ham_fpr"]
    assert set(thresholds) == {"phish", "spam"}
    for points in thresholds.values():
        assert list(points) == ["0.1%", "0.3%", "0.5%", "1%", "2%"]
        values = list(points.values())
        assert values == sorted(values, reverse=True)
    assert model.thresholds_at_ham_fpr("phish") == thresholds["phish"]
    assert model.thresholds_at_ham_fpr("malware") == {}
    report = model.info["holdout_metrics"]
    assert report["report_only"] is True and "nothing was chosen" in report["note"]
    assert report["at_cv_thresholds"]["phish"]["0.1%"]["threshold"] == pytest.approx(
        thresholds["phish"]["0.1%"], abs=1e-6
    )
    assert model.info["cross_validation"]["folds"] == 4


def test_held_out_messages_do_not_move_the_thresholds(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "c")
    before = train(root)
    held = side(root, held_out=True)
    assert held
    for path in held:  # every held-out message becomes a lure (ham ones too)
        replace_with(path, LURE, held_out=True)
    replace_with(root / "ham" / "extra.eml", LURE, held_out=True)
    after = train(root)
    assert after.info["thresholds_at_ham_fpr"] == before.info["thresholds_at_ham_fpr"]
    assert np.array_equal(after.coef, before.coef)
    assert after.info["holdout_metrics"] != before.info["holdout_metrics"]


def test_training_messages_do_move_the_thresholds(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "c")
    before = train(root)
    trained_ham = [p for p in side(root, held_out=False) if p.parent.name == "ham"]
    replace_with(trained_ham[0], LURE, held_out=False)
    after = train(root)
    assert after.info["thresholds_at_ham_fpr"] != before.info["thresholds_at_ham_fpr"]


def test_no_training_ham_gives_no_thresholds(tmp_path: Path) -> None:
    root = write_corpus(tmp_path / "c")
    for path in (root / "ham").iterdir():
        path.unlink()
    model = train(root)
    assert model.info["thresholds_at_ham_fpr"] == {}
    assert model.thresholds_at_ham_fpr("phish") == {}


def test_probabilities_are_calibrated_out_of_fold(tmp_path: Path) -> None:
    model = train(write_corpus(tmp_path / "c"))
    curves = model.info["calibration"]
    assert set(curves) == {"phish", "spam"}
    quality = model.info["calibration_quality"]["phish"]
    # the Platt curve is fitted on the same out-of-fold probabilities: it cannot do worse
    assert quality["brier_after"] <= quality["brier_before"] + 1e-6
    raw = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], dtype=np.float32)
    calibrated = model.calibrated(raw)
    a, b = curves["phish"]
    assert calibrated[0, 2] == pytest.approx(1 / (1 + np.exp(-(a * np.log(0.5 / 0.5) + b))), rel=1e-4)
    assert (calibrated[1, 2] > calibrated[0, 2]) == (a > 0)  # monotone, same order as the model
    assert calibrated[0, 0] == pytest.approx(0.2)  # ham is not a target: unchanged


def test_platt_identity_curve_changes_nothing() -> None:
    from mailward.classifier.linear import platt

    p = np.array([0.01, 0.5, 0.97], dtype=np.float32)
    assert platt(p, 1.0, 0.0) == pytest.approx(p, rel=1e-5)
