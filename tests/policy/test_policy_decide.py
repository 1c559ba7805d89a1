"""Policy decisions: thresholds, force rules, fail-closed, headers for delivered mail."""

from __future__ import annotations

from typing import Any

import pytest

from mailward.config.settings import PolicySettings
from mailward.model import Action, Finding, ScanResult
from mailward.policy.decide import auth_results_header, decide, verdict_header

POLICY = PolicySettings()  # tag 5, quarantine 10, reject 20


def _result(score: float, *symbols: str, each: float = 0.0) -> ScanResult:
    findings = tuple(Finding(symbol=s, explanation=s, score=each) for s in symbols)
    return ScanResult(findings=findings, score=score, elapsed_ms=0.0)


def _policy(**kw: Any) -> PolicySettings:
    return PolicySettings.model_validate(kw)


@pytest.mark.parametrize(
    ("score", "action"),
    [
        (0.0, Action.DELIVER),
        (4.99, Action.DELIVER),
        (5.0, Action.TAG),
        (9.99, Action.TAG),
        (10.0, Action.QUARANTINE),
        (19.99, Action.QUARANTINE),
        (20.0, Action.REJECT),
        (100.0, Action.REJECT),
        (-3.0, Action.DELIVER),
    ],
)
def test_thresholds_pick_action(score: float, action: Action) -> None:
    verdict = decide(_result(score), POLICY, authserv_id="gw")
    assert verdict.action is action
    assert verdict.forced_by is None
    assert verdict.score == score


def test_custom_thresholds() -> None:
    policy = _policy(tag_at=1.0, quarantine_at=2.0, reject_at=3.0)
    assert decide(_result(2.5), policy, authserv_id="gw").action is Action.QUARANTINE
    assert decide(_result(0.5), policy, authserv_id="gw").action is Action.DELIVER


def test_force_rule_raises_action() -> None:
    verdict = decide(_result(0.0, "ATT_EXECUTABLE"), POLICY, authserv_id="gw")
    assert verdict.action is Action.QUARANTINE
    assert verdict.forced_by == "ATT_EXECUTABLE"
    assert "ATT_EXECUTABLE" in verdict.reason


def test_force_rule_does_not_fire_without_its_symbol() -> None:
    verdict = decide(_result(0.0, "URL_OTHER"), POLICY, authserv_id="gw")
    assert verdict.action is Action.DELIVER
    assert verdict.forced_by is None


def test_force_rule_never_lowers_action() -> None:
    verdict = decide(_result(25.0, "ATT_EXECUTABLE"), POLICY, authserv_id="gw")
    assert verdict.action is Action.REJECT
    assert verdict.forced_by is None


def test_force_rule_at_same_level_does_not_claim_forcing() -> None:
    verdict = decide(_result(12.0, "ATT_EXECUTABLE"), POLICY, authserv_id="gw")
    assert verdict.action is Action.QUARANTINE
    assert verdict.forced_by is None


def test_strongest_force_rule_wins() -> None:
    policy = _policy(
        force=[
            {"symbol": "A_SYM", "action": "tag"},
            {"symbol": "B_SYM", "action": "reject"},
            {"symbol": "C_SYM", "action": "quarantine"},
        ]
    )
    verdict = decide(_result(0.0, "A_SYM", "B_SYM", "C_SYM"), policy, authserv_id="gw")
    assert verdict.action is Action.REJECT
    assert verdict.forced_by == "B_SYM"


def test_fail_closed_symbol_gives_fail_closed_action() -> None:
    verdict = decide(_result(0.0, "ENGINE_FAIL_CLOSED"), POLICY, authserv_id="gw")
    assert verdict.action is Action.TEMPFAIL
    assert verdict.forced_by == "ENGINE_FAIL_CLOSED"
    quarantine = _policy(fail_closed_action="quarantine")
    verdict = decide(_result(0.0, "ENGINE_FAIL_CLOSED"), quarantine, authserv_id="gw")
    assert verdict.action is Action.QUARANTINE


def test_tag_sets_subject_prefix_and_headers() -> None:
    result = ScanResult(
        findings=(
            Finding(symbol="URL_A", explanation="", score=6.0),
            Finding(symbol="URL_ZERO", explanation="", score=0.0),
        ),
        score=6.0,
        elapsed_ms=0.0,
    )
    verdict = decide(result, POLICY, authserv_id="gw.example.com")
    assert verdict.action is Action.TAG
    assert verdict.subject_prefix == "[SUSPICIOUS]"
    assert verdict.add_headers == (
        ("X-Mailward-Verdict", "tag; score=6.00; symbols=URL_A"),
        ("Authentication-Results", "gw.example.com; none"),
    )


def test_tag_with_empty_prefix_has_no_subject_prefix() -> None:
    verdict = decide(_result(6.0), _policy(subject_prefix=""), authserv_id="gw")
    assert verdict.action is Action.TAG
    assert verdict.subject_prefix is None
    assert verdict.add_headers


