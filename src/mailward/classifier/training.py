"""Corpus loading and model fitting of the content classifier.

A corpus folder holds one sub-folder per class (``ham``, ``spam``, ``phish``; .eml files,
folders of them or mbox files). Each message goes to the held-out test part or to training by
:func:`mailward.classifier.split.in_holdout` on its bytes, and carries its
:func:`~mailward.classifier.split.fold_key` for cross-validation. Fitting is a multinomial
logistic regression (scikit-learn, lbfgs) on :class:`~mailward.classifier.features.Featurizer`
rows with balanced class weights; analyst feedback samples weigh ``FEEDBACK_WEIGHT`` times more.

Choosing the decision thresholds (out-of-fold, on the training part only) and the report-only
held-out metrics are in :mod:`mailward.classifier.cv`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from mailward.classifier.features import FeatureSpec, Featurizer
from mailward.classifier.linear import CLASSES, FloatArray, LinearModel
from mailward.classifier.split import DEFAULT_HOLDOUT_FRACTION, fold_key, in_holdout
from mailward.cli.sources import iter_messages
from mailward.config.settings import LimitSettings
from mailward.errors import MailwardError, ParseError
from mailward.mime import parse_message
from mailward.model import ParsedMessage

FEEDBACK_WEIGHT = 3.0
#: Inverse regularisation strength; hashed, l2-normalised blocks need a weak penalty.
DEFAULT_C = 20.0
#: Weights kept after training (largest magnitude first): about 3.5 MB compressed.
MAX_NONZERO = 400_000
_LIMITS = LimitSettings()
FloatArray64 = npt.NDArray[np.float64]


@dataclass(slots=True)
class Sample:
    """One parsed message with its label and training weight."""

    label: str
    msg: ParsedMessage
    weight: float = 1.0
    #: :func:`~mailward.classifier.split.fold_key` of the message bytes (cross-validation).
    key: int = 0


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
            part.append(Sample(label, msg, 1.0, fold_key(source.raw)))
    return corpus


def add_feedback(corpus: Corpus, samples: Iterable[tuple[str, bytes]]) -> int:
    """Add analyst feedback (label, raw) to the training part at FEEDBACK_WEIGHT; returns count."""
    added = 0
    for label, raw in samples:
        msg = parse(raw)
        if msg is not None and label in CLASSES:
            corpus.train.append(Sample(label, msg, FEEDBACK_WEIGHT, fold_key(raw)))
            added += 1
    return added


def balanced_weights(labels: Sequence[str], weights: Sequence[float]) -> FloatArray64:
    """Sample weights that give every present class the same total (times each sample's own)."""
    present = list(dict.fromkeys(labels))
    counts = {c: sum(1 for lab in labels if lab == c) for c in present}
    scale = {c: len(labels) / (len(present) * n) for c, n in counts.items()}
    return np.array([scale[lab] * w for lab, w in zip(labels, weights, strict=True)])


def fit_rows(
    rows: sp.csr_matrix,
    labels: Sequence[str],
    weights: Sequence[float],
    featurizer: Featurizer,
    c: float = DEFAULT_C,
) -> LinearModel:
    """Train on feature rows already built by ``featurizer`` (at least two classes needed)."""
    classes = tuple(c_ for c_ in CLASSES if c_ in labels)
    if len(classes) < 2:
        raise MailwardError("training needs messages of at least two classes")
    targets = np.array([classes.index(lab) for lab in labels])
    clf = LogisticRegression(C=c, max_iter=300, tol=1e-4)
    clf.fit(rows, targets, sample_weight=balanced_weights(labels, weights))
    coef = np.asarray(clf.coef_, dtype=np.float32)
    intercept = np.asarray(clf.intercept_, dtype=np.float32)
    if len(classes) == 2:  # binary: one weight vector; as softmax, class 0 gets zero logits
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.array([0.0, intercept[0]], dtype=np.float32)
    return LinearModel(classes, prune(coef), intercept, featurizer.spec, {}, featurizer)


def fit(
    samples: Sequence[Sample], spec: FeatureSpec | None = None, c: float = DEFAULT_C
) -> LinearModel:
    """Train a model on ``samples`` (no thresholds: see :func:`mailward.classifier.cv.train`)."""
    featurizer = Featurizer(spec)
    rows = featurizer.transform([s.msg for s in samples])
    labels = [s.label for s in samples]
    return fit_rows(rows, labels, [s.weight for s in samples], featurizer, c)


def prune(coef: FloatArray, keep: int = MAX_NONZERO) -> FloatArray:
    """``coef`` with all but its ``keep`` largest-magnitude weights set to zero (a small file)."""
    flat = np.abs(coef).ravel()
    if np.count_nonzero(flat) <= keep:
        return coef
    cutoff = np.partition(flat, flat.size - keep)[flat.size - keep]
    pruned: FloatArray = np.where(np.abs(coef) >= cutoff, coef, 0.0).astype(np.float32)
    return pruned
