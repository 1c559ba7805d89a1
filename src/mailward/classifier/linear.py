"""A trained linear content model, saved and loaded WITHOUT pickle.

A model is two files side by side: ``NAME.json`` (classes, feature sizes, the thresholds chosen
out-of-fold on the training part, report-only held-out metrics, provenance) and ``NAME.npz``
(``coef_rows``/``coef_cols``/``coef_values``: the non-zero coefficients, float32;
``intercept``: one per class). The .npz is read with
``np.load(allow_pickle=False)``, so a model file can carry numbers and nothing that runs.
Probabilities are the softmax of ``X @ coef.T + intercept`` over the classes; the target
classes are then calibrated (Platt curves fitted out-of-fold, JSON ``"calibration"``).

The shipped model lives in ``mailward/classifier/model/content_model.{json,npz}`` and is read
through :mod:`importlib.resources` by :func:`load_shipped`.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mailward.classifier import _native
from mailward.classifier.features import FeatureSpec, Featurizer
from mailward.errors import MailwardError
from mailward.model import ParsedMessage

if TYPE_CHECKING:
    import scipy.sparse as sp

FORMAT = "mailward-linear-v1"
SHIPPED_NAME = "content_model"
CLASSES = ("ham", "spam", "phish")
#: The reductions behind ``ndarray.max()`` and ``ndarray.sum()`` (numpy's ``_methods`` call
#: these with the same arguments): one Python frame less each.
_MAX = np.maximum.reduce
_SUM = np.add.reduce

FloatArray = npt.NDArray[np.float32]


class ModelError(MailwardError):
    """A model file that is missing, unreadable or not a mailward linear model."""


@dataclass(slots=True)
class LinearModel:
    """Softmax-linear classifier over :class:`Featurizer` rows; ``classes`` name the columns."""

    classes: tuple[str, ...]
    coef: FloatArray  # (n_classes, n_features), dense in memory
    intercept: FloatArray  # (n_classes,)
    spec: FeatureSpec
    info: dict[str, Any] = field(default_factory=dict)
    _featurizer: Featurizer | None = None
    _coef_t: FloatArray = field(init=False, repr=False)
    #: (column, a, b) of each Platt curve, made on first use by :meth:`_probabilities`
    _curves: list[tuple[int, float, float]] | None = field(default=None, init=False, repr=False)
    #: the compiled helper's ``row_sums`` (:mod:`mailward.classifier._native`), or None
    _row_sums: _native.RowSums | None = field(default=None, init=False, repr=False)

    @property
    def featurizer(self) -> Featurizer:
        if self._featurizer is None:
            self._featurizer = Featurizer(self.spec)
        return self._featurizer

    def __post_init__(self) -> None:
        # (n_features, n_classes), contiguous: a sparse row times it copies nothing.
        self._coef_t = np.ascontiguousarray(self.coef.T)
        native = _native.NATIVE
        if native is not None and self._coef_t.dtype == np.float32:
            self._row_sums = native.row_sums

    def predict_rows(self, rows: sp.csr_matrix) -> FloatArray:
        """Class probabilities, one row per input row."""
        return _softmax(np.asarray(rows @ self._coef_t, dtype=np.float32) + self.intercept)

    def predict_row(self, indices: npt.NDArray[np.int32], values: FloatArray) -> FloatArray:
        """Class probabilities of one row given as (column indices, values), shape (1, classes).

        The same numbers as :meth:`predict_rows` on that row, without building a sparse
        matrix (see :meth:`_sums`).
        """
        return _softmax(self._sums(indices, values)[None, :] + self.intercept)

    def _sums(self, indices: npt.NDArray[np.int32], values: FloatArray) -> FloatArray:
        """``X @ coef.T`` of one row, shape (classes,): the products summed in float32 one
        after another in the row's order (``cumsum``), as the sparse product does; the
        coefficients are read in the (features, classes) layout, whose rows a row's indices
        pick in one ``take`` (one cache line a column). The compiled helper, when built, adds
        the same float32 products in the same order."""
        if self._row_sums is not None:
            out = np.empty(len(self.classes), dtype=np.float32)
            self._row_sums(self._coef_t, indices, values, out)
            return out
        if not len(indices):
            return np.zeros(len(self.classes), dtype=np.float32)
        terms = self._coef_t.take(indices, axis=0)  # (terms, classes)
        terms *= values[:, None]
        sums: FloatArray = np.cumsum(terms, axis=0, dtype=np.float32)[-1]
        return sums

    def calibrated(self, probs: FloatArray) -> FloatArray:
        """``probs`` with each calibrated class mapped through its Platt curve
        (``info["calibration"]``: {class: [a, b]}, p' = sigmoid(a * logit(p) + b), fitted
        out-of-fold in training); other columns unchanged."""
        curves = self.info.get("calibration", {})
        if not curves:
            return probs
        out = probs.copy()
        for label, (a, b) in curves.items():
            if label in self.classes:
                j = self.classes.index(label)
                out[:, j] = platt(out[:, j], float(a), float(b))
        return out

    def _probabilities(self, sums: FloatArray) -> list[float]:
        """Calibrated probabilities of one row from its float32 sums ``X @ coef.T``: the numbers
        of ``calibrated(softmax(sums + intercept))``, in fewer numpy calls. The float64
        additions, products and divisions of the Platt curves are done on Python floats (the
        same IEEE operations, and the float64 -> float32 rounding of ``np.array(..., float32)``
        is ``astype``'s); log and exp stay numpy's, on an array of the calibrated columns
        (numpy computes each element alike whatever the array's length)."""
        logits = sums + self.intercept
        logits -= _MAX(logits)  # ndarray.max()/sum() without their Python wrappers
        exp = np.exp(logits)
        probs: list[float] = (exp / _SUM(exp)).tolist()
        if self._curves is None:
            self._curves = [
                (self.classes.index(label), float(a), float(b))
                for label, (a, b) in self.info.get("calibration", {}).items()
                if label in self.classes
            ]
        if not self._curves:
            return probs
        kept = [min(max(probs[j], 1e-7), 1 - 1e-7) for j, _, _ in self._curves]
        logs = np.log(np.array([q / (1 - q) for q in kept])).tolist()
        z = [a * log + b for (_, a, b), log in zip(self._curves, logs, strict=True)]
        exp_z = np.exp(np.array([-v for v in z])).tolist()
        sigmoid = np.array([1.0 / (1.0 + v) for v in exp_z], dtype=np.float32).tolist()
        for (j, _, _), p in zip(self._curves, sigmoid, strict=True):
            probs[j] = p
        return probs

    def predict(self, messages: Sequence[ParsedMessage]) -> list[dict[str, float]]:
        """{class: calibrated probability} for each message."""
        probs = self.calibrated(self.predict_rows(self.featurizer.transform(messages)))
        return [dict(zip(self.classes, map(float, row), strict=True)) for row in probs]

    def predict_one(self, message: ParsedMessage) -> dict[str, float]:
        """``predict([message])[0]``, without the sparse matrix (see :meth:`predict_row`)."""
        probs = self._probabilities(self._sums(*self.featurizer.row(message)))
        return dict(zip(self.classes, probs, strict=True))

    def thresholds_at_ham_fpr(self, target: str) -> dict[str, float]:
        """{"0.1%": t, "0.3%": t, ...} chosen out-of-fold in training for ``target`` (or {})."""
        points = self.info.get("thresholds_at_ham_fpr", {}).get(target, {})
        return {str(k): float(v) for k, v in points.items() if isinstance(v, int | float)}

    def save(self, path: Path) -> tuple[Path, Path]:
        """Write ``path`` with .json and .npz suffixes; returns both paths."""
        json_path, npz_path = path.with_suffix(".json"), path.with_suffix(".npz")
        rows, cols = np.nonzero(self.coef)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            npz_path,
            coef_rows=rows.astype(np.int8),
            coef_cols=cols.astype(np.int32),
            coef_values=self.coef[rows, cols].astype(np.float32),
            intercept=self.intercept.astype(np.float32),
        )
        meta = {"format": FORMAT, "classes": list(self.classes), "features": self.spec.to_json()}
        json_path.write_text(json.dumps({**meta, **self.info}, indent=2, sort_keys=True) + "\n")
        return json_path, npz_path


def _softmax(logits: FloatArray) -> FloatArray:
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    out: FloatArray = exp / exp.sum(axis=1, keepdims=True)
    return out


def platt(p: FloatArray, a: float, b: float) -> FloatArray:
    """sigmoid(a * logit(p) + b), elementwise, with p kept off 0 and 1."""
    q = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    z = a * np.log(q / (1 - q)) + b
    out: FloatArray = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    return out


def _from_parts(meta: Mapping[str, Any], arrays: Mapping[str, Any]) -> LinearModel:
    if meta.get("format") != FORMAT:
        raise ModelError(f"not a {FORMAT} model (format {meta.get('format')!r})")
    classes = tuple(str(c) for c in meta["classes"])
    spec = FeatureSpec.from_json(meta["features"])
    coef = np.zeros((len(classes), spec.n_features), dtype=np.float32)
    coef[arrays["coef_rows"].astype(np.intp), arrays["coef_cols"].astype(np.intp)] = arrays[
        "coef_values"
    ]
    intercept = np.asarray(arrays["intercept"], dtype=np.float32)
    if intercept.shape != (len(classes),):
        raise ModelError("intercept does not match the classes")
    info = {k: v for k, v in meta.items() if k not in ("format", "classes", "features")}
    return LinearModel(classes, coef, intercept, spec, info)


def _read(json_bytes: bytes, npz_bytes: bytes, where: str) -> LinearModel:
    try:
        meta = json.loads(json_bytes)
        with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        return _from_parts(meta, arrays)
    except ModelError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, OSError) as exc:
        raise ModelError(f"{where}: not a readable model: {exc}") from exc


def load_model(path: Path) -> LinearModel:
    """The model saved at ``path`` (with or without the .json/.npz suffix)."""
    try:
        json_bytes = path.with_suffix(".json").read_bytes()
        npz_bytes = path.with_suffix(".npz").read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model {path}: {exc.strerror or exc}") from exc
    return _read(json_bytes, npz_bytes, str(path))


@functools.cache
def load_shipped() -> LinearModel:
    """The model shipped in ``mailward/classifier/model/`` (loaded once per process)."""
    folder = resources.files("mailward.classifier") / "model"
    try:
        json_bytes = (folder / f"{SHIPPED_NAME}.json").read_bytes()
        npz_bytes = (folder / f"{SHIPPED_NAME}.npz").read_bytes()
    except OSError as exc:
        raise ModelError(f"the shipped content model is missing: {exc}") from exc
    return _read(json_bytes, npz_bytes, "shipped model")
