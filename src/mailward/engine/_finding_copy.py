"""Copies of a Finding with one field changed, made by calling the constructor directly.

``dataclasses.replace`` looks up the dataclass's fields on every call; the engine copies every
finding of every scan once or twice (the detector's name, the score), so these build the copy
from the six fields themselves. A test keeps them in step with :class:`mailward.model.Finding`
(a field added there fails it until it is added here).
"""

from __future__ import annotations

from mailward.model import Finding


def with_detector(finding: Finding, name: str) -> Finding:
    """``dataclasses.replace(finding, detector=name)``."""
    f = finding
    return Finding(f.symbol, f.explanation, f.evidence, f.factor, f.score, name)


def with_score(finding: Finding, score: float) -> Finding:
    """``dataclasses.replace(finding, score=score)``."""
    f = finding
    return Finding(f.symbol, f.explanation, f.evidence, f.factor, score, f.detector)
