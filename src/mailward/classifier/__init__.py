"""The statistical content classifier: features, a pickle-free linear model, training, split.

Public surface:

- :func:`in_holdout` the exact held-out split (sha256 of the bytes, ``x % 4 == 0``);
- :class:`Featurizer` / :class:`FeatureSpec` message -> hashed sparse row (sender content only);
- :class:`LinearModel`, :func:`load_model`, :func:`load_shipped`, :class:`ModelError`;
- :mod:`mailward.classifier.training` corpus loading and fitting;
- :mod:`mailward.classifier.cv` thresholds chosen out-of-fold on the training part, and the
  report-only held-out metrics.

The shipped model and its card are in ``model/`` beside this file.
"""

from mailward.classifier.features import FeatureSpec, Featurizer
from mailward.classifier.linear import LinearModel, ModelError, load_model, load_shipped
from mailward.classifier.split import in_holdout

__all__ = [
    "FeatureSpec",
    "Featurizer",
    "LinearModel",
    "ModelError",
    "in_holdout",
    "load_model",
    "load_shipped",
]
