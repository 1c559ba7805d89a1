"""Statistical content classifier: wording, links and attachments that resemble phishing or spam.

Runs the linear model of :mod:`mailward.classifier` (features only from what the sender wrote,
linked to and attached; never headers, dates or addresses) and reports how strongly a message
resembles known phishing and spam. The model is loaded once per process.

Symbols (default weight, group "content")
  CONTENT_PHISH  12  the wording and links resemble known phishing
  CONTENT_SPAM    4.5  the wording and links resemble known spam (never tags on its own)

Banded score. Each model carries, per class, the probability thresholds at which at most 1 %,
0.3 % and 0.1 % of the training ham scored above (chosen out-of-fold on the training part,
:mod:`mailward.classifier.cv`): t1 <= t03 <= t01. The finding is worth, in points
(``factor = points / weight``, the phish scale; for spam the points are capped at its weight 4.5):

  p < t1           no finding
  t1  <= p < t03   1   -> 4.5  (weak: below tag_at 5 alone, needs corroboration)
  t03 <= p < t01   5.5 -> 9.5  (tags alone; spam: 4.5)
  p >= t01         10  -> 12, reached at p >= 0.999 (quarantines alone; spam: 4.5)

Points rise linearly in logit(p) within a band. A model without recorded thresholds (trained
with no ham) uses 0.5 / 0.8 / 0.95.

Settings ``[detectors.content]``
  model_path             path of a model written by `mailward train` (.json/.npz);
                         "" = the shipped model
  phish_threshold_low    override of t1 for CONTENT_PHISH (1 % band edge); unset = the model's
  phish_threshold        override of t03 for CONTENT_PHISH (0.3 %: where it tags alone)
  phish_threshold_high   override of t01 for CONTENT_PHISH (0.1 %: where it quarantines alone)
  spam_threshold_low, spam_threshold, spam_threshold_high   the same for CONTENT_SPAM
Overrides that break the order t1 <= t03 <= t01 are raised to keep it.

The shipped model was trained on data licensed CC BY-NC 4.0 (no commercial use); see
``mailward/classifier/model/MODEL_CARD.md``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from mailward.classifier.linear import LinearModel, load_model, load_shipped
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Finding, ParsedMessage

_GROUP = "content"
_WHAT = {"phish": "known phishing", "spam": "known spam"}
#: Nominal weight of each symbol: the points of a band are divided by it (factor <= 1).
#: Spam is capped below tag_at: a spam-like wording alone does not tag (spam costs less than a
#: missed phish, and the spam model's errors on ham are marketing mail people asked for).
WEIGHTS = {"phish": 12.0, "spam": 4.5}
#: Band edges by ham false-positive rate, low to high, and (points at the edge, points just
#: below the next edge); the last band ends at TOP.
BANDS = (("1%", 1.0, 4.5), ("0.3%", 5.5, 9.5), ("0.1%", 10.0, 12.0))
TOP = 0.999
DEFAULT_EDGES = (0.5, 0.8, 0.95)
_EPS = 1e-7


class ContentClassifierSettings(DetectorSettings):
    """Options of the content classifier detector (see the module docstring)."""

    model_path: str = ""
    phish_threshold_low: float | None = Field(None, ge=0.0, lt=1.0)
    phish_threshold: float | None = Field(None, ge=0.0, lt=1.0)
    phish_threshold_high: float | None = Field(None, ge=0.0, lt=1.0)
    spam_threshold_low: float | None = Field(None, ge=0.0, lt=1.0)
    spam_threshold: float | None = Field(None, ge=0.0, lt=1.0)
    spam_threshold_high: float | None = Field(None, ge=0.0, lt=1.0)


@dataclass(frozen=True, slots=True)
class Edges:
    """Band edges t1 <= t03 <= t01 of one class; ``configured`` marks the settings' ones."""

    edges: tuple[float, float, float]
    configured: tuple[bool, bool, bool] = (False, False, False)


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def _ramp(p: float, lo: float, hi: float) -> float:
    """0 at ``lo`` rising linearly in logit space to 1 at ``hi`` (0 when the band is empty)."""
    span = _logit(hi) - _logit(lo)
    if span <= 0.0:
        return 1.0 if p >= hi else 0.0
    return min(max((_logit(p) - _logit(lo)) / span, 0.0), 1.0)