def test_deliver_has_headers_but_no_prefix() -> None:
    verdict = decide(_result(1.0), POLICY, authserv_id="gw", auth_results=["spf=pass"])
    assert verdict.subject_prefix is None
    assert dict(verdict.add_headers) == {
        "X-Mailward-Verdict": "deliver; score=1.00",
        "Authentication-Results": "gw;\r\n\tspf=pass",
    }


@pytest.mark.parametrize("score", [12.0, 30.0])
def test_quarantine_and_reject_have_no_headers(score: float) -> None:
    verdict = decide(_result(score), POLICY, authserv_id="gw")
    assert verdict.action in (Action.QUARANTINE, Action.REJECT)
    assert verdict.add_headers == ()
    assert verdict.subject_prefix is None


def test_verdict_keeps_findings() -> None:
    result = _result(1.0, "A_SYM")
    assert decide(result, POLICY, authserv_id="gw").findings == result.findings


def test_verdict_header_lists_only_scoring_symbols_sorted() -> None:
    result = ScanResult(
        findings=(
            Finding(symbol="Z_SYM", explanation="", score=1.0),
            Finding(symbol="A_SYM", explanation="", score=-0.5),
            Finding(symbol="M_SYM", explanation="", score=0.0),
        ),
        score=0.5,
        elapsed_ms=0.0,
    )
    assert verdict_header(Action.DELIVER, result) == "deliver; score=0.50; symbols=A_SYM,Z_SYM"


def test_auth_results_header_none() -> None:
    assert auth_results_header("gw.example.com", []) == "gw.example.com; none"


def test_auth_results_header_list() -> None:
    value = auth_results_header("gw.example.com", ["spf=pass smtp.mailfrom=a.example", "dkim=none"])
    assert value == "gw.example.com;\r\n\tspf=pass smtp.mailfrom=a.example;\r\n\tdkim=none"


def test_fail_closed_quarantine_never_lowers_a_reject() -> None:
    from mailward.config.settings import PolicySettings
    from mailward.model import Action, Finding, ScanResult
    from mailward.policy.decide import FAIL_CLOSED_SYMBOL, decide

    result = ScanResult(findings=(Finding(FAIL_CLOSED_SYMBOL, "x"),), score=50.0, elapsed_ms=1)
    policy = PolicySettings(fail_closed_action="quarantine")
    assert decide(result, policy, authserv_id="a").action is Action.REJECT
    low = ScanResult(findings=(Finding(FAIL_CLOSED_SYMBOL, "x"),), score=0.0, elapsed_ms=1)
    assert decide(low, policy, authserv_id="a").action is Action.QUARANTINE


@pytest.mark.parametrize("symbol", ["MIME_UNPARSEABLE", "MIME_TOO_COMPLEX", "ENGINE_SCAN_KILLED"])
def test_unscanned_mail_is_quarantined_even_with_an_empty_force_list(symbol: str) -> None:
    policy = _policy(force=[])
    verdict = decide(_result(0.0, symbol), policy, authserv_id="gw")
    assert verdict.action is Action.QUARANTINE
    assert verdict.forced_by == symbol


def test_unscanned_mail_with_a_reject_score_is_still_rejected() -> None:
    verdict = decide(_result(25.0, "MIME_TOO_COMPLEX"), _policy(force=[]), authserv_id="gw")
    assert verdict.action is Action.REJECT


def test_an_empty_force_list_lets_ordinary_symbols_through() -> None:
    verdict = decide(_result(0.0, "ATT_EXECUTABLE"), _policy(force=[]), authserv_id="gw")
    assert verdict.action is Action.DELIVER


def test_a_virus_is_quarantined_by_default_whatever_credit_lowered_its_score() -> None:
    verdict = decide(_result(8.0, "AV_VIRUS"), _policy(), authserv_id="gw")
    assert verdict.action is Action.QUARANTINE and verdict.forced_by == "AV_VIRUS"
    assert decide(_result(20.0, "AV_VIRUS"), _policy(), authserv_id="gw").action is Action.REJECT


@pytest.mark.parametrize(
    "symbol", ["DOC_EMBEDDED_EXECUTABLE", "DOC_DDE", "DOC_XLM_MACRO", "DOC_REMOTE_TEMPLATE"]
)
def test_documents_that_run_or_fetch_code_on_open_are_quarantined_by_default(symbol: str) -> None:
    verdict = decide(_result(6.2, symbol), _policy(), authserv_id="gw")
    assert verdict.action is Action.QUARANTINE and verdict.forced_by == symbol


def test_a_plain_macro_is_still_disarmed_not_quarantined() -> None:
    assert decide(_result(5.0, "DOC_MACRO"), _policy(), authserv_id="gw").action is Action.DISARM
