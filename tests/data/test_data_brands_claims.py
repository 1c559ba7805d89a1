"""find_claims: which brands a text names, and which domains are a brand's."""

from __future__ import annotations

import pytest

from mailward.data.brands import load_registry

REGISTRY = load_registry()


def claimed(text: str, *, sender_name: bool = False) -> list[str]:
    return [c.brand.id for c in REGISTRY.find_claims(text, sender_name=sender_name)]


@pytest.mark.parametrize(
    ("text", "brand"),
    [
        ("Your PayPal account has been limited", "paypal"),
        ("Your PAYPAL account", "paypal"),
        ("DHL Express: your parcel is waiting", "dhl"),
        ("dhl express", "dhl"),
        ("Docu\u017fign: sign now", "docusign"),  # long s reads as s
        ("Pay\u200bPal security", "paypal"),  # an invisible character inside the name
        ("«PayPal» : confirmez", "paypal"),
        ("CREDIT AGRICOLE : alerte", "creditagricole"),
        ("Votre espace Crédit Agricole", "creditagricole"),
        ("Caisse d\u2019Épargne", "caisseepargne"),
        ("Booking.com reservation", "booking"),
        ("AT&T bill is ready", "att"),
        ("1&1 Rechnung", "1und1"),
        ("Disney+ subscription", "disney"),
        ("La Poste : votre colis", "laposte"),
        ("iDEAL betaling mislukt", "ideal"),
        ("Mijn ING: bevestig", "ing"),
        ("Caixa Econômica Federal informa", "caixa-br"),
        ("Mercado\n  Livre", "mercadolibre"),
        ("Belastingdienst: teruggave", "belastingdienst"),
        ("Agencia Tributaria: reembolso", "agenciatributaria"),
        ("Portal das Finanças", "financas-pt"),
        ("ELSTER: Ihre Steuererklärung", "elster"),
    ],
)
def test_claim_hits(text: str, brand: str) -> None:
    assert claimed(text)[:1] == [brand]


@pytest.mark.parametrize(
    "text",
    [
        "a chase scene",  # Chase is a strict name: only in a display name
        "paypalx",  # inside a longer word
        "the post office",
        "visit paypal.com now",  # a domain, not a name (other checks read domains)
        "write to x@paypal.com",
        "booking com",  # "Booking.com" needs its dot
        "AT & T",
        "la poste est fermée le dimanche",  # exact name: "La Poste" as written
        "Dipl.-Ing. Meier",  # ING only in capitals
        "Caixa de entrada",  # Caixa is strict
        "an ideal solution",
        "canal de Panamá",
        "1.1 release notes",
        "Apple pie with orange juice",
        "",
    ],
)
def test_claim_misses(text: str) -> None:
    assert claimed(text) == []


def test_strict_names_count_in_a_display_name_only() -> None:
    assert claimed("Chase") == []
    assert claimed("Chase", sender_name=True) == ["chase"]
    assert claimed("Orange Service Client", sender_name=True) == ["orange"]


def test_longest_name_wins_and_each_brand_once_in_order() -> None:
    assert claimed("Amazon Web Services invoice") == ["aws"]
    assert claimed("eBay Kleinanzeigen") == ["kleinanzeigen"]
    assert claimed("PayPal and DHL, then PayPal again") == ["paypal", "dhl"]
    found = REGISTRY.find_claims("Your Microsoft 365 mailbox")
    assert [(c.brand.id, c.name) for c in found] == [("microsoft", "Microsoft 365")]


def test_brand_for_domain_and_owns() -> None:
    paypal = REGISTRY.brand_for_domain("email.paypal.com")
    assert paypal is not None and paypal.id == "paypal"
    assert REGISTRY.brand_for_domain("paypal-secure.example") is None
    instagram = REGISTRY.get("instagram")
    assert instagram is not None
    assert REGISTRY.owns(instagram, "mail.facebookmail.com", role="sender")  # Meta's family
    microsoft = REGISTRY.get("microsoft")
    assert microsoft is not None
    assert REGISTRY.owns(microsoft, "login.live.com", role="link")
    assert not REGISTRY.owns(microsoft, "outlook.com", role="sender")  # anyone's mailbox
    assert not REGISTRY.owns(microsoft, "evil.sharepoint.com", role="link")  # anyone's site
    assert REGISTRY.owns(microsoft, "evil.sharepoint.com")
    irs = REGISTRY.get("irs")
    assert irs is not None and REGISTRY.owns(irs, "public.govdelivery.com")  # its ESP


def test_esp_domains() -> None:
    assert REGISTRY.is_esp("u123.ct.sendgrid.net")
    assert REGISTRY.is_esp("mcsv.net") and REGISTRY.is_esp("exct.net")
    assert not REGISTRY.is_esp("paypal.com")
    assert not REGISTRY.is_esp("urldefense.com")  # a link wrapper, not a sender's platform
    esp = REGISTRY.esp_for_host("nam12.safelinks.protection.outlook.com")
    assert esp is not None and esp.kind == "link-protection"
