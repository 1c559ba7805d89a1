"""Statistical content classifier: wording, links and attachments that resemble phishing or spam.

Runs the linear model of :mod:`mailward.classifier` (features only from what the sender wrote,
linked to and attached; never headers, dates or addresses) and reports how strongly a message
resembles known phishing and spam. The model is loaded once per process.

Symbols (default weight, group "content")
  CONTENT_PHISH  9  the wording and links resemble known phishing; factor
                    (p - threshold) / (1 - threshold), at least 0.05 once the symbol fires
  CONTENT_SPAM   5  the wording and links resemble known spam (same scaling, spam threshold)

Settings ``[detectors.content]``
  model_path        path of a model written by `mailward train` (.json/.npz); "" = shipped model
  phish_threshold   probability above which CONTENT_PHISH fires; unset = the model's own
                    (held-out ham FPR 0.3 % at training time, at least 0.5)
  spam_threshold    likewise for CONTENT_SPAM

The shipped model was trained on data licensed CC BY-NC 4.0 (no commercial use); see
``mailward/classifier/model/MODEL_CARD.md``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from mailward.classifier.linear import LinearModel, load_model, load_shipped
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Finding, ParsedMessage

_GROUP = "content"
_WHAT = {"phish": "known phishing", "spam": "known spam"}


class ContentClassifierSettings(DetectorSettings):
    """Options of the content classifier detector."""

    model_path: str = ""
    phish_threshold: float | None = Field(None, ge=0.0, lt=1.0)
    spam_threshold: float | None = Field(None, ge=0.0, lt=1.0)


@functools.lru_cache(maxsize=4)
def _model(path: str) -> LinearModel:
    return load_shipped() if not path else load_model(Path(path))


def _factor(p: float, threshold: float) -> float:
    return min(max((p - threshold) / (1.0 - threshold), 0.0), 1.0)


class ContentClassifierDetector:
    """Scores a message's wording and links with the trained content model."""

    name: ClassVar[str] = "content"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "CONTENT_PHISH": SymbolSpec(
            9.0, _GROUP, "The wording and links resemble known phishing (content classifier)."
        ),
        "CONTENT_SPAM": SymbolSpec(
            5.0, _GROUP, "The wording and links resemble known spam (content classifier)."
        ),
    }
    timeout: ClassVar[float] = 5.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[ContentClassifierSettings]] = ContentClassifierSettings

    def __init__(self, settings: ContentClassifierSettings) -> None:
        self.settings = settings

    @property
    def model(self) -> LinearModel:
        return _model(self.settings.model_path)

    def thresholds(self) -> dict[str, float]:
        model = self.model
        configured = {"phish": self.settings.phish_threshold, "spam": self.settings.spam_threshold}
        return {k: v if v is not None else model.threshold(k, 0.5) for k, v in configured.items()}

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        probs = self.model.predict([msg])[0]
        findings: list[Finding] = []
        for label, threshold in self.thresholds().items():
            p = probs.get(label)
            if p is None or p <= threshold:
                continue
            findings.append(
                Finding(
                    symbol=f"CONTENT_{label.upper()}",
                    explanation=(
                        f"The wording and links resemble {_WHAT[label]} (probability {p:.2f})."
                    ),
                    evidence=(f"p({label})={p:.3f}", f"threshold={threshold:.3f}"),
                    factor=max(_factor(p, threshold), 0.05),
                    detector=self.name,
                )
            )
        return findings
