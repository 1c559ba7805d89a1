"""Links to web pages nobody has to own a domain for: buckets, free site hosts, IP-named hosts.

A legitimate sender links its own site (or its mail service's click tracker, which leads to it).
A phishing kit needs somewhere to put its page, and the cheapest places prove nothing about who
put it there: a public cloud storage bucket serving an HTML file, a free site, app or form on a
platform's domain, or a server whose host name is just its IP address under a hosting
provider's domain. Neither says anything about the words of
the message, so either is a finding independent of the content model and corroborates it.

Detects
  - an HTML link, whose text does not show its host, to an HTML page (path ending ``.htm``,
    ``.html``, ``.shtml`` or ``.xhtml``) served from a public object-storage or IPFS host
    (``storage.googleapis.com``, ``firebasestorage.googleapis.com``,
    ``*.blob.core.windows.net``, ``*.web.core.windows.net``, Amazon S3, Cloudflare R2
    ``*.r2.dev``, DigitalOcean Spaces, Oracle object storage, IPFS gateways): a web page in a
    bucket, not a document or an image;
  - an HTML link, whose text does not show its host, to a page on a free site, app or form
    host: a name anyone gets under the provider's domain by signing up (serverless and app
    platforms such as ``*.run.app``, ``*.web.app``, ``*.pages.dev``, ``*.workers.dev``,
    ``*.netlify.app``, ``*.vercel.app``, ``*.herokuapp.com``; site builders such as
    ``*.blogspot.com``, ``*.wixsite.com``, ``*.weebly.com``, ``sites.google.com``; form
    builders such as ``forms.yandex.com``, ``docs.google.com/forms``, ``forms.office.com``;
    and ``*.translate.goog``, which serves any site under Google's name). The list is
    ``FREE_SITE_SUFFIXES`` and ``FREE_FORM_PAGES``; file-sharing services (Dropbox, OneDrive,
    WeTransfer) are left out: real business mail links shared files that way;
  - a link to a host whose name carries an IPv4 address (``188.106.205.92.host.example.net``,
    ``168-119-251-236.plesk.page``): a server with no name of its own (bare IP links are
    ``URL_IP_LITERAL``'s).

Links to the From domain or an accepted domain are never reported.

Symbols (group "hosting")
  URL_BUCKET_PAGE     3  link to an HTML page in a public storage bucket or IPFS gateway
  URL_FREE_SITE       3  link to a page on a free site, app or form host
  URL_IP_NAMED_HOST   3  link to a host named after its IP address

Each symbol is raised at most once per message; its evidence lists up to ``max_findings`` links.

Settings ``[detectors.hosting]``
  max_findings   most links listed as evidence for one symbol (default 5)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import ClassVar

from pydantic import Field

from mailward.detectors._domains import in_domains
from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.model import Finding, ParsedMessage, Url

_GROUP = "hosting"
_WEB_SCHEMES = frozenset({"http", "https"})
#: Hosts that serve whatever file anyone uploads, under the provider's name.
_BUCKET_HOST = re.compile(
    r"^(?:storage\.googleapis\.com|firebasestorage\.googleapis\.com"
    r"|[a-z0-9.-]+\.(?:blob|web)\.core\.windows\.net"
    r"|(?:[a-z0-9.-]+\.)?s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com"
    r"|[a-z0-9.-]+\.r2\.dev|[a-z0-9.-]+\.digitaloceanspaces\.com"
    r"|objectstorage\.[a-z0-9.-]+\.oraclecloud\.com"
    r"|(?:[a-z0-9.-]+\.)?ipfs\.[a-z0-9.-]+|[a-z0-9.-]+\.ipfs\.dweb\.link)$"
)
#: Domains under which anyone who signs up gets a site or app of their own (the account's
#: name is the label in front): a page there proves nothing about who put it there.
FREE_SITE_SUFFIXES = (
    # serverless, app and static hosting platforms
    "run.app", "web.app", "firebaseapp.com", "pages.dev", "workers.dev", "netlify.app",
    "vercel.app", "herokuapp.com", "glitch.me", "repl.co", "replit.app", "onrender.com",
    "fly.dev", "github.io", "gitlab.io", "azurewebsites.net", "000webhostapp.com",
    "ngrok.io", "ngrok-free.app", "trycloudflare.com", "surge.sh", "framer.app",
    # site builders
    "blogspot.com", "wixsite.com", "weebly.com", "godaddysites.com", "webflow.io",
    "square.site", "mystrikingly.com", "carrd.co", "notion.site", "canva.site",
    # a proxy that serves any site under Google's name (www-example-com.translate.goog)
    "translate.goog",
)
#: Hosts that serve anyone's forms or sites, with the path prefix that marks such a page.
FREE_FORM_PAGES = {
    "forms.yandex.com": "", "forms.yandex.ru": "", "forms.gle": "", "forms.office.com": "",
    "forms.app": "", "form.jotform.com": "", "docs.google.com": "forms/",
    "sites.google.com": "",
}
_FREE_SITE_HOST = re.compile(
    r"^[a-z0-9][a-z0-9.-]*\.(?:" + "|".join(re.escape(d) for d in FREE_SITE_SUFFIXES) + r")$"
)
_PAGE_PATH = re.compile(r"\.(?:s?html?|xhtml)$", re.IGNORECASE)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
#: Four octets as labels or dash-joined within a label, followed by more of the name.
_IP_IN_NAME = re.compile(
    rf"(?:^|[.-]){_OCTET}([.-]){_OCTET}\1{_OCTET}\1{_OCTET}[.-][a-z0-9-]*[a-z][a-z0-9-]*\."
)


_BUCKET_WHY = (
    "A link opens a web page stored in a public storage bucket, which anyone can upload to "
    "without owning a domain."
)
_FREE_SITE_WHY = (
    "A link, whose text does not show where it goes, opens a page on a free site, app or form "
    "host, where anyone can publish under the provider's name."
)
_IP_NAMED_WHY = "A link goes to a server named only after its IP address."


class HostingSettings(DetectorSettings):
    """Options of the hosting detector."""

    max_findings: int = Field(default=5, ge=1)


def _path(url: str) -> str:
    rest = url.split("://", 1)[-1]
    path = rest.split("/", 1)[1] if "/" in rest else ""
    return path.split("?", 1)[0].split("#", 1)[0]


def is_bucket_page(link: Url) -> bool:
    """Whether the link is an HTML page served from a public storage bucket or IPFS gateway,
    behind link text that does not show the bucket's host (a plain-text address, such as a CI
    report's link to its logs, shows the reader where it goes)."""
    if link.source != "html" or link.host in (link.anchor_text or "").lower():
        return False
    return bool(_BUCKET_HOST.match(link.host)) and bool(_PAGE_PATH.search(_path(link.url)))


