"""Decision thresholds from out-of-fold predictions; held-out metrics for the report only.

Nothing that is chosen may see the held-out part, so :func:`train` does, in this order:

1. deal the TRAINING part into ``FOLDS`` (4) folds, stratified by class and decided by the
   content hash (:func:`mailward.classifier.split.assign_folds`);
2. for each fold, fit a model on the other folds (same features and hyperparameters as the
   final model) and predict the fold, so every training message gets an out-of-fold probability;
3. for each target class (phish, spam) fit a Platt curve (one-feature logistic regression on
   the logit of the out-of-fold probability, target vs. the rest) so that a probability means
   what it says (model JSON ``"calibration"``, with the out-of-fold Brier score and expected
   calibration error before and after); the out-of-fold probabilities are calibrated with it;
4. for each target class and each ham false-positive rate f in ``FPR_POINTS``
   (0.1 %, 0.3 %, 0.5 %, 1 %, 2 %), take the threshold t = the smallest value such that at most
   a fraction f of the training ham have an out-of-fold probability above t
   (model JSON ``"thresholds_at_ham_fpr"``: ``{"phish": {"0.1%": t, ...}, "spam": {...}}``);
5. fit the final model on the whole training part;
6. only then score the held-out part with those thresholds (model JSON ``"holdout_metrics"``,
   marked ``"report_only": true``): at each threshold, recall of the target class and the ham
   false-positive rate, counting a message when p >= t (as the content detector fires).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from mailward.classifier.features import FeatureSpec, Featurizer
from mailward.classifier.linear import CLASSES, FloatArray, LinearModel, platt
from mailward.classifier.split import assign_folds
from mailward.classifier.training import DEFAULT_C, Corpus, Sample, fit_rows

FOLDS = 4
FPR_POINTS = (0.001, 0.003, 0.005, 0.01, 0.02)
TARGETS = ("phish", "spam")
CV_METHOD = (
    "stratified k-fold over the training part only, folds dealt per class by sha256 bits 32-63 "
    "of the message bytes; thresholds from the out-of-fold probabilities of the training ham"
)
REPORT_NOTE = (
    "report only: the held-out part scored with the thresholds chosen out-of-fold on the "
    "training part; nothing was chosen or tuned on it"
)
Thresholds = dict[str, dict[str, float]]


def fpr_label(fpr: float) -> str:
    """The key of a false-positive rate in the model JSON: 0.001 -> "0.1%", 0.01 -> "1%"."""
    return f"{fpr * 100:g}%"


def threshold_at_fpr(neg: FloatArray, fpr: float) -> float:
    """The smallest t such that at most ``fpr`` of ``neg`` are above t (0.0 when all may be)."""
    if len(neg) == 0:
        raise ValueError("no negative scores to set a threshold on")
    allowed = int(np.floor(fpr * len(neg) + 1e-9))
    ordered = np.sort(np.asarray(neg))[::-1]
    return float(ordered[allowed]) if allowed < len(ordered) else 0.0


def thresholds_at_ham_fpr(
    probs: FloatArray, labels: Sequence[str], classes: Sequence[str]
) -> Thresholds:
    """{target: {fpr label: threshold}} from the ham rows of ``probs`` ({} without ham)."""
    ham = np.array([lab == "ham" for lab in labels], dtype=bool)
    if not ham.any():
        return {}
    return {
        target: {
            fpr_label(f): threshold_at_fpr(probs[ham, classes.index(target)], f)
            for f in FPR_POINTS
        }
        for target in TARGETS if target in classes
    }  # fmt: skip


def rates_at(
    probs: FloatArray, labels: Sequence[str], classes: Sequence[str], thresholds: Thresholds
) -> dict[str, dict[str, dict[str, float | None]]]:
    """{target: {fpr label: {threshold, recall, ham_fpr}}}, a message counting when p >= t."""
    names = np.array(labels)
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for target, points in thresholds.items():
        score = probs[:, classes.index(target)]
        pos, ham = score[names == target], score[names == "ham"]
        out[target] = {
            label: {
                "threshold": round(t, 6),
                "recall": round(float(np.mean(pos >= t)), 4) if len(pos) else None,
                "ham_fpr": round(float(np.mean(ham >= t)), 5) if len(ham) else None,
            }
            for label, t in points.items()
        }
    return out


def fit_calibration(
    probs: FloatArray, labels: Sequence[str], classes: Sequence[str]
) -> dict[str, tuple[float, float]]:
    """{target: (a, b)} Platt curves on the logit of ``probs`` (target vs. the rest)."""
    names = np.array(labels)
    curves: dict[str, tuple[float, float]] = {}
    for target in TARGETS:
        if target not in classes:
            continue
        y = names == target
        if y.all() or not y.any():
            continue
        p = np.clip(probs[:, classes.index(target)].astype(np.float64), 1e-7, 1 - 1e-7)
        x = np.log(p / (1 - p)).reshape(-1, 1)
        lr = LogisticRegression(C=1e4, max_iter=1000).fit(x, y)
        curves[target] = (round(float(lr.coef_[0][0]), 6), round(float(lr.intercept_[0]), 6))
    return curves


def calibrate_columns(
    probs: FloatArray, classes: Sequence[str], curves: dict[str, tuple[float, float]]
) -> FloatArray:
    out = probs.copy()
    for target, (a, b) in curves.items():
        j = list(classes).index(target)
        out[:, j] = platt(out[:, j], a, b)
    return out


def _ece(p: FloatArray, y: npt.NDArray[np.bool_], bins: int = 10) -> float:
    """Expected calibration error over equal-width probability bins."""
    edges = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = edges == b
        if sel.any():
            total += sel.mean() * abs(float(p[sel].mean()) - float(y[sel].mean()))
    return total


def calibration_quality(
    raw: FloatArray, calibrated: FloatArray, labels: Sequence[str], classes: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Out-of-fold Brier score and expected calibration error, before and after."""
    names = np.array(labels)
    out: dict[str, dict[str, float]] = {}
    for target in TARGETS:
        if target not in classes:
            continue
        y = names == target
        j = list(classes).index(target)
        out[target] = {
            "brier_before": round(float(np.mean((raw[:, j] - y) ** 2)), 5),
            "brier_after": round(float(np.mean((calibrated[:, j] - y) ** 2)), 5),
            "ece_before": round(_ece(raw[:, j], y), 5),
            "ece_after": round(_ece(calibrated[:, j], y), 5),
        }
    return out


