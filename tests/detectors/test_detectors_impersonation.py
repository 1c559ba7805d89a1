"""DisplayNameAddressDetector: display names showing another domain; unreadable From."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from helpers_detectors import address, by_symbol, make_message, run

from mailward.detectors.impersonation import DisplayNameAddressDetector as Detector
from mailward.model import Finding


def findings(*senders: tuple[str, str], headers: Any = None, **settings: Any) -> dict[str, Finding]:
    from_ = tuple(address(addr, name) for name, addr in senders)
    if headers is None:
        headers = tuple(("From", f"{name} <{addr}>") for name, addr in senders)
    msg = make_message(from_=from_, headers=headers)
    return by_symbol(run(Detector(Detector.Settings(**settings)), msg))


def test_display_name_with_foreign_address_hits_with_spec_wording() -> None:
    hit = findings(("ceo@example.com", "attacker@evil.test"))["IMP_DISPLAY_NAME_ADDRESS"]
    assert hit.explanation == (
        'The sender\'s name shows "ceo@example.com" but the mail comes from attacker@evil.test.'
    )
    assert "example.com" in hit.evidence
    assert "attacker@evil.test" in hit.evidence
    assert hit.detector == "impersonation"


@pytest.mark.parametrize(
    "name",
    ["paypal.com", "PayPal.com Support", "Service (security@paypal.co.uk)", "www.bank-of-x.com"],
)
def test_display_name_with_foreign_domain_hits(name: str) -> None:
    assert "IMP_DISPLAY_NAME_ADDRESS" in findings((name, "noreply@mailer.evil.xyz"))


@pytest.mark.parametrize(
    ("name", "addr"),
    [
        ("alice@example.com", "alice@example.com"),
        ("alice@mail.example.com", "alice@example.com"),  # same registrable domain
        ("Example.com Billing", "billing@news.example.com"),
        ("Alice Smith", "alice@evil.test"),
        ("Dr. J.R. Smith, v2.0", "jr@evil.test"),  # dots, but no domain
        ("", "alice@evil.test"),
    ],
)
def test_same_domain_or_plain_names_miss(name: str, addr: str) -> None:
    assert findings((name, addr)) == {}


def test_ignore_domains_silences_either_side() -> None:
    sender = ("'alice@example.com' via Team", "team@googlegroups.com")
    assert "IMP_DISPLAY_NAME_ADDRESS" in findings(sender)
    assert findings(sender, ignore_domains=("googlegroups.com",)) == {}
    assert findings(("paypal.com", "x@evil.test"), ignore_domains=("PayPal.com",)) == {}


def test_no_from_mailbox_hits_multiple() -> None:
    hit = findings(headers=(("From", "undisclosed"),))["IMP_FROM_MULTIPLE"]
    assert "no readable From" in hit.explanation
    assert hit.evidence == ("undisclosed",)


def test_several_from_mailboxes_hit() -> None:
    hit = findings(
        ("A", "a@example.com"),
        ("B", "b@evil.test"),
        headers=(("From", "A <a@example.com>, B <b@evil.test>"),),
    )["IMP_FROM_MULTIPLE"]
    assert "2 senders" in hit.explanation
    assert hit.evidence == ("a@example.com", "b@evil.test")


def test_several_from_headers_hit() -> None:
    headers = (("From", "A <a@example.com>"), ("From", "B <b@evil.test>"))
    hit = findings(("A", "a@example.com"), headers=headers)["IMP_FROM_MULTIPLE"]
    assert "2 From headers" in hit.explanation


def test_one_from_misses_multiple() -> None:
    assert "IMP_FROM_MULTIPLE" not in findings(("Alice", "alice@example.com"))


def test_settings_reject_unknown_keys() -> None:
    with pytest.raises(pydantic.ValidationError):
        Detector.Settings(enabled=True)  # type: ignore[call-arg]


def test_name_with_an_initial_and_a_brand_tld_is_not_a_domain() -> None:
    """Regression (ham): "R.Hughes" reads as a name, though .hughes is a real TLD."""
    from mailward.detectors._domains import find_domains

    assert find_domains("R.Hughes") == []
    assert [d.domain for d in find_domains("paypal.com")] == ["paypal.com"]
    assert [d.domain for d in find_domains("https://r.hughes")] == ["r.hughes"]


def test_bare_domain_in_name_counts_less_than_an_address() -> None:
    bare = findings(("CNET News.com", "newsletter@online.example.net"))
    assert bare["IMP_DISPLAY_NAME_ADDRESS"].factor == 0.5
    address_in_name = findings(("ceo@example.com", "attacker@evil.test"))
    assert address_in_name["IMP_DISPLAY_NAME_ADDRESS"].factor == 1.0
    web = findings(("www.bank-of-x.com", "noreply@mailer.evil.xyz"))
    assert web["IMP_DISPLAY_NAME_ADDRESS"].factor == 1.0


def test_list_rewritten_from_is_not_impersonation() -> None:
    """Regression (ham): lists rewrite From to "Author (domain) via List" <list address>."""
    name, addr = "David Taylor (manx.net) via USRP-users", "usrp-users@lists.ettus.com"
    headers = (("From", f'"{name}" <{addr}>'),
               ("List-Id", "USRP discussion <usrp-users.lists.ettus.com>"))
    assert "IMP_DISPLAY_NAME_ADDRESS" not in findings((name, addr), headers=headers)
    # without the list's own List-Id the same name is still suspicious
    other = (("From", f'"{name}" <{addr}>'), ("List-Id", "<news.elsewhere.example.org>"))
    assert "IMP_DISPLAY_NAME_ADDRESS" in findings((name, addr), headers=other)


def test_a_sender_domains_lookalike_answer_is_kept_and_the_same() -> None:
    detector = Detector(Detector.Settings(protected_domains=["example.com"]))
    hosts = ["examp1e.com", "example.co", "unrelated.org", "paypa1.com", "examp1e.com"]
    for own in [("example.com",), ("example.com", "corp.example")]:
        for host in hosts:
            assert detector._match(host, own) == detector._match_anew(host, own)
    assert detector._match("examp1e.com", ("example.com",)) is not None
    assert len(detector._matched) == 8  # one answer per (host, own domains)
    calls: list[str] = []
    anew = detector._match_anew

    def counted(host: str, own: tuple[str, ...]) -> Any:
        calls.append(host)
        return anew(host, own)

    detector._match_anew = counted  # type: ignore[method-assign]
    detector._match("examp1e.com", ("example.com",))
    detector._match("new-host.org", ("example.com",))
    assert calls == ["new-host.org"]