def is_free_site_page(link: Url) -> bool:
    """Whether the link opens a page on a free site, app or form host, behind link text that
    does not show the host."""
    if link.source != "html" or link.host in (link.anchor_text or "").lower():
        return False
    prefix = FREE_FORM_PAGES.get(link.host)
    if prefix is not None:
        return _path(link.url).lower().startswith(prefix)
    return bool(_FREE_SITE_HOST.match(link.host))


def is_ip_named(host: str) -> bool:
    """Whether the host name carries an IPv4 address and more labels (not a bare IP)."""
    return bool(_IP_IN_NAME.search(host + "."))


class HostingDetector:
    """Links to pages on bucket hosts and IP-named servers."""

    name: ClassVar[str] = "hosting"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "URL_BUCKET_PAGE": SymbolSpec(
            3.0, _GROUP, "Link to an HTML page in a public storage bucket or IPFS gateway."
        ),
        "URL_FREE_SITE": SymbolSpec(
            3.0, _GROUP, "Link to a page on a free site, app or form host."
        ),
        "URL_IP_NAMED_HOST": SymbolSpec(3.0, _GROUP, "Link to a host named after its IP address."),
    }
    timeout: ClassVar[float] = 2.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[HostingSettings]] = HostingSettings

    def __init__(self, settings: HostingSettings | None = None) -> None:
        self.settings = settings or HostingSettings()

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        own = tuple(a.domain for a in msg.from_ if a.domain) + tuple(ctx.accepted_domains)
        buckets: list[str] = []
        free_sites: list[str] = []
        ip_named: list[str] = []
        for link in msg.urls:
            if link.scheme not in _WEB_SCHEMES or (own and in_domains(link.host, own)):
                continue
            if is_bucket_page(link):
                buckets.append(link.url)
            elif is_free_site_page(link):
                free_sites.append(link.url)
            elif is_ip_named(link.host):
                ip_named.append(link.url)
        limit = self.settings.max_findings
        found = (("URL_BUCKET_PAGE", _BUCKET_WHY, buckets),
                 ("URL_FREE_SITE", _FREE_SITE_WHY, free_sites),
                 ("URL_IP_NAMED_HOST", _IP_NAMED_WHY, ip_named))
        findings = [Finding(symbol, why, tuple(dict.fromkeys(links))[:limit])
                    for symbol, why, links in found if links]
        return findings