def out_of_fold(
    rows: sp.csr_matrix,
    samples: Sequence[Sample],
    featurizer: Featurizer,
    c: float = DEFAULT_C,
    folds: int = FOLDS,
) -> FloatArray:
    """Out-of-fold class probabilities of every sample (columns: the classes present)."""
    labels = [s.label for s in samples]
    classes = [c_ for c_ in CLASSES if c_ in labels]
    fold_of = np.array(assign_folds(labels, [s.key for s in samples], folds))
    oof = np.zeros((len(samples), len(classes)), dtype=np.float32)
    for fold in range(folds):
        test = fold_of == fold
        if not test.any():
            continue
        train_idx = [int(i) for i in np.flatnonzero(~test)]
        model = fit_rows(
            rows[train_idx],
            [labels[i] for i in train_idx],
            [samples[i].weight for i in train_idx],
            featurizer,
            c,
        )
        probs = model.predict_rows(rows[np.flatnonzero(test)])
        for j, cls in enumerate(model.classes):
            oof[test, classes.index(cls)] = probs[:, j]
    return oof


def holdout_report(
    model: LinearModel, samples: Sequence[Sample], thresholds: Thresholds
) -> dict[str, Any]:
    """Report-only metrics of ``model`` on held-out ``samples`` at the given thresholds."""
    if not samples:
        return {}
    rows = model.featurizer.transform([s.msg for s in samples])
    probs = model.calibrated(model.predict_rows(rows))
    labels = [s.label for s in samples]
    names = np.array(labels)
    predicted = np.array(model.classes)[probs.argmax(axis=1)]
    return {
        "report_only": True,
        "note": REPORT_NOTE,
        "n": len(samples),
        "accuracy": round(float(np.mean(predicted == names)), 4),
        "per_class_recall": {
            c: round(float(np.mean(predicted[names == c] == c)), 4)
            for c in model.classes if np.any(names == c)
        },
        "at_cv_thresholds": rates_at(probs, labels, model.classes, thresholds),
    }  # fmt: skip


def train(
    corpus: Corpus, spec: FeatureSpec | None = None, c: float = DEFAULT_C, folds: int = FOLDS
) -> LinearModel:
    """Thresholds out-of-fold on ``corpus.train``, final fit on it, report on ``corpus.test``."""
    samples = corpus.train
    featurizer = Featurizer(spec)
    rows = featurizer.transform([s.msg for s in samples])
    labels = [s.label for s in samples]
    raw_oof = out_of_fold(rows, samples, featurizer, c, folds)
    classes = [c_ for c_ in CLASSES if c_ in labels]
    curves = fit_calibration(raw_oof, labels, classes)
    model = fit_rows(rows, labels, [s.weight for s in samples], featurizer, c)
    model.info["calibration"] = {k: list(v) for k, v in curves.items()}
    oof = calibrate_columns(raw_oof, classes, curves)
    thresholds = thresholds_at_ham_fpr(oof, labels, classes)
    model.info.update(
        {
            "calibration_quality": calibration_quality(raw_oof, oof, labels, classes),
            "thresholds_at_ham_fpr": thresholds,
            "cross_validation": {
                "method": CV_METHOD,
                "folds": folds,
                "n": len(samples),
                "out_of_fold_at_thresholds": rates_at(oof, labels, classes, thresholds),
            },
            "holdout_metrics": holdout_report(model, corpus.test, thresholds),
        }
    )
    return model
