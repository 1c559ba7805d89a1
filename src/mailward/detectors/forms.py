"""Credential forms: HTML that asks for a password, or posts what it collects elsewhere.

Reads the HTML body and every HTML attachment (declared or detected text/html, or a file name
ending .htm, .html, .shtml, .xhtml or .svg) with selectolax's lexbor parser.

Detects
  - a password field (``<input type=password>``) in the body or in an attachment;
  - a form that sends personal data it collects (a password, a user name or e-mail address,
    card, phone or account fields; not a search box or a comment field) to another
    organisation: method POST (or a password field) and an absolute action URL whose
    registrable domain is neither the From domain's nor an accepted domain; or any form with a
    ``data:``/``javascript:`` action;
  - the classic phishing attachment: an HTML file holding a password field, or a login-like
    form (an e-mail/user-name field plus a submit control). Password inputs written by script
    (``"<input type=password"`` inside a script string) count too.

A GET search form without a password field, or a link to a password-reset page, is no hit.

Symbols (default weight, group "forms")
  FORM_PASSWORD_FIELD          6  a password field (factor 1.0; the explanation says where)
  FORM_EXTERNAL_POST           2.5  a form posting to another domain or to a data:/javascript: URL
  FORM_HTML_ATTACHMENT_LOGIN   8  an HTML attachment with a password field or login form

Each symbol is raised at most once per message; evidence lists up to ``max_findings`` items.

Settings ``[detectors.forms]``
  max_findings    most items listed as evidence for one symbol (default 5)
  max_html_chars  most characters of one HTML document parsed (default 2,000,000)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import Field
from selectolax.lexbor import LexborHTMLParser, LexborNode

from mailward.detectors._domains import in_domains, organisation_domain
from mailward.detectors._flat_html import kept_flat_html
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.mime.urls import make_url
from mailward.model import Attachment, Finding, ParsedMessage

_GROUP = "forms"
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml"})
_HTML_EXTS = (".htm", ".html", ".shtml", ".xhtml", ".svg")
_SCRIPT_ACTION = re.compile(r"^(?:javascript|vbscript|data):", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x20]+")
#: An input or form start tag: the parser lower-cases a tag name's ASCII letters only, so an
#: input or form element comes from these letters after a "<" (HTML without them has none).
_FORM_TAGS = re.compile(r"<(?:[iI][nN][pP][uU][tT]|[fF][oO][rR][mM])")
_SCRIPTED_PASSWORD = re.compile(r"""type\s*=\s*\\?["']?password\b""", re.IGNORECASE)
_USER_HINT = re.compile(r"e-?mail|user|login|logon|account|username|userid|\bid\b", re.I)
_USER_TYPES = frozenset({"email", "text", ""})
#: Fields of personal data a form posting elsewhere may collect (besides passwords and user names).
_PERSONAL_HINT = re.compile(
    r"pass|senha|kennwort|card|cvv|cvc|expir|\bpin\b|ssn|phone|iban|birth|security", re.I
)
_SUBMIT_TYPES = frozenset({"submit", "image", "button"})


class CredentialFormSettings(DetectorSettings):
    """Options of the forms detector."""

    max_findings: int = Field(default=5, ge=1)
    max_html_chars: int = Field(default=2_000_000, ge=1000)


@dataclass(slots=True)
class _DocReport:
    """What one HTML document holds."""

    where: str  # "the message body" or 'the attachment "x.html"'
    attached: bool
    password: bool = False
    login_form: bool = False
    external: list[str] = field(default_factory=list)


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("latin-1")


def is_html_attachment(att: Attachment) -> bool:
    name = (att.filename or "").lower()
    types = {att.detected_type.lower(), att.declared_type.lower()}
    return bool(types & _HTML_TYPES) or name.endswith(_HTML_EXTS)


def _has_form_tags(html: str) -> bool:
    """Whether :data:`_FORM_TAGS` finds an input or form start tag in ``html``.

    When the smuggling or evasion detector has flattened this HTML already (the message body,
    :func:`~mailward.detectors._flat_html.flat_html`: ASCII letters lower-cased, every other
    byte left or made a byte that is no ASCII letter and no "<"), two literal searches of that
    copy answer instead of trying the pattern at every "<" (HTML has about one in twenty).
    Making the copy for this alone would cost more than the pattern.
    """
    flat = kept_flat_html(html)
    if flat is None:
        return _FORM_TAGS.search(html) is not None
    return b"<input" in flat or b"<form" in flat


def _attr(node: LexborNode, name: str) -> str:
    return (node.attributes.get(name) or "").strip()


def _is_password(node: LexborNode) -> bool:
    return _attr(node, "type").lower() == "password"


def _is_user_field(node: LexborNode) -> bool:
    kind = _attr(node, "type").lower()
    if kind == "email":
        return True
    if kind not in _USER_TYPES:
        return False
    hints = " ".join(_attr(node, a) for a in ("name", "id", "placeholder", "autocomplete"))
    return _USER_HINT.search(hints) is not None


def _collects_personal(node: LexborNode) -> bool:
    """An input for something worth stealing: a password, a user name or address, card or
    account data (a search box or a comment field is not)."""
    kind = _attr(node, "type").lower()
    if kind in ("password", "tel") or _is_user_field(node):
        return True
    if kind not in (*_USER_TYPES, "number"):
        return False
    hints = " ".join(_attr(node, a) for a in ("name", "id", "placeholder", "autocomplete"))
    return _PERSONAL_HINT.search(hints) is not None


