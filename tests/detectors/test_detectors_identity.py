"""IdentityDetector: a claimed brand against the evidence a message shows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from mailward.config import Settings
from mailward.detectors.identity import IdentityDetector as Detector
from mailward.engine.contract import ScanContext
from mailward.engine.pipeline import Engine
from mailward.mime import parse_message
from mailward.model import Action, Envelope, Finding, ParsedMessage

RECEIPT_HTML = (
    "<p>Hello Jane,</p><p>You sent a payment of EUR 24.90 to Example Shop.</p>"
    '<p><a href="https://{links}/myaccount/transactions/details/123">View the transaction</a></p>'
    '<p><a href="https://{links}/myaccount/settings">Your settings</a></p>'
)


def eml(
    sender: str,
    name: str,
    *,
    subject: str = "Receipt for your payment",
    links: str = "www.paypal.com",
    html: str = RECEIPT_HTML,
    headers: Sequence[str] = (),
) -> bytes:
    body = html.format(links=links)
    lines = [
        f"From: {name} <{sender}>" if name else f"From: {sender}",
        "To: jane@example.org",
        f"Subject: {subject}",
        "Message-ID: <id-1@example.net>",
        "MIME-Version: 1.0",
        *headers,
        "Content-Type: text/html; charset=utf-8",
        "",
        body,
    ]
    return "\r\n".join(lines).encode()


def parsed(raw: bytes) -> ParsedMessage:
    return parse_message(raw, Settings().limits)


def findings(
    raw: bytes, auth_results: Sequence[str] = (), mail_from: str = "", **settings: object
) -> dict[str, Finding]:
    ctx = ScanContext(
        envelope=Envelope(mail_from=mail_from, rcpt_tos=("jane@example.org",)),
        settings=Settings(),
        auth_results=list(auth_results),
    )
    found = asyncio.run(Detector(Detector.Settings(**settings)).check(parsed(raw), ctx))  # type: ignore[arg-type]
    return {f.symbol: f for f in found}


def test_brand_mail_from_the_brand_with_its_own_links_is_consistent() -> None:
    got = findings(eml("service@paypal.com", "PayPal"))
    assert "ID_BRAND_IMPERSONATION" not in got
    assert got["ID_CONSISTENT"].factor == pytest.approx(0.6)  # nothing was authenticated


def test_the_same_brand_mail_from_an_unrelated_domain_is_impersonation() -> None:
    got = findings(eml("service@pay-notice.example.net", "PayPal", links="login.verify.example"))
    hit = got["ID_BRAND_IMPERSONATION"]
    assert "ID_CONSISTENT" not in got
    assert hit.factor == pytest.approx(1.0)
    assert "PayPal" in hit.explanation and "pay-notice.example.net" in hit.explanation
    assert "verify.example" in hit.explanation  # names the mismatch: where the links go
    assert "paypal" in hit.evidence


def test_a_brand_claimed_from_free_webmail_without_links_is_impersonation() -> None:
    raw = eml("ms.support.desk@gmail.com", "Microsoft 365 Support", html="<p>Reply with your password.</p>")
    hit = findings(raw)["ID_BRAND_IMPERSONATION"]
    assert hit.factor == pytest.approx(0.75)


def test_a_brand_in_the_subject_only_is_a_weaker_claim() -> None:
    raw = eml("billing@notices.example.net", "Billing", subject="Your PayPal account is limited",
              links="secure.example.org")
    assert findings(raw)["ID_BRAND_IMPERSONATION"].factor == pytest.approx(0.6)


def test_a_brand_named_only_in_the_body_is_not_reported() -> None:
    raw = eml("shop@shop.example", "Example Shop", subject="Your order",
              html='<p>You paid with PayPal.</p><a href="https://news.example.org/">news</a>')
    assert "ID_BRAND_IMPERSONATION" not in findings(raw)


def test_footer_links_named_for_the_network_they_go_to_claim_nothing() -> None:
    html = ('<p>Order shipped.</p><a href="https://{links}/track">Track</a>'
            '<a href="https://www.facebook.com/exampleshop">Facebook</a>')
    got = findings(eml("orders@exampleshop.example", "Exampleshop", links="exampleshop.example",
                       subject="Your order has shipped", html=html))
    assert "ID_BRAND_IMPERSONATION" not in got
    assert "ID_CONSISTENT" in got


def test_links_to_the_brand_support_a_claim_relayed_by_another_sender() -> None:
    # a project's list relaying the brand's own notifications: the links go to the brand only
    raw = eml("github@lists.example.org", "GitHub pull_request - opened",
              subject="Fix indentation", links="github.com")
    assert "ID_BRAND_IMPERSONATION" not in findings(raw)


def test_dkim_or_dmarc_proof_raises_the_consistency_credit() -> None:
    raw = eml("service@paypal.com", "PayPal")
    proven = findings(raw, ["dkim=pass header.d=paypal.com header.s=s1", "dmarc=pass header.from=paypal.com"])
    assert proven["ID_CONSISTENT_PROVEN"].factor == pytest.approx(1.0)
    assert "ID_CONSISTENT" not in proven


def test_a_dmarc_failure_removes_the_consistency_credit() -> None:
    raw = eml("service@paypal.com", "PayPal")
    assert "ID_CONSISTENT" not in findings(raw, ["dmarc=fail (p=reject) header.from=paypal.com"])


def test_a_verified_dkim_signature_of_the_brand_supports_its_claim() -> None:
    raw = eml("news@mailer.example.net", "PayPal", links="www.paypal.com")
    got = findings(raw, ["dkim=pass header.d=paypal.com"])
    assert "ID_BRAND_IMPERSONATION" not in got


def test_free_webmail_senders_are_never_consistent() -> None:
    raw = eml("jane.doe@gmail.com", "", subject="Hi", links="gmail.com",
              html='<p>see <a href="https://mail.google.com/x">this</a></p>')
    assert "ID_CONSISTENT" not in findings(raw)


def test_a_sender_whose_name_claims_someone_else_is_not_consistent() -> None:
    raw = eml("team@coins-airdrop.example", "Team Ripple", links="coins-airdrop.example",
              subject="Claim your tokens")
    assert "ID_CONSISTENT" not in findings(raw)


def test_ignored_brands_are_not_reported() -> None:
    raw = eml("service@pay-notice.example.net", "PayPal", links="login.verify.example")
    assert "ID_BRAND_IMPERSONATION" not in findings(raw, ignore_brands=("paypal",))


def test_list_and_machine_markers_are_zero_weight_context() -> None:
    raw = eml("noreply@shop.example", "Shop", headers=("List-Id: <news.shop.example>",
                                                       "Auto-Submitted: auto-generated"))
    got = findings(raw)
    assert got["ID_LIST_MAIL"].evidence[0].startswith("List-Id")
    assert any("Auto-Submitted" in e for e in got["ID_AUTOMATED"].evidence)
    assert Detector.symbols["ID_LIST_MAIL"].weight == 0.0
    assert Detector.symbols["ID_AUTOMATED"].weight == 0.0


def test_plain_personal_mail_has_no_list_or_machine_context() -> None:
    got = findings(eml("jane@shop.example", "Jane"))
    assert "ID_LIST_MAIL" not in got and "ID_AUTOMATED" not in got


LIST_HEADERS = (
    "List-Id: <it-announce.example.org>",
    "List-Unsubscribe: <mailto:leave@example.org>",
    "Precedence: list",
    "Auto-Submitted: auto-generated",
)
PHISH = [
    eml("it-desk@mailbox-upgrade.example.net", "Microsoft 365", subject="Password expires today",
        links="m365-login.example.net",
        html='<p>Your password expires today. <a href="https://{links}/owa">Keep my password</a></p>'),
    eml("service@pay-notice.example.net", "PayPal", links="login.verify.example"),
    eml("billing@notices.example.net", "Billing", subject="Your PayPal account is limited",
        links="secure.example.org"),
]


@pytest.mark.parametrize("raw", PHISH)
def test_the_same_phishing_gets_the_same_action_with_and_without_list_headers(raw: bytes) -> None:
    head, _, body = raw.partition(b"\r\n\r\n")
    listed = head + b"\r\n" + "\r\n".join(LIST_HEADERS).encode() + b"\r\n\r\n" + body
    engine = Engine(Settings())
    plain, with_list = (asyncio.run(engine.scan(r)) for r in (raw, listed))
    assert plain.verdict.action is with_list.verdict.action
    assert plain.verdict.action is not Action.DELIVER
    assert plain.result.score == pytest.approx(with_list.result.score)


def test_brand_pair_through_the_engine_separates_the_brand_from_the_impostor() -> None:
    # offline (no DNS) nothing proves the brand's From, so its wording may still tag it; with
    # DNS the DKIM/DMARC-proven original is delivered (tests/e2e/test_e2e_spoofing.py)
    engine = Engine(Settings())
    real = asyncio.run(engine.scan(eml("service@paypal.com", "PayPal")))
    fake = asyncio.run(engine.scan(eml("service@paypa1-secure.example", "PayPal",
                                        links="paypa1-secure.example")))
    assert real.verdict.action.severity <= Action.TAG.severity, real.verdict.reason
    assert "ID_CONSISTENT" in real.result.symbols
    assert fake.verdict.action.severity >= Action.QUARANTINE.severity, fake.verdict.reason
    assert "ID_BRAND_IMPERSONATION" in fake.result.symbols
    assert fake.result.score > real.result.score + 7


def test_a_brand_surname_in_a_persons_name_is_no_claim() -> None:
    # "Dell" is a strict name: a claim as a service's name, not inside a person's
    person = eml("jquinn@fhs.example.org", "Jane Dell", links="news.example.org", subject="Minutes")
    service = eml("support@dell-care.example.net", "Dell Support", links="dell-care.example.net")
    assert "ID_BRAND_IMPERSONATION" not in findings(person)
    assert findings(service)["ID_BRAND_IMPERSONATION"].evidence[0] == "dell"


def test_links_to_the_brand_and_elsewhere_halve_the_finding() -> None:
    html = ('<a href="https://github.com/org/repo/pull/1">pull request</a>'
            '<a href="https://bugs.example.net/1">bug</a>')
    raw = eml("github@lists.example.org", "GitHub pull_request - opened", html=html,
              subject="Fix build")
    hit = findings(raw)["ID_BRAND_IMPERSONATION"]
    assert hit.factor == pytest.approx(0.5)
    assert "as well as to the brand" in hit.explanation


def test_a_hosting_service_of_the_brand_is_no_evidence_for_it() -> None:
    # sites.google.com: anyone can publish there, so a link to it does not support "Google"
    html = '<a href="https://sites.google.com/view/account-check">Check your account</a>'
    raw = eml("alerts@acct-check.example.net", "Google Accounts", html=html,
              subject="Security alert")
    assert "ID_BRAND_IMPERSONATION" in findings(raw)


def test_a_sending_services_tracked_link_counts_as_its_destination() -> None:
    tracked = ("https://abcd1234.r.eu-west-1.awstrack.me/L0/"
               "https:%2F%2Fwww.evri.com%2Ftrack%2Fparcel%2F123/1/0100-abc=/xyz")
    html = f'<p>Your parcel was delivered.</p><a href="{tracked}">Track</a>'
    got = findings(eml("do-not-reply@evri.com", "Evri", html=html, subject="Delivered"))
    assert "ID_CONSISTENT" in got
    assert "evri.com" in got["ID_CONSISTENT"].evidence


def test_a_redirect_through_the_brands_own_site_is_no_evidence_for_it() -> None:
    html = ('<a href="https://www.bing.com/ck/a?u=https%3A%2F%2Fagreement-update.net%2F">'
            'Update my agreement</a>')
    raw = eml("privacy@renov-isolation.com", "Microsoft Privacy", html=html,
              subject="Your latest user agreement")
    hit = findings(raw)["ID_BRAND_IMPERSONATION"]
    assert hit.factor == pytest.approx(1.0)
    assert "its links go to agreement-update.net" in hit.explanation


@pytest.mark.parametrize("name", ["Device Safety Alerts", "ETHER GET", "Score 💲 released",
                                  "Auto Clear 24/7"])
def test_an_organisations_name_on_a_free_mailbox_is_reported(name: str) -> None:
    raw = eml("kekkanico89@gmail.com", name, html="<p>Confirm the transaction.</p>",
              subject="Confirm")
    hit = findings(raw)["ID_ORG_FROM_FREEMAIL"]
    assert "gmail.com" in hit.explanation


@pytest.mark.parametrize(("name", "sender"), [
    ("Mary Thomas", "mary.thomas@gmail.com"),          # a person's name
    ("'Lee Duncan' via open-iscsi", "open-iscsi@googlegroups.com"),  # a list's rewrite
    ("Device Safety Alerts", "alerts@devicesafety.com"),  # an organisation's own domain
])
def test_persons_lists_and_own_domains_are_not_reported(name: str, sender: str) -> None:
    raw = eml(sender, name, html="<p>Hello.</p>", subject="Hello")
    assert "ID_ORG_FROM_FREEMAIL" not in findings(raw)


def test_a_threat_feed_hit_removes_the_consistency_credit() -> None:
    from mailward.model import Finding as F

    raw = eml("service@paypal.com", "PayPal")
    ctx = ScanContext(envelope=None, settings=Settings(),
                      findings=[F("FEED_DOMAIN", "the feed names paypal.com")])
    found = asyncio.run(Detector(Detector.Settings()).check(parsed(raw), ctx))
    assert "ID_CONSISTENT" not in {f.symbol for f in found}
    assert "ID_CONSISTENT" in findings(raw)


@pytest.mark.parametrize("raw", [
    eml("news@mailer.example.net", "PayPal", links="www.paypal.com"),
    eml("service@paypal.com", "PayPal", links="evil.example.com"),
    eml("billing@example.org", "Example Billing", subject="Your DHL parcel", links="dhl.com"),
])
def test_an_analysis_after_another_of_the_same_message_is_a_fresh_ones(raw: bytes) -> None:
    # the message's own facts are worked out once per message and kept; the evidence of each
    # call (authentication results, envelope sender) must still decide as if nothing were kept
    from mailward.identity import analyse, shipped_registry

    brands = shipped_registry()
    evidence: list[tuple[list[str], str]] = [
        ([], ""),
        (["dkim=pass header.d=paypal.com header.s=s1"], ""),
        (["dmarc=fail (p=reject) header.from=paypal.com"], "bounce@paypal.com"),
        (["dkim=pass header.d=dhl.com"], "bounce@mailer.example.net"),
        ([], "x@dhl.com"),
    ]
    msg = parsed(raw)
    for auth_results, envelope_sender in evidence:
        again = analyse(msg, brands, auth_results, envelope_sender)
        fresh = analyse(parsed(raw), brands, auth_results, envelope_sender)
        assert again == fresh
    assert analyse(msg, brands, *evidence[1]) != analyse(msg, brands, *evidence[0])
