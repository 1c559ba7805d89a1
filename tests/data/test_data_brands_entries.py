"""The shipped brand registry, entry by entry: every field in its format, no clashes, coverage."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from importlib import resources
from typing import Any

import pytest

from mailward.data.brands import CATEGORIES, load_registry
from mailward.detectors._domains import organisation_domain, registrable_domain

_RAW: dict[str, Any] = tomllib.loads(
    resources.files("mailward.data").joinpath("brands.toml").read_text("utf-8")
)
ENTRIES: list[dict[str, Any]] = _RAW["brand"]
IDS = [e["id"] for e in ENTRIES]
SOURCES = {"sublime-rules", "sublime-static-files", "misp-warninglists", "rspamd", "maintainers"}

#: Ordinary words of the six languages that brands are also called; they must not be matched in
#: running text, so they may only be strict names (display name) or part of a longer name.
EVERYDAY_WORDS = {
    # English
    "apple", "orange", "chase", "visa", "post", "free", "box", "square", "wise", "zoom",
    "slack", "target", "discover", "ally", "citizens", "regions", "delta", "united", "three",
    "sky", "max", "bell", "indeed", "notion", "stripe", "affirm", "ledger", "kraken", "steam",
    "twitch", "audible", "messenger", "telegram", "discord", "confluence", "office", "teams",
    "outlook", "windows", "meta", "x", "fidelity", "vanguard", "nationwide", "intuit", "bolt",
    "phantom", "exodus", "gemini", "ripple", "spectrum", "hermes", "norton", "hilton", "otto",
    "ideal", "booking", "just eat", "linked in", "le bon coin",
    # French, Spanish, Portuguese, Dutch, German
    "la poste", "avis", "correos", "correios", "caixa", "vivo", "claro", "oi", "nos",
    "hacienda", "elster", "finanzamt", "marktplaats", "seguridad social", "assurance maladie",
    "bahn", "die post", "ns", "ah", "sg", "td", "at", "arc", "cra", "sat", "cpf",
}  # fmt: skip


def _fold(name: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", name.lower()))


def test_at_least_300_brands_with_unique_ids() -> None:
    assert len(ENTRIES) >= 300
    assert [i for i, n in Counter(IDS).items() if n > 1] == []


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_entry_format(entry: dict[str, Any]) -> None:
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", entry["id"])
    assert entry["name"].strip()
    assert entry["category"] in CATEGORIES
    countries = entry["countries"]
    assert countries == ["global"] or all(re.fullmatch(r"[A-Z]{2}", c) for c in countries)
    assert entry.get("names") or entry.get("exact_names") or entry.get("names_reason")
    assert entry["sources"] and set(entry["sources"]) <= SOURCES


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_every_domain_is_a_registrable_domain(entry: dict[str, Any]) -> None:
    keys = ("domains", "mailbox_domains", "shared_domains", "esps")
    for domain in (d for key in keys for d in entry.get(key, [])):
        assert domain == domain.lower().strip()
        assert registrable_domain(domain) == domain, domain
        assert organisation_domain(domain) == domain, domain
    assert set(entry.get("mailbox_domains", [])) <= set(entry["domains"])
    for host in entry.get("hosted", []):
        assert organisation_domain(host) in entry["domains"], host


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_names_are_no_everyday_words(entry: dict[str, Any]) -> None:
    for name in entry.get("names", []):
        folded = _fold(name)
        assert folded not in EVERYDAY_WORDS, f"{name!r}: make it a strict or exact name"
        # Too short to trust in running text unless written with its case (exact_names).
        assert len(name.strip()) >= 3, f"{name!r} is too short for names"


def test_no_domain_belongs_to_two_brands_unless_shared() -> None:
    owners: dict[str, list[str]] = {}
    for entry in ENTRIES:
        for domain in entry["domains"]:
            owners.setdefault(domain, []).append(entry["id"])
    assert {d: ids for d, ids in owners.items() if len(ids) > 1} == {}
    for entry in ENTRIES:
        for domain in entry.get("shared_domains", []):
            assert domain in owners, f"{entry['id']} shares {domain}, which no brand lists"


def test_no_name_belongs_to_two_brands() -> None:
    seen: dict[str, str] = {}
    for entry in ENTRIES:
        for key in ("names", "exact_names", "strict_names"):
            for name in entry.get(key, []):
                other = seen.setdefault(_fold(name), entry["id"])
                assert other == entry["id"], f"{name!r}: {other} and {entry['id']}"


def test_owners_exist() -> None:
    ids = set(IDS)
    assert {e["owner"] for e in ENTRIES if "owner" in e} <= ids


@pytest.mark.parametrize(
    "brand_id",
    [
        # government services of the six languages
        "irs", "hmrc", "govuk", "impots", "ameli", "caf", "antai", "elster", "bmf",
        "arbeitsagentur", "agenciatributaria", "financas-pt", "receitafederal",
        "belastingdienst", "digid",
        # the most impersonated brands
        "microsoft", "paypal", "apple", "amazon", "netflix", "dhl", "docusign", "google",
        "chase", "wellsfargo", "bankofamerica", "hsbc", "santander", "ing", "abnamro",
        "rabobank", "bnpparibas", "societegenerale", "creditagricole", "labanquepostale",
        "deutschebank", "sparkasse", "volksbank", "commerzbank", "caixa-br", "itau", "bradesco",
        "bancodobrasil", "nubank", "bbva", "caixabank", "millenniumbcp", "cgd",
        "ups", "fedex", "usps", "royalmail", "evri", "dpd", "gls", "postnl", "bpost", "laposte",
        "colissimo", "correos", "ctt", "correios", "deutschepost", "canadapost", "auspost",
        "yahoo", "aol", "proton", "gmx", "webde", "tonline", "orange", "free", "sfr", "zoho",
        "dropbox", "wetransfer", "box", "adobe", "facebook", "instagram", "whatsapp", "linkedin",
        "twitter", "tiktok", "snapchat", "ebay", "alibaba", "aliexpress", "mercadolibre",
        "vinted", "leboncoin", "olx", "etsy", "booking", "airbnb", "coinbase", "binance",
        "metamask", "ledger", "trezor", "kraken", "norton", "mcafee", "zoom", "slack", "github",
        "salesforce", "intuit",
    ],
)  # fmt: skip
def test_expected_brand_is_listed(brand_id: str) -> None:
    assert brand_id in IDS


def test_every_category_is_used_and_the_six_languages_have_government_services() -> None:
    used = Counter(e["category"] for e in ENTRIES)
    assert set(used) == set(CATEGORIES)
    languages = {
        "en": {"US", "GB", "CA", "AU", "IE"},
        "fr": {"FR", "BE", "CH", "CA"},
        "de": {"DE", "AT", "CH"},
        "pt": {"PT", "BR"},
        "es": {"ES", "MX", "AR"},
        "nl": {"NL", "BE"},
    }
    government = [e for e in ENTRIES if e["category"] == "government"]
    for language, countries in languages.items():
        found = [e for e in government if countries & set(e["countries"])]
        assert len(found) >= 3, language


def test_shipped_registry_loads() -> None:
    registry = load_registry()
    assert len(registry) == len(ENTRIES)
    assert load_registry() is registry  # built once per process
