"""The "MIME is broken" families through the whole scan: every attack variant is blocked or
its hidden payload is found; every family's benign control is delivered.

The messages come from our own generator (:mod:`mime_families`); the public corpus itself is
checked by bench/mime_is_broken.py.
"""

from __future__ import annotations

import asyncio

import pytest
from mime_families import (
    BAD_ZIP,
    CONTROLS,
    EVIL,
    FAMILIES,
    NAME_ATTACKS,
    NAME_CONTROLS,
)

from mailward.config.settings import LimitSettings, Settings
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.errors import ParseError
from mailward.mime import parse_message
from mailward.model import Action

BLOCKED = {Action.QUARANTINE, Action.REJECT}
ATTACKS = [(f, v) for f, variants in sorted(FAMILIES.items()) for v in sorted(variants)]
LIMITS = LimitSettings()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(Settings())


@pytest.fixture(scope="module")
def zip_policy_engine() -> Engine:
    return Engine(
        Settings.model_validate({"detectors": {"attachments": {"blocked_extensions": [".zip"]}}})
    )


def scan(engine: Engine, raw: bytes) -> ScanOutcome:
    return asyncio.run(engine.scan(raw))


def test_every_family_has_attacks_and_a_control() -> None:
    assert set(FAMILIES) == set(CONTROLS)
    assert all(len(v) >= 2 for v in FAMILIES.values())
    assert len(ATTACKS) >= 60


@pytest.mark.parametrize(("family", "variant"), ATTACKS)
def test_attack_is_blocked_and_its_payload_seen(engine: Engine, family: str, variant: str) -> None:
    raw = FAMILIES[family][variant]
    outcome = scan(engine, raw)
    symbols = outcome.result.symbols
    assert outcome.verdict.action in BLOCKED, (outcome.verdict.action, sorted(symbols))
    msg = parse_message(raw, LIMITS)
    seen = any(a.content == BAD_ZIP for a in msg.attachments) or any(
        u.url == EVIL for u in msg.urls
    )
    assert seen, [(a.filename, a.detected_type) for a in msg.attachments]


@pytest.mark.parametrize("family", sorted(CONTROLS))
def test_control_is_delivered(engine: Engine, family: str) -> None:
    outcome = scan(engine, CONTROLS[family])
    assert outcome.verdict.action == Action.DELIVER, sorted(
        (f.symbol, f.explanation) for f in outcome.result.findings
    )
    assert "MIME_HIDDEN_CONTENT" not in outcome.result.symbols


@pytest.mark.parametrize("variant", sorted(NAME_ATTACKS))
def test_hidden_zip_name_is_blocked_by_policy(zip_policy_engine: Engine, variant: str) -> None:
    outcome = scan(zip_policy_engine, NAME_ATTACKS[variant])
    assert "ATT_BLOCKED_TYPE" in outcome.result.symbols, outcome.result.symbols
    assert outcome.verdict.action == Action.QUARANTINE
    assert outcome.verdict.forced_by == "ATT_BLOCKED_TYPE" or outcome.verdict.score >= 10


@pytest.mark.parametrize("variant", sorted(NAME_CONTROLS))
def test_other_names_pass_the_zip_policy(zip_policy_engine: Engine, variant: str) -> None:
    outcome = scan(zip_policy_engine, NAME_CONTROLS[variant])
    assert "ATT_BLOCKED_TYPE" not in outcome.result.symbols
    assert outcome.verdict.action == Action.DELIVER, outcome.result.findings


@pytest.mark.parametrize("variant", sorted(NAME_ATTACKS))
def test_hidden_zip_name_without_policy_is_not_blocked_by_name(engine: Engine, variant: str) -> None:
    assert "ATT_BLOCKED_TYPE" not in scan(engine, NAME_ATTACKS[variant]).result.symbols


#: Each quirk code of mailward.mime._quirks, and a generated attack that has it.
QUIRK_HITS = {
    "cte_unusual": ("transfer_encoding", "x-base64"),
    "type_unusual": ("content_type", "escaped"),
    "stray_delimiter": ("missing_boundaries", "delimiter_suffix"),
    "header_end": ("header_break", "no_blank_line"),
    "body_headers": ("header_break", "blank_line_first"),
    "hidden_header": ("header_break", "folded_cte"),
    "embedded_file": ("embedded_encodings", "uuencode"),
    "base64_length": ("base64_body", "suffix_per_line"),
    "qp_invalid": ("quoted_printable", "double_equals"),
}


@pytest.mark.parametrize("code", sorted(QUIRK_HITS))
def test_quirk_code_hits(code: str) -> None:
    family, variant = QUIRK_HITS[code]
    codes = {a.partition(":")[0] for a in parse_message(FAMILIES[family][variant], LIMITS).ambiguities}
    assert code in codes


@pytest.mark.parametrize("family", sorted(CONTROLS))
def test_control_has_no_ambiguity(family: str) -> None:
    assert parse_message(CONTROLS[family], LIMITS).ambiguities == ()


def test_quirk_codes_have_a_severity() -> None:
    from mailward.mime._ambiguity import SEVERITY
    from mailward.mime._quirks import SEVERITY as QUIRKS

    assert set(QUIRK_HITS) == set(QUIRKS)
    assert all(code in SEVERITY for code in QUIRKS)


def test_readings_that_cannot_all_be_built_hold_the_message(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DESIGN: when the readings cannot all be built, quarantine as ambiguous."""
    from mailward.mime import _salvage

    raw = FAMILIES["base64_body"]["suffix_per_line"]
    assert "MIME_READINGS_INCOMPLETE" not in scan(engine, raw).result.symbols
    monkeypatch.setattr(_salvage, "MAX_FILES", 0)
    msg = parse_message(raw, LIMITS)
    assert any(a.startswith("readings_incomplete") for a in msg.ambiguities)
    outcome = scan(engine, raw)
    assert outcome.verdict.action == Action.QUARANTINE
    assert "MIME_READINGS_INCOMPLETE" in outcome.result.symbols


def test_unparseable_reading_holds_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from mailward.mime import _views

    raw = FAMILIES["transfer_encoding"]["x-base64"]
    real = _views.Walker.walk

    def fails_on_views(self: _views.Walker, root: object) -> None:
        if b"mailward-salvage" in str(root.get("content-type", "")).encode():  # type: ignore[attr-defined]
            raise ValueError("unreadable view")
        real(self, root)  # type: ignore[arg-type]

    monkeypatch.setattr(_views.Walker, "walk", fails_on_views)
    notes = parse_message(raw, LIMITS).ambiguities
    assert any("could not be parsed" in a for a in notes if a.startswith("readings_incomplete"))


def test_large_pieces_get_only_the_fast_readings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-byte decoders cost seconds on megabytes: only small pieces get them."""
    from mime_families import multipart, zip_part

    from mailward.mime import _salvage

    def slow(_: str) -> bytes:
        raise AssertionError("a per-byte decoder ran on a large piece")

    monkeypatch.setattr(_salvage, "_per_quad", slow)
    monkeypatch.setattr(_salvage, "_groups_of_three", slow)
    big = bytes(range(256)) * (_salvage.SLOW_LIMIT // 256 + 1)
    raw = multipart([zip_part(big)], delim=b"b1X")
    msg = parse_message(raw, LIMITS)
    assert any(a.startswith("stray_delimiter") for a in msg.ambiguities)
    with pytest.raises(ParseError, match="per-byte"):  # small pieces do get them
        parse_message(FAMILIES["base64_body"]["thunderbird_quads"], LIMITS)