def band_points(p: float, edges: tuple[float, float, float]) -> tuple[int, float] | None:
    """(band index 0..2, points on the 12-point scale) of probability ``p``; None below t1."""
    if p < edges[0]:
        return None
    band = sum(p >= t for t in edges) - 1
    lo = edges[band]
    hi = edges[band + 1] if band < 2 else max(TOP, lo)
    _, start, end = BANDS[band]
    return band, start + (end - start) * _ramp(p, lo, hi)


@functools.lru_cache(maxsize=4)
def _model(path: str) -> LinearModel:
    return load_shipped() if not path else load_model(Path(path))


def _show(p: float) -> str:
    shown = f"{p:.2f}"
    return shown if shown not in ("0.00", "1.00") else f"{p:.4f}"


class ContentClassifierDetector:
    """Scores a message's wording and links with the trained content model (banded)."""

    name: ClassVar[str] = "content"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "CONTENT_PHISH": SymbolSpec(
            WEIGHTS["phish"], _GROUP,
            "The wording and links resemble known phishing (content classifier).",
        ),
        "CONTENT_SPAM": SymbolSpec(
            WEIGHTS["spam"], _GROUP,
            "The wording and links resemble known spam (content classifier).",
        ),
    }  # fmt: skip
    timeout: ClassVar[float] = 5.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[ContentClassifierSettings]] = ContentClassifierSettings

    def __init__(self, settings: ContentClassifierSettings) -> None:
        self.settings = settings
        #: edges by label, worked out once (settings are frozen, the model loaded once)
        self._edges: dict[str, Edges] = {}

    @property
    def model(self) -> LinearModel:
        return _model(self.settings.model_path)

    def edges(self, label: str) -> Edges:
        """The band edges of ``label`` ("phish" or "spam"): settings, else the model's."""
        recorded = self.model.thresholds_at_ham_fpr(label)
        values: list[float] = []
        configured: list[bool] = []
        for i, suffix in enumerate(("_low", "", "_high")):
            override = getattr(self.settings, f"{label}_threshold{suffix}")
            own = recorded.get(BANDS[i][0], DEFAULT_EDGES[i])
            value = own if override is None else float(override)
            values.append(max([value, *values]))  # keep t1 <= t03 <= t01
            configured.append(override is not None)
        return Edges(
            (values[0], values[1], values[2]), (configured[0], configured[1], configured[2])
        )

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        probs = self.model.predict_one(msg)
        findings: list[Finding] = []
        for label in ("phish", "spam"):
            p = probs.get(label)
            if p is None:
                continue
            edges = self._edges.get(label)
            if edges is None:
                edges = self._edges[label] = self.edges(label)
            if finding := self._finding(label, p, edges):
                findings.append(finding)
        return findings

    def _finding(self, label: str, p: float, edges: Edges) -> Finding | None:
        found = band_points(p, edges.edges)
        if found is None:
            return None
        band, points = found
        fpr, t = BANDS[band][0], edges.edges[band]
        level = (
            f"at or above the configured {fpr} threshold {t:.3f}"
            if edges.configured[band]
            else f"a level seen in at most {fpr} of legitimate mail in training"
        )
        return Finding(
            symbol=f"CONTENT_{label.upper()}",
            explanation=(
                f"The wording and links resemble {_WHAT[label]} (probability {_show(p)}, {level})."
            ),
            evidence=(
                f"p({label})={p:.4f}",
                f"band={fpr}",
                "thresholds "
                + " ".join(f"{b[0]}={e:.4f}" for b, e in zip(BANDS, edges.edges, strict=True)),
            ),
            factor=min(points / WEIGHTS[label], 1.0),
            detector=self.name,
        )
