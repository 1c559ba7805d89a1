"""The evasion detector: styled look-alike letters and text placed off screen."""

from __future__ import annotations

import pytest
from tests.detectors.helpers_detectors import address, by_symbol, make_message, run

from mailward.detectors.evasion import EvasionDetector, EvasionSettings, offscreen_lengths


def test_styled_subject_is_reported() -> None:
    msg = make_message(subject="#\U0001d5ea\U0001d5f2\U0001d5f9\U0001d5f0\U0001d5fc\U0001d5fa\U0001d5f2 to CarShield")
    found = by_symbol(run(EvasionDetector(), msg))
    assert set(found) == {"LURE_STYLED_LETTERS"}


def test_small_capitals_in_the_display_name_are_reported() -> None:
    sender = address("info@mailer.example", "\u1d1c\u029f\u1d1b\u026a\u1d0d\u1d0f \u0280\u1d07\u1d04\u1d0f\u0280\u1d05")
    assert set(by_symbol(run(EvasionDetector(), make_message(from_=(sender,))))) == {
        "LURE_STYLED_LETTERS"
    }


@pytest.mark.parametrize("subject", [
    "Your order has shipped", "Résumé für Jürgen", "ＡＢＣ会員様へ", "E = mc\u00b2 \U0001d70b",
])  # fmt: skip
def test_plain_accented_fullwidth_and_a_symbol_or_two_are_not(subject: str) -> None:
    assert run(EvasionDetector(), make_message(subject=subject)) == []


def test_the_letter_count_is_a_setting() -> None:
    msg = make_message(subject="\U0001d400\U0001d401 offer")
    assert run(EvasionDetector(), msg) == []
    assert run(EvasionDetector(EvasionSettings(min_styled_letters=2)), msg)


@pytest.mark.parametrize("css", [
    ".belowView { margin-top: 470500px; }", ".wrapper { height: 10000vh }",
    "<div style='padding-top:25000px'>", "p { line-height: 99999px }",
])  # fmt: skip
def test_offscreen_css_is_reported(css: str) -> None:
    msg = make_message(html=f"<html><style>{css}</style><p>Hello</p></html>")
    found = by_symbol(run(EvasionDetector(), msg))
    assert set(found) == {"HTML_OFFSCREEN_TEXT"}


@pytest.mark.parametrize("css", [
    "margin-top: 20px", "height: 9999px", "max-height: 100vh", "width: 50000px",
    "border-top: 12000px", "z-index: 10000",
])  # fmt: skip
def test_ordinary_css_is_not(css: str) -> None:
    assert offscreen_lengths(f"<p style='{css}'>x</p>", 10_000) == []
    msg = make_message(html=f"<p style='{css}'>x</p>")
    assert run(EvasionDetector(), msg) == []


@pytest.mark.parametrize(("name", "subject"), [
    ("Trust WaIIet", "Your wallet"), ("Iedger", "Update required"),
    ("Support", "Your PaypaI account is on hold"),
])  # fmt: skip
def test_a_brand_spelt_with_i_for_l_is_reported(name: str, subject: str) -> None:
    sender = address("service@mailer.example", name)
    found = by_symbol(run(EvasionDetector(), make_message(from_=(sender,), subject=subject)))
    assert set(found) == {"LURE_BRAND_LOOKALIKE"}


@pytest.mark.parametrize(("name", "subject"), [
    ("Trust Wallet", "Your wallet"), ("Ingrid McIntosh", "Info for IT"),
    ("PayPal", "Invoice INV-1 Is Ready"),
])  # fmt: skip
def test_brands_spelt_right_and_ordinary_capitals_are_not(name: str, subject: str) -> None:
    sender = address("service@mailer.example", name)
    assert run(EvasionDetector(), make_message(from_=(sender,), subject=subject)) == []
