"""The engine's Finding copies are what dataclasses.replace makes."""

from __future__ import annotations

import dataclasses

from mailward.engine._finding_copy import with_detector, with_score
from mailward.model import Finding

SAMPLES = [
    Finding(symbol="LURE_URGENCY", explanation="Urgent."),
    Finding("URL_SHORTENER", "A short link.", ("https://bit.ly/x",), 0.5, 2.25, "urls"),
    Finding("AUTH_SPF_FAIL", "", (), 0.0, -1.0, ""),
]


def test_the_copies_know_every_field_of_a_finding() -> None:
    names = [f.name for f in dataclasses.fields(Finding)]
    assert names == ["symbol", "explanation", "evidence", "factor", "score", "detector"]


def test_a_copy_with_a_detector_is_the_replaced_finding() -> None:
    for finding in SAMPLES:
        assert with_detector(finding, "lures") == dataclasses.replace(finding, detector="lures")


def test_a_copy_with_a_score_is_the_replaced_finding() -> None:
    for finding in SAMPLES:
        assert with_score(finding, 3.5) == dataclasses.replace(finding, score=3.5)
        assert with_score(finding, 0.0) == dataclasses.replace(finding, score=0.0)
