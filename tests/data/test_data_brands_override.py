"""The operator's brands file: replace, extend, disable; a bad file names the file and entry."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mailward.config.settings import BrandsSettings, Settings
from mailward.data.brands import load_registry, registry_for
from mailward.detectors.impersonation import DisplayNameAddressDetector
from mailward.detectors.urls import LinkMismatchDetector
from mailward.engine.contract import ScanContext
from mailward.engine.registry import build_detectors
from mailward.errors import ConfigError
from mailward.mime import parse_message

ACME = """
[[brand]]
id = "acme-bank"
name = "Acme Bank"
category = "bank"
countries = ["NL"]
names = ["Acme Bank"]
domains = ["acmebank.nl", "acme-mail.nl"]
sources = ["maintainers"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "brands.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_operator_file_extends_the_shipped_registry(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, ACME))
    assert len(registry) == len(load_registry()) + 1
    brand = registry.brand_for_domain("news.acme-mail.nl")
    assert brand is not None and brand.id == "acme-bank"
    assert [c.brand.id for c in registry.find_claims("Acme Bank: verify")] == ["acme-bank"]
    assert registry.get("paypal") is not None


def test_same_id_replaces_and_disabled_removes(tmp_path: Path) -> None:
    text = """
[[brand]]
id = "paypal"
name = "PayPal (ours)"
category = "payment"
countries = ["global"]
names = ["PayPal"]
domains = ["paypal.com", "paypal-ours.nl"]
sources = ["maintainers"]

[[brand]]
id = "netflix"
disabled = true

[[esp]]
id = "sendgrid"
disabled = true
"""
    registry = load_registry(write(tmp_path, text))
    paypal = registry.get("paypal")
    assert paypal is not None and paypal.name == "PayPal (ours)"
    assert registry.brand_for_domain("paypal.de") is None  # the shipped entry is replaced
    assert registry.get("netflix") is None
    assert registry.find_claims("Netflix: payment declined") == []
    assert not registry.is_esp("sendgrid.net")
    assert load_registry().get("netflix") is not None  # the shipped registry is untouched


def test_changed_file_is_read_again(tmp_path: Path) -> None:
    path = write(tmp_path, ACME)
    assert load_registry(path).get("acme-bank") is not None
    path.write_text(ACME.replace("acme-bank", "acme") + "\n\n")
    assert load_registry(path).get("acme") is not None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            ACME.replace("acmebank.nl", "acmebank.example.nl"),
            "brand #1 (id 'acme-bank'): domains: 'acmebank.example.nl' is not a registrable",
        ),
        (ACME.replace('"bank"', '"banks"'), "category: 'banks' is not one of"),
        (ACME.replace('id = "acme-bank"', 'id = "Acme Bank"'), "id: 'Acme Bank' must be"),
        (ACME.replace('["NL"]', '["NL", "global"]'), "countries:"),
        (ACME.replace('names = ["Acme Bank"]', "names = []"), "names: list how people write"),
        (ACME.replace("sources", "source"), "source: unknown key"),
        (
            ACME.replace("acmebank.nl", "paypal.com"),
            "'paypal.com' is also listed by mailward/data/brands.toml: brand #",
        ),
        (ACME.replace('["Acme Bank"]', '["PayPal"]'), "names: 'PayPal' is also a name of"),
        ('[[brand]]\nid = "nope"\ndisabled = true\n', "no brand with id 'nope' to disable"),
        (ACME + 'owner = "nobody"\n', "owner: no brand with id 'nobody'"),
        ("[[brand]\n", "not valid TOML"),
        ('[brands]\nid = "x"\n', "unknown top-level key"),
        (
            '[[esp]]\nid = "x"\nname = "X"\nkind = "esp"\ndomains = ["x-mail.com"]\n'
            '[[esp.rule]]\nhost = "x-mail.com"\n',
            "esp #1 (id 'x'): rule #1: destination_param: give exactly one of",
        ),
    ],
)  # fmt: skip
def test_bad_file_names_file_entry_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_registry(path)
    message = str(info.value)
    assert str(path) in message or "mailward/data/brands.toml" in message
    assert problem in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"brands file .*missing\.toml: cannot be read"):
        load_registry(tmp_path / "missing.toml")


def test_scan_time_registry_falls_back_to_the_shipped_one(tmp_path: Path) -> None:
    path = write(tmp_path, "[[brand]\n")
    assert registry_for(path) is load_registry()


def test_brands_setting_is_checked_when_detectors_are_built(tmp_path: Path) -> None:
    bad = write(tmp_path, ACME.replace('"bank"', '"banks"'))
    with pytest.raises(ConfigError, match="category: 'banks'"):
        build_detectors(Settings(brands=BrandsSettings(file=bad)))


def test_detectors_read_the_operators_brands(tmp_path: Path) -> None:
    raw = (
        b"From: Acme Bank Security <alert@acme-verify.example>\r\nTo: bob@example.com\r\n"
        b"Subject: Acme Bank: confirm your details\r\nContent-Type: text/html\r\n\r\n"
        b'<a href="https://login.acme-verify.example/x">Confirm</a>\r\n'
    )
    msg = parse_message(raw, Settings().limits)
    symbols: dict[bool, set[str]] = {}
    for own in (False, True):
        settings = Settings(brands=BrandsSettings(file=write(tmp_path, ACME) if own else None))
        ctx = ScanContext(envelope=None, settings=settings)
        found: set[str] = set()
        for detector in (
            LinkMismatchDetector(LinkMismatchDetector.Settings()),
            DisplayNameAddressDetector(DisplayNameAddressDetector.Settings()),
        ):
            found |= {f.symbol for f in asyncio.run(detector.check(msg, ctx))}
        symbols[own] = found
    assert {"URL_BRAND_UNRELATED", "IMP_BRAND_DISPLAY_NAME"} <= symbols[True]
    assert not {"URL_BRAND_UNRELATED", "IMP_BRAND_DISPLAY_NAME"} & symbols[False]