def _is_submit(node: LexborNode) -> bool:
    if node.tag == "button":
        return _attr(node, "type").lower() in ("", "submit")
    return node.tag == "input" and _attr(node, "type").lower() in _SUBMIT_TYPES


class CredentialFormDetector:
    """Reports password fields, forms posting elsewhere and HTML login attachments."""

    name: ClassVar[str] = "forms"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "FORM_PASSWORD_FIELD": SymbolSpec(
            6.0, _GROUP, "The message or an attachment holds a password field."
        ),
        "FORM_EXTERNAL_POST": SymbolSpec(
            2.5, _GROUP, "A form sends what it collects to another domain or a script URL."
        ),
        "FORM_HTML_ATTACHMENT_LOGIN": SymbolSpec(
            8.0, _GROUP, "An HTML attachment holds a login form or a password field."
        ),
    }
    timeout: ClassVar[float] = 5.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[CredentialFormSettings]] = CredentialFormSettings

    def __init__(self, settings: CredentialFormSettings) -> None:
        self.settings = settings

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        own = tuple(organisation_domain(a.domain) for a in msg.from_ if a.domain)
        trusted = own + tuple(ctx.accepted_domains)
        reports: list[_DocReport] = []
        if msg.html and not msg.html.isspace():  # what ``msg.html.strip()`` tells, uncopied
            body = _DocReport("the message body", attached=False)
            reports.append(self._inspect(msg.html, body, trusted))
        for att in msg.attachments:
            if is_html_attachment(att):
                report = _DocReport(f'the attachment "{att.filename or "unnamed"}"', attached=True)
                text = _decode(att.content[: self.settings.max_html_chars * 4])
                reports.append(self._inspect(text, report, trusted))
        found = (self._password(reports), self._external(reports), self._attachment(reports))
        return [f for f in found if f is not None]

    def _inspect(self, html: str, report: _DocReport, trusted: tuple[str, ...]) -> _DocReport:
        html = html[: self.settings.max_html_chars]
        if not _has_form_tags(html):  # nothing the parse could find
            if report.attached:
                report.password = _SCRIPTED_PASSWORD.search(html) is not None
            return report
        tree = LexborHTMLParser(html)
        inputs = tree.css("input")
        report.password = any(_is_password(n) for n in inputs)
        if report.attached and not report.password:
            report.password = _SCRIPTED_PASSWORD.search(html) is not None
        base_node = tree.css_first("base[href]")
        base = _attr(base_node, "href") if base_node is not None else ""
        for form in tree.css("form"):
            controls = form.css("input, button")
            has_password = any(_is_password(n) for n in controls)
            if any(_is_user_field(n) for n in controls) and any(_is_submit(n) for n in controls):
                report.login_form = True
            collects = any(_collects_personal(n) for n in form.css("input"))
            target = _external_target(form, base, trusted, has_password, collects)
            if target is not None:
                report.external.append(target)
        return report

    def _password(self, reports: list[_DocReport]) -> Finding | None:
        places = [r.where for r in reports if r.password]
        if not places:
            return None
        more = f" (and in {len(places) - 1} more)" if len(places) > 1 else ""
        return Finding(
            symbol="FORM_PASSWORD_FIELD",
            explanation=(
                f"{places[0][0].upper()}{places[0][1:]} asks for a password{more}; "
                "legitimate services never collect passwords by e-mail."
            ),
            evidence=tuple(places[: self.settings.max_findings]),
            factor=1.0,
            detector=self.name,
        )

    def _external(self, reports: list[_DocReport]) -> Finding | None:
        targets = list(dict.fromkeys(t for r in reports for t in r.external))
        if not targets:
            return None
        more = f" ({len(targets) - 1} more such forms)" if len(targets) > 1 else ""
        return Finding(
            symbol="FORM_EXTERNAL_POST",
            explanation=(
                f"A form sends what is typed into it to {_shown_target(targets[0])}, not to the "
                f"sender's own domain{more}."
            ),
            evidence=tuple(targets[: self.settings.max_findings]),
            detector=self.name,
        )

    def _attachment(self, reports: list[_DocReport]) -> Finding | None:
        hits = [
            r for r in reports if r.where != "the message body" and (r.password or r.login_form)
        ]
        if not hits:
            return None
        what = "a password field" if hits[0].password else "a login form"
        return Finding(
            symbol="FORM_HTML_ATTACHMENT_LOGIN",
            explanation=(
                f"{hits[0].where[0].upper()}{hits[0].where[1:]} is a web page with {what}, "
                "the usual way to steal a password by e-mail; do not open it."
            ),
            evidence=tuple(r.where for r in hits[: self.settings.max_findings]),
            detector=self.name,
        )


def _external_target(
    form: LexborNode, base: str, trusted: tuple[str, ...], has_password: bool, collects: bool
) -> str | None:
    """The form's action when it sends collected personal data (``collects``) off to another
    domain, or any data to a script address; else None."""
    action = _CONTROL.sub("", _attr(form, "action"))
    if not action:
        return None
    if _SCRIPT_ACTION.match(action):
        return action[:120]
    if not collects or (_attr(form, "method").lower() != "post" and not has_password):
        return None
    url = make_url(action, "html", base=base or None)
    if url is None or url.scheme not in ("http", "https") or not url.host:
        return None
    if in_domains(organisation_domain(url.host), trusted):
        return None
    return url.url[:120]


def _shown_target(target: str) -> str:
    url = make_url(target, "html")
    if url is not None and url.host:
        return url.host
    return f"a {target.split(':', 1)[0].lower()}: address"
