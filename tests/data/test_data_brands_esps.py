"""esps.toml: each platform's format, and reading the destination of each kind of rule."""

from __future__ import annotations

import base64
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from mailward.data.brands import load_registry
from mailward.detectors._domains import registrable_domain

REGISTRY = load_registry()
_RAW: dict[str, Any] = tomllib.loads(
    resources.files("mailward.data").joinpath("esps.toml").read_text("utf-8")
)
ESPS: list[dict[str, Any]] = _RAW["esp"]


@pytest.mark.parametrize("esp", ESPS, ids=[e["id"] for e in ESPS])
def test_esp_entry_format(esp: dict[str, Any]) -> None:
    assert esp["kind"] in ("esp", "tracker", "link-protection")
    assert esp["name"].strip() and esp["sources"]
    for domain in esp["domains"]:
        assert registrable_domain(domain) == domain
        assert REGISTRY.brand_for_domain(domain) is None, f"{domain} is also a brand's"
    assert esp["domains"] or esp.get("rule")


def test_the_usual_platforms_are_known() -> None:
    for domain in (
        "sendgrid.net", "mcsv.net", "mcdlv.net", "list-manage.com", "mandrillapp.com",
        "rsgsv.net", "exacttarget.com", "exct.net", "mktomail.com", "amazonses.com",
        "sparkpostmail.com", "mailgun.org", "postmarkapp.com", "klaviyomail.com",
        "hubspotemail.net", "rs6.net", "createsend.com", "sendinblue.com", "customeriomail.com",
        "responsys.net", "mjt.lu",
    ):  # fmt: skip
        assert REGISTRY.is_esp(f"bounce.{domain}"), domain


B64 = base64.urlsafe_b64encode(b"https://example.com/landing?a=1").decode().rstrip("=")


@pytest.mark.parametrize(
    ("url", "destination"),
    [
        (
            "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fexample.com%2Fa"
            "&data=05%7C01&reserved=0",
            "https://example.com/a",
        ),
        (
            "https://urldefense.proofpoint.com/v2/url?u=https-3A__example.com_a-3Fb-3Dc&d=DwM&c=x",
            "https://example.com/a?b=c",
        ),
        (
            "https://urldefense.com/v3/__https://example.com/page?x=1__;!!ABC!def$",
            "https://example.com/page?x=1",
        ),
        (
            "https://abc.r.us-east-1.awstrack.me/L0/https:%2F%2Fexample.com%2Fp%3Fq=1/1/0100abc/xyz=",
            "https://example.com/p?q=1",
        ),
        ("https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fexample.com&c=E,1,x", "https://example.com"),
        (
            "https://deref-gmx.net/mail/client/abc/dereferrer/?redirectUrl=https%3A%2F%2Fexample.com",
            "https://example.com",
        ),
        (f"https://eu-central-1.protection.sophos.com?d=example.com&u={B64}&i=1", "https://example.com/landing?a=1"),
        ("https://clicktime.symantec.com/15t5?u=https%3A%2F%2Fexample.com%2Fx", "https://example.com/x"),
    ],
)  # fmt: skip
def test_destination_hits(url: str, destination: str) -> None:
    assert REGISTRY.esp_destination(url) == destination


@pytest.mark.parametrize(
    "url",
    [
        "https://eur01.safelinks.protection.outlook.com/?data=05%7C01",  # no url= parameter
        "https://eur01.safelinks.protection.outlook.com/?url=javascript%3Aalert(1)",  # not web
        "https://urldefense.proofpoint.com/v3/url?u=https-3A__example.com",  # wrong path
        "https://urldefense.com/v3/__https://exa*mple.com__;Lg!!ABC$",  # a replaced character
        "https://abc.r.us-east-1.awstrack.me/L1/https:%2F%2Fexample.com/1/x",  # no L0 segment
        "https://linkprotect.cudasvc.com/url?a=not-a-url",
        "https://eu-central-1.protection.sophos.com?d=example.com&u=bm90LWEtdXJs",  # "not-a-url"
        "https://u123.ct.sendgrid.net/ls/click?upn=opaque",  # no rule: the address is opaque
        "https://www.paypal.com/?url=https%3A%2F%2Fexample.com",  # not a wrapper
        "not a url",
    ],
)
def test_destination_misses(url: str) -> None:
    assert REGISTRY.esp_destination(url) is None


def test_operator_rules_with_base64_path_and_json(tmp_path: Path) -> None:
    path = tmp_path / "brands.toml"
    path.write_text(
        '[[esp]]\nid = "tracker"\nname = "T"\nkind = "tracker"\ndomains = ["trk-example.com"]\n'
        'sources = ["maintainers"]\n'
        '[[esp.rule]]\nhost = "trk-example.com"\npath = "/c/"\ndestination_b64_path = true\n'
        '[[esp.rule]]\nhost = "trk-example.com"\npath = "/j"\ndestination_param = "p"\n'
        'destination_encoding = "base64"\n',
        encoding="utf-8",
    )
    registry = load_registry(path)
    as_json = base64.b64encode(b'{"id": 7, "href": "https://example.com/j"}').decode()
    assert registry.esp_destination(f"https://l.trk-example.com/c/x1/{B64}/9") == (
        "https://example.com/landing?a=1"
    )
    assert registry.esp_destination(f"https://trk-example.com/j?p={as_json}") == (
        "https://example.com/j"
    )
    assert registry.esp_destination("https://trk-example.com/c/aGVsbG8gd29ybGQgaGVsbG8/9") is None
    assert registry.esp_destination("https://trk-example.com/j?p=%7B%7D") is None
