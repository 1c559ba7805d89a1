"""Impersonation detector: protected people, lookalike domains, brand names, Reply-To, history."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers_detectors import address, by_symbol, make_message

from mailward.config import Settings
from mailward.detectors.impersonation import DisplayNameAddressDetector as Detector
from mailward.detectors.impersonation import names_match, person_tokens
from mailward.engine.contract import ScanContext
from mailward.model import Envelope, Finding
from mailward.store.history import MemorySenderHistory, SenderStats

CEO = {"name": "Jane Q. Doe", "addresses": ["jane.doe@example.com", "jdoe@example.net"]}


def scan(
    sender: tuple[str, str],
    *,
    reply_to: tuple[str, ...] = (),
    headers: tuple[tuple[str, str], ...] = (),
    mail_from: str | None = None,
    clients: dict[str, Any] | None = None,
    **settings: Any,
) -> dict[str, Finding]:
    name, addr = sender
    msg = make_message(
        from_=(address(addr, name),),
        reply_to=tuple(address(a) for a in reply_to),
        headers=(("From", f"{name} <{addr}>"), *headers),
    )
    ctx = ScanContext(
        envelope=Envelope(
            mail_from=addr if mail_from is None else mail_from, rcpt_tos=("b@x.org",)
        ),
        settings=Settings(),  # accepted domain: example.com
        clients=clients or {},
    )
    detector = Detector(Detector.Settings(**settings))
    return by_symbol(asyncio.run(detector.check(msg, ctx)))


# -- IMP_PROTECTED_NAME ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Jane Doe", "JANE DOE", "Doe, Jane", "J. Doe", "Jane Q Doe", "Jäne  Doe (CEO)"]
)
def test_protected_name_from_outside_hits(name: str) -> None:
    hit = scan((name, "jane.doe.ceo@freemail.test"), protected_people=[CEO])["IMP_PROTECTED_NAME"]
    assert "Jane Q. Doe" in hit.explanation and "jane.doe.ceo@freemail.test" in hit.explanation


@pytest.mark.parametrize(
    ("name", "addr"),
    [
        ("Jane Doe", "jdoe@example.net"),  # one of her own addresses
        ("Jane Doe", "JANE.DOE@example.com"),
        ("Jane Doe", "someone@mail.example.com"),  # internal mail
        ("John Doe", "john@elsewhere.test"),
        ("Jane Doe-Smith", "jane@elsewhere.test"),
        ("Jane Doe via Friends", "list@elsewhere.test"),
    ],
)
def test_protected_name_misses(name: str, addr: str) -> None:
    assert "IMP_PROTECTED_NAME" not in scan((name, addr), protected_people=[CEO])


def test_person_name_matching_rules() -> None:
    jane = person_tokens("Jane Quinn Doe")
    assert names_match(person_tokens("Doe, J."), jane)
    assert names_match(person_tokens("Jane Q. Doe"), jane)
    assert not names_match(person_tokens("Jane X. Doe"), jane)
    assert not names_match(person_tokens("Doe"), jane)


# -- IMP_LOOKALIKE_DOMAIN --------------------------------------------------------------------


def test_lookalike_of_accepted_domain_hits_with_technique() -> None:
    hit = scan(("Alice", "alice@examp1e.com"))["IMP_LOOKALIKE_DOMAIN"]
    assert hit.explanation == (
        'The sender\'s domain examp1e.com looks like example.com (a "1" in place of "l").'
    )
    assert hit.evidence == ("examp1e.com", "example.com", "homoglyph")


def test_lookalike_in_reply_to_envelope_partner_and_brand_hits() -> None:
    reply = scan(("A", "a@other.test"), reply_to=("a@exarnple.com",))["IMP_LOOKALIKE_DOMAIN"]
    assert reply.explanation.startswith("The reply address's domain exarnple.com")
    env = scan(("A", "a@other.test"), mail_from="b@bounce.example-secure.com")
    assert env["IMP_LOOKALIKE_DOMAIN"].explanation.startswith("The envelope sender's domain")
    partner = scan(("A", "a@partnre.org"), protected_domains=["partner.org"])
    assert "partner.org" in partner["IMP_LOOKALIKE_DOMAIN"].explanation
    assert "IMP_LOOKALIKE_DOMAIN" in scan(("PayPal", "service@paypa1.com"))
    assert "IMP_LOOKALIKE_DOMAIN" in scan(("PayPal", "service@paypal.co"))


@pytest.mark.parametrize(
    "addr",
    [
        "alice@example.com",
        "alice@news.example.com",
        "someone@unrelated.test",
        "billing@paypal.com",  # the brand itself
        "me@gmail.com",  # free webmail is a brand too, never its own lookalike
        "info@slack.net",  # another TLD of a brand's name is often another organisation
        "chef@cooking.com",  # one letter from "booking", but no keystroke slip
    ],
)
def test_lookalike_misses(addr: str) -> None:
    assert "IMP_LOOKALIKE_DOMAIN" not in scan(("Someone", addr))


def test_lookalike_brands_can_be_turned_off_and_domains_ignored() -> None:
    assert "IMP_LOOKALIKE_DOMAIN" not in scan(("A", "a@paypa1.com"), brands=False)
    assert "IMP_LOOKALIKE_DOMAIN" not in scan(
        ("A", "a@examp1e.com"), ignore_domains=["examp1e.com"]
    )


# -- IMP_BRAND_DISPLAY_NAME / IMP_BRAND_NAME_FREEMAIL ----------------------------------------


@pytest.mark.parametrize(
    "name", ["PayPal Service", "Microsoft 365", "Microsoft Account Team", "DHL Express"]
)
def test_brand_display_name_from_foreign_domain_hits(name: str) -> None:
    found = scan((name, "noreply@mailer-host.test"))
    assert "IMP_BRAND_DISPLAY_NAME" in found
    assert "IMP_BRAND_NAME_FREEMAIL" not in found


def test_brand_display_name_from_freemail_is_its_own_symbol() -> None:
    found = scan(("Netflix Billing", "netflix.billing2024@gmail.com"))
    assert "IMP_BRAND_DISPLAY_NAME" not in found
    assert "free webmail" in found["IMP_BRAND_NAME_FREEMAIL"].explanation


def test_organisation_name_is_a_brand_of_the_accepted_domains() -> None:
    claim = ("Example Corp IT Helpdesk", "it@helpdesk-portal.test")
    assert "IMP_BRAND_DISPLAY_NAME" in scan(claim, organisation_names=["Example Corp"])
    assert "IMP_BRAND_DISPLAY_NAME" not in scan(claim)
    own = ("Example Corp IT", "it@example.com")
    assert "IMP_BRAND_DISPLAY_NAME" not in scan(own, organisation_names=["Example Corp"])


@pytest.mark.parametrize(
    ("name", "addr"),
    [
        ("PayPal", "service@paypal.com"),
        ("PayPal Deutschland", "service@mail.paypal.de"),
        ("Microsoft Teams", "noreply@email.teams.microsoft.com"),
        ("Apple Pie Recipes", "chef@cooking.test"),  # more than the brand and generic words
        ("Jane from Amazon", "jane@shop.test"),
        ("Chase Miller", "chase@mail.test"),  # a first name, not the bank
    ],
)
def test_brand_display_name_misses(name: str, addr: str) -> None:
    found = scan((name, addr))
    assert "IMP_BRAND_DISPLAY_NAME" not in found and "IMP_BRAND_NAME_FREEMAIL" not in found


# -- IMP_REPLY_TO_DIVERT ---------------------------------------------------------------------


def test_reply_to_freemail_diverts_with_full_factor() -> None:
    hit = scan(("Accounts", "ap@supplier.test"), reply_to=("ap@gmail.com",))
    assert hit["IMP_REPLY_TO_DIVERT"].factor == 1.0
    assert "free webmail" in hit["IMP_REPLY_TO_DIVERT"].explanation


def test_reply_to_unrelated_domain_diverts_with_lower_factor() -> None:
    hit = scan(("Accounts", "ap@supplier.test"), reply_to=("payments@collect-desk.test",))
    assert hit["IMP_REPLY_TO_DIVERT"].factor == 0.7


@pytest.mark.parametrize(
    ("sender", "reply_to", "headers"),
    [
        ("ap@supplier.org", "billing@mail.supplier.org", ()),  # same registrable domain
        ("news@acme.org", "help@acme-support.net", ()),  # the same name
        ("alice@example.com", "alice@example.net", ()),  # the same name under another TLD
        ("jo@work-place.org", "jo@home-isp.net", ()),  # the same person's other mailbox
        (
            "bob@host.test",
            "friends@lists.example.org",
            (("List-Id", "<friends.lists.example.org>"),),
        ),
        (
            "bob@host.test",
            "group@groups.test",
            (("Mailing-List", "list group@groups.test; contact group-owner@groups.test"),),
        ),
        # the list rewrote the From and put the author into Reply-To
        ("group@groups.test", "author@gmail.com", (("List-Post", "<mailto:group@groups.test>"),)),
    ],
)
def test_reply_to_misses(sender: str, reply_to: str, headers: tuple[tuple[str, str], ...]) -> None:
    found = scan(("Someone", sender), reply_to=(reply_to,), headers=headers)
    assert "IMP_REPLY_TO_DIVERT" not in found


def test_list_headers_of_another_host_do_not_hide_a_divert() -> None:
    headers = (("List-Id", "<news.lists.example.org>"),)
    found = scan(("A", "ap@supplier.test"), reply_to=("x@gmail.com",), headers=headers)
    assert "IMP_REPLY_TO_DIVERT" in found


# -- IMP_FIRST_TIME_SENDER -------------------------------------------------------------------


def test_first_time_sender_needs_the_history_client() -> None:
    history = MemorySenderHistory({"known@partner.test": SenderStats(1.0, 2.0, 3)})
    clients = {"history": history}
    assert "IMP_FIRST_TIME_SENDER" in scan(("New", "new@partner.test"), clients=clients)
    assert "IMP_FIRST_TIME_SENDER" not in scan(("Known", "Known@partner.test"), clients=clients)
    assert "IMP_FIRST_TIME_SENDER" not in scan(("Colleague", "x@example.com"), clients=clients)
    assert "IMP_FIRST_TIME_SENDER" not in scan(("New", "new@partner.test"))
    assert "IMP_FIRST_TIME_SENDER" not in scan(
        ("New", "new@partner.test"), clients={"history": None}
    )


def test_plain_external_mail_raises_nothing() -> None:
    assert scan(("Alice Smith", "alice@partner.test"), protected_people=[CEO]) == {}
