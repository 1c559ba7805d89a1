"""CredentialFormDetector: password fields, forms posting elsewhere, HTML login attachments."""

from __future__ import annotations

import pytest
from helpers_detectors import address, attachment, by_symbol, make_message, run

from mailward.detectors.forms import CredentialFormDetector as Detector
from mailward.model import Attachment, Finding

LOGIN_PAGE = """<html><body><h1>Mailbox verification</h1>
<form method="post" action="https://collect.example.net/gate.php">
<input type="email" name="login_email" placeholder="Email address">
<input type="PASSWORD" name="pw">
<button type="submit">Sign in</button></form></body></html>"""
EMAIL_ONLY_PAGE = """<form action="https://collect.example.net/next" method="post">
<input type="text" name="username"><input type="submit" value="Continue"></form>"""
SEARCH_NEWSLETTER = """<p>Our spring catalogue is out.</p>
<form action="https://search.example.net/find" method="get">
<input type="text" name="q"><input type="submit" value="Search"></form>
<a href="https://www.example.com/reset-password">Reset your password</a>"""


def findings(
    html: str = "", attachments: tuple[Attachment, ...] = (), **kw: object
) -> dict[str, Finding]:
    msg = make_message(html=html, attachments=attachments, **kw)
    return by_symbol(run(Detector(Detector.Settings()), msg))


def html_file(name: str, html: str, declared: str = "text/html") -> Attachment:
    return attachment(name, html.encode("utf-8"), declared)


def test_password_field_in_body_hits_and_says_where() -> None:
    hit = findings(LOGIN_PAGE)["FORM_PASSWORD_FIELD"]
    assert hit.explanation.startswith("The message body asks for a password")
    assert hit.evidence == ("the message body",)
    assert hit.factor == 1.0


def test_html_attachment_login_hits_both_symbols() -> None:
    got = findings(attachments=(html_file("Invoice_0423.html", LOGIN_PAGE),))
    assert '"Invoice_0423.html"' in got["FORM_PASSWORD_FIELD"].explanation
    login = got["FORM_HTML_ATTACHMENT_LOGIN"]
    assert "password field" in login.explanation
    assert login.evidence == ('the attachment "Invoice_0423.html"',)


def test_attachment_login_form_without_password_hits() -> None:
    latin1 = attachment(
        "scan.htm", EMAIL_ONLY_PAGE.encode("latin-1") + b"\xe9", "application/octet-stream"
    )
    got = findings(attachments=(latin1,))
    assert "login form" in got["FORM_HTML_ATTACHMENT_LOGIN"].explanation
    assert "FORM_PASSWORD_FIELD" not in got


def test_password_written_by_script_in_attachment_hits() -> None:
    page = "<script>document.write('<input type=\\\"password\\\" name=p>')</script>"
    got = findings(attachments=(html_file("doc.html", page),))
    assert "FORM_HTML_ATTACHMENT_LOGIN" in got


def test_svg_attachment_is_read() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><input type="password"/></foreignObject></svg>'
    assert "FORM_HTML_ATTACHMENT_LOGIN" in findings(
        attachments=(html_file("fax.svg", svg, "image/svg+xml"),)
    )


def test_non_html_attachment_with_password_word_misses() -> None:
    got = findings(
        attachments=(attachment("notes.txt", b'type="password" is an input', "text/plain"),)
    )
    assert got == {}


def test_external_post_hits_with_target_host() -> None:
    hit = findings(LOGIN_PAGE)["FORM_EXTERNAL_POST"]
    assert "collect.example.net" in hit.explanation
    assert hit.evidence == ("https://collect.example.net/gate.php",)


@pytest.mark.parametrize("action", ["javascript:send()", "data:text/html;base64,PGI+"])
def test_script_action_hits_external_post(action: str) -> None:
    html = f'<form action="{action}"><input name="q"></form>'
    assert "FORM_EXTERNAL_POST" in findings(html)


@pytest.mark.parametrize(
    "html",
    [
        SEARCH_NEWSLETTER,  # GET search form, a reset *link*, no field
        '<form method="post" action="https://www.example.com/subscribe"><input name="e"></form>',
        '<form method="post" action="/local/handler"><input name="e"></form>',
    ],
)
def test_newsletter_search_and_own_domain_forms_miss(html: str) -> None:
    assert findings(html) == {}


def test_post_to_sender_domain_misses_but_other_sender_hits() -> None:
    html = '<form method="post" action="https://forms.example.org/x"><input name="email"></form>'
    assert "FORM_EXTERNAL_POST" not in findings(html, from_=(address("news@example.org"),))
    assert "FORM_EXTERNAL_POST" in findings(html)


def test_relative_action_resolved_against_base() -> None:
    html = (
        '<base href="https://collect.example.net/"><form method="post" action="p.php">'
        '<input type="tel" name="n"></form>'
    )
    assert "FORM_EXTERNAL_POST" in findings(html)


@pytest.mark.parametrize("fields", [
    '<textarea name="Question"></textarea><input type="hidden" name="Partner" value="x">',
    '<input type="text" name="q"><input type="submit" value="Go">',
])  # fmt: skip
def test_a_post_elsewhere_that_collects_nothing_personal_misses(fields: str) -> None:
    html = f'<form method="post" action="https://partner.example.net/ask.asp">{fields}</form>'
    assert "FORM_EXTERNAL_POST" not in findings(html)


@pytest.mark.parametrize("field", [
    '<input name="cardnumber">', '<input type="number" name="cvv">', '<input name="userid">',
])  # fmt: skip
def test_a_post_elsewhere_that_collects_card_or_user_data_hits(field: str) -> None:
    html = f'<form method="post" action="https://partner.example.net/p.php">{field}</form>'
    assert "FORM_EXTERNAL_POST" in findings(html)


@pytest.mark.parametrize(
    "page",
    [LOGIN_PAGE, LOGIN_PAGE.upper(), EMAIL_ONLY_PAGE, "<p>No form here, only <b>text</b></p>",
     "<script>document.write('<input type=\\\"password\\\" name=p>')</script>",
     '<svg><foreignObject><INPUT type="password"/></foreignObject></svg>',
     "<isindex prompt='password'>", "<in\x00put type=password>", "<FoRm action=x></FoRm>"],
)  # fmt: skip
def test_html_without_input_or_form_tags_is_not_parsed_and_reads_the_same(
    page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    from mailward.detectors import forms

    attached = (html_file("page.html", page),)
    quick = (findings(page), findings(attachments=attached))
    monkeypatch.setattr(forms, "_FORM_TAGS", re.compile(""))  # always parse
    assert (findings(page), findings(attachments=attached)) == quick
