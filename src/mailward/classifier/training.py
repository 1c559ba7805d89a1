"""Training and held-out evaluation of the content classifier.

A corpus folder holds one sub-folder per class (``ham``, ``spam``, ``phish``; .eml files,
folders of them or mbox files). Each message goes to the held-out test part or to training by
:func:`mailward.classifier.split.in_holdout` on its bytes. Training fits a multinomial logistic
regression (scikit-learn, lbfgs) on :class:`~mailward.classifier.features.Featurizer` rows with
balanced class weights; analyst feedback samples weigh ``FEEDBACK_WEIGHT`` times more.

Held-out metrics: per-class counts, accuracy, and the phish recall reached when the phish
probability threshold lets through at most 0.3 %, 0.5 % and 1 % of held-out ham ("recall at ham
false-positive rate"); the threshold at 0.3 % becomes the model's recommended "phish"
threshold (never below 0.5), and likewise for spam.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from mailward.classifier.features import FeatureSpec, Featurizer
from mailward.classifier.linear import CLASSES, FloatArray, LinearModel
from mailward.classifier.split import DEFAULT_HOLDOUT_FRACTION, in_holdout
from mailward.cli.sources import iter_messages
from mailward.config.settings import LimitSettings
from mailward.errors import MailwardError, ParseError
from mailward.mime import parse_message
from mailward.model import ParsedMessage

FEEDBACK_WEIGHT = 3.0
FPR_POINTS = (0.003, 0.005, 0.01)
#: Inverse regularisation strength; hashed, l2-normalised blocks need a weak penalty.
DEFAULT_C = 20.0
#: Weights kept after training (largest magnitude first): about 3.5 MB compressed.
MAX_NONZERO = 400_000
_LIMITS = LimitSettings()


@dataclass(slots=True)
class Sample:
    """One parsed message with its label and training weight."""

    label: str
    msg: ParsedMessage
    weight: float = 1.0


@dataclass(slots=True)
class Corpus:
    """Messages split into training and held-out test parts."""

    train: list[Sample] = field(default_factory=list)
    test: list[Sample] = field(default_factory=list)
    unparsed: int = 0

    def counts(self) -> dict[str, dict[str, int]]:
        out = {c: {"train": 0, "test": 0} for c in CLASSES}
        for part, samples in (("train", self.train), ("test", self.test)):
            for s in samples:
                out.setdefault(s.label, {"train": 0, "test": 0})[part] += 1
        return out


def parse(raw: bytes) -> ParsedMessage | None:
    """The parsed message, or None when it cannot be parsed within the default limits."""
    try:
        return parse_message(raw, _LIMITS)
    except ParseError:
        return None


def load_corpus(root: Path, holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION) -> Corpus:
    """Read ``root/<class>/`` for each known class present and split by content hash."""
    present = [c for c in CLASSES if (root / c).is_dir()]
    if not present:
        raise MailwardError(f"{root}: no class folders ({', '.join(CLASSES)}) found")
    corpus = Corpus()
    for label in present:
        for source in iter_messages([root / label]):
            msg = parse(source.raw)
            if msg is None:
                corpus.unparsed += 1
                continue
            part = corpus.test if in_holdout(source.raw, holdout_fraction) else corpus.train
            part.append(Sample(label, msg))
    return corpus


def add_feedback(corpus: Corpus, samples: Iterable[tuple[str, bytes]]) -> int:
    """Add analyst feedback (label, raw) to the training part at FEEDBACK_WEIGHT; returns count."""
    added = 0
    for label, raw in samples:
        msg = parse(raw)
        if msg is not None and label in CLASSES:
            corpus.train.append(Sample(label, msg, FEEDBACK_WEIGHT))
            added += 1
    return added


def _balanced(samples: Sequence[Sample], classes: Sequence[str]) -> FloatArray:
    counts = {c: sum(1 for s in samples if s.label == c) for c in classes}
    scale = {c: len(samples) / (len(classes) * n) for c, n in counts.items() if n}
    return np.array([scale[s.label] * s.weight for s in samples], dtype=np.float64)


def fit(
    samples: Sequence[Sample], spec: FeatureSpec | None = None, c: float = DEFAULT_C
) -> LinearModel:
    """Train a model on ``samples`` (at least two classes needed)."""
    classes = tuple(c_ for c_ in CLASSES if any(s.label == c_ for s in samples))
    if len(classes) < 2:
        raise MailwardError("training needs messages of at least two classes")
    featurizer = Featurizer(spec)
    rows = featurizer.transform([s.msg for s in samples])
    labels = np.array([classes.index(s.label) for s in samples])
    clf = LogisticRegression(C=c, max_iter=300, tol=1e-4)
    clf.fit(rows, labels, sample_weight=_balanced(samples, classes))
    coef = np.asarray(clf.coef_, dtype=np.float32)
    intercept = np.asarray(clf.intercept_, dtype=np.float32)
    if len(classes) == 2:  # binary: one weight vector; as softmax, class 0 gets zero logits
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.array([0.0, intercept[0]], dtype=np.float32)
    return LinearModel(classes, prune(coef), intercept, featurizer.spec, {}, featurizer)


def prune(coef: FloatArray, keep: int = MAX_NONZERO) -> FloatArray:
    """``coef`` with all but its ``keep`` largest-magnitude weights set to zero (a small file)."""
    flat = np.abs(coef).ravel()
    if np.count_nonzero(flat) <= keep:
        return coef
    cutoff = np.partition(flat, flat.size - keep)[flat.size - keep]
    pruned: FloatArray = np.where(np.abs(coef) >= cutoff, coef, 0.0).astype(np.float32)
    return pruned


def recall_at_fpr(neg: FloatArray, pos: FloatArray, fpr: float) -> tuple[float, float]:
    """(recall of ``pos``, threshold): flag scores > threshold, at most ``fpr`` of ``neg``."""
    if len(neg) == 0 or len(pos) == 0:
        return 0.0, 1.0
    allowed = int(np.floor(fpr * len(neg)))
    ordered = np.sort(neg)[::-1]
    threshold = float(ordered[allowed]) if allowed < len(ordered) else 0.0
    return float(np.mean(pos > threshold)), threshold


def evaluate(model: LinearModel, samples: Sequence[Sample]) -> dict[str, Any]:
    """Held-out metrics (see the module docstring)."""
    if not samples:
        return {}
    probs = model.predict_rows(model.featurizer.transform([s.msg for s in samples]))
    labels = np.array([s.label for s in samples])
    predicted = np.array(model.classes)[probs.argmax(axis=1)]
    out: dict[str, Any] = {
        "n": len(samples),
        "accuracy": round(float(np.mean(predicted == labels)), 4),
        "per_class_recall": {
            c: round(float(np.mean(predicted[labels == c] == c)), 4)
            for c in model.classes if np.any(labels == c)
        },
    }  # fmt: skip
    for target in ("phish", "spam"):
        if target not in model.classes:
            continue
        score = probs[:, model.classes.index(target)]
        points = {
            f"{fpr:.3%}": recall_at_fpr(score[labels == "ham"], score[labels == target], fpr)
            for fpr in FPR_POINTS
        }
        out[f"{target}_recall_at_ham_fpr"] = {k: round(v[0], 4) for k, v in points.items()}
        out[f"{target}_threshold_at_ham_fpr"] = {k: round(v[1], 4) for k, v in points.items()}
    return out


def recommended_thresholds(metrics: dict[str, Any]) -> dict[str, float]:
    """The thresholds at 0.3 % held-out ham FPR, clamped to 0.5..0.99 (0.5 without metrics)."""
    out: dict[str, float] = {}
    for target in ("phish", "spam"):
        found = metrics.get(f"{target}_threshold_at_ham_fpr", {}).get(f"{0.003:.3%}", 0.5)
        out[target] = round(min(max(float(found), 0.5), 0.99), 4)
    return out
