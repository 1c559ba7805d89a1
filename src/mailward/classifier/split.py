"""The exact, documented held-out split used to train and to evaluate the content classifier.

A message belongs to the held-out TEST part when the first 8 hex digits of the SHA-256 of its
file bytes, read as an integer ``x``, satisfy ``x % 4 == 0`` (25 %). The rule depends on the
content only, never on a file name, so a renamed or copied corpus splits the same way.

Other fractions are written as ``k/n`` (the closest fraction with ``n <= 1000``) and a message is
held out when ``x % n < k``; for the default 0.25 that is exactly ``x % 4 == 0``, and 0 holds
nothing out.

Inside the training part, cross-validation folds are drawn from the SAME hash (its next 32 bits,
:func:`fold_key`) and stratified by class: within each class, messages are ordered by that key
and dealt to folds 0, 1, ..., k-1, 0, ... in turn; identical messages (same key) share a fold.
Held-out messages never take part, so they cannot move a fold boundary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from fractions import Fraction

DEFAULT_HOLDOUT_FRACTION = 0.25


def split_key(raw: bytes) -> int:
    """The integer the split is decided on: the first 32 bits of sha256(raw)."""
    return int(hashlib.sha256(raw).hexdigest()[:8], 16)


def in_holdout(raw: bytes, fraction: float = DEFAULT_HOLDOUT_FRACTION) -> bool:
    """True when the message ``raw`` is in the held-out test part (25 % by default)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"holdout fraction {fraction} is not between 0 and 1")
    share = Fraction(fraction).limit_denominator(1000)
    if share.numerator == 0:
        return False
    return split_key(raw) % share.denominator < share.numerator


def fold_key(raw: bytes) -> int:
    """The integer cross-validation folds are dealt by: the next 32 bits of sha256(raw)."""
    return int(hashlib.sha256(raw).hexdigest()[8:16], 16)


def assign_folds(labels: Sequence[str], keys: Sequence[int], k: int) -> list[int]:
    """Fold (0..k-1) of each sample: per class, by rank of distinct key, dealt in turn."""
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, not {k}")
    folds = [0] * len(labels)
    for label in dict.fromkeys(labels):
        members = sorted((keys[i], i) for i, lab in enumerate(labels) if lab == label)
        rank, previous = -1, None
        for key, i in members:
            if key != previous:
                rank, previous = rank + 1, key
            folds[i] = rank % k
    return folds
