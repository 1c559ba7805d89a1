"""Groups that may not decide alone: the content model tags at most without a second finding."""

from __future__ import annotations

from mailward.config import Settings
from mailward.config.loader import settings_from_mapping
from mailward.engine.contract import SymbolSpec
from mailward.engine.scoring import Scorer
from mailward.model import Action, Finding
from mailward.policy.decide import decide

SPECS = {
    "CONTENT_PHISH": SymbolSpec(12.0, "content", "model"),
    "LURE_URGENCY": SymbolSpec(1.0, "lures", "urgent"),
    "LURE_FAINT": SymbolSpec(0.5, "lures", "a faint cue"),
    "IMP_FIRST_TIME_SENDER": SymbolSpec(1.0, "history", "new sender"),
    "URL_TEXT_MISMATCH": SymbolSpec(4.0, "urls", "mismatch"),
    "ATT_EXECUTABLE": SymbolSpec(10.0, "attachments", "program"),
}


def verdict(*symbols: str, settings: Settings | None = None) -> tuple[Action, str]:
    settings = settings or Settings()
    result = Scorer(SPECS, settings.scoring).score([Finding(s, s) for s in symbols], 1.0)
    v = decide(result, settings.policy, authserv_id="mx.test")
    return v.action, v.reason


def test_content_alone_at_full_strength_only_tags() -> None:
    action, reason = verdict("CONTENT_PHISH")
    assert action is Action.TAG
    assert "lowered to tag" in reason and "group content" in reason


def test_a_weak_finding_of_another_group_is_no_second_finding() -> None:
    # 0.5 is below corroborated_at (1): the content model still decides alone
    assert verdict("CONTENT_PHISH", "LURE_FAINT")[0] is Action.TAG


def test_a_first_time_sender_corroborates_nothing() -> None:
    # most real first mails of a service are new senders: that is no second finding
    assert verdict("CONTENT_PHISH", "IMP_FIRST_TIME_SENDER")[0] is Action.TAG
    assert verdict("CONTENT_PHISH", "LURE_URGENCY")[0] is Action.QUARANTINE


def test_an_independent_finding_lets_the_score_decide() -> None:
    action, reason = verdict("CONTENT_PHISH", "URL_TEXT_MISMATCH")
    assert action is Action.QUARANTINE
    assert "lowered" not in reason


def test_force_rules_still_apply_under_a_ceiling() -> None:
    forced = settings_from_mapping(
        {"policy": {"force": [{"symbol": "LURE_FAINT", "action": "quarantine"}]}}
    )
    action, reason = verdict("CONTENT_PHISH", "LURE_FAINT", settings=forced)
    assert action is Action.QUARANTINE
    assert "LURE_FAINT forces" in reason


def test_without_the_capped_group_nothing_is_lowered() -> None:
    specs_free = Settings()
    result = Scorer(SPECS, specs_free.scoring).score([Finding("ATT_EXECUTABLE", "x")] * 2, 1.0)
    assert result.ceiling is None


def test_operators_may_configure_the_ceiling_and_keep_the_default_groups() -> None:
    lifted = settings_from_mapping(
        {"scoring": {"groups": {"content": {"alone_at_most": "reject"}}}}
    )
    assert verdict("CONTENT_PHISH", settings=lifted)[0] is Action.QUARANTINE
    other = settings_from_mapping({"scoring": {"groups": {"urls": {"max_score": 8.0}}}})
    assert other.scoring.groups["content"].alone_at_most is Action.TAG
    assert verdict("CONTENT_PHISH", settings=other)[0] is Action.TAG


def test_one_brand_claim_seen_by_several_detectors_counts_once() -> None:
    specs = {
        "ID_BRAND_IMPERSONATION": SymbolSpec(7.0, "brand", "claim"),
        "URL_BRAND_UNRELATED": SymbolSpec(4.0, "brand", "links"),
        "URL_TEXT_MISMATCH": SymbolSpec(4.0, "urls", "mismatch"),
    }
    findings = [Finding("ID_BRAND_IMPERSONATION", "x", factor=0.6), Finding("URL_BRAND_UNRELATED", "y"),
                Finding("URL_TEXT_MISMATCH", "z")]
    result = Scorer(specs, Settings().scoring).score(findings, 1.0)
    scores = {f.symbol: f.score for f in result.findings}
    assert scores == {"ID_BRAND_IMPERSONATION": 4.2, "URL_BRAND_UNRELATED": 0.0, "URL_TEXT_MISMATCH": 4.0}
    assert result.score == 8.2


def test_a_proven_consistent_sender_is_not_tagged_for_its_wording_alone() -> None:
    specs = {**SPECS, "ID_CONSISTENT_PROVEN": SymbolSpec(-3.0, "identity", "proven")}
    settings = Settings()
    for extra, want in (((), Action.DELIVER), (("URL_TEXT_MISMATCH",), Action.QUARANTINE)):
        result = Scorer(specs, settings.scoring).score(
            [Finding("CONTENT_PHISH", "x"), Finding("ID_CONSISTENT_PROVEN", "y"),
             *(Finding(s, s) for s in extra)], 1.0)
        v = decide(result, settings.policy, authserv_id="mx.test")
        assert v.action is want, v.reason

