"""The hosting detector: HTML pages in storage buckets and hosts named after their IP address."""

from __future__ import annotations

import pytest
from tests.detectors.helpers_detectors import by_symbol, html_link, make_message, run

from mailward.detectors.hosting import HostingDetector, HostingSettings, is_ip_named


def _scan(*hrefs: str) -> dict[str, object]:
    msg = make_message(urls=tuple(html_link(h, "Sign in") for h in hrefs))
    return dict(by_symbol(run(HostingDetector(), msg)))


@pytest.mark.parametrize("href", [
    "https://storage.googleapis.com/bucket-x/index.html#4WVhVI2029",
    "https://firebasestorage.googleapis.com/v0/b/x.appspot.com/o/login.htm?alt=media",
    "https://acct1.blob.core.windows.net/web/office365.html",
    "https://acct1.z13.web.core.windows.net/login.shtml",
    "https://files-x.s3.us-east-1.amazonaws.com/page.html",
    "https://pub-123.r2.dev/x/secure.html",
    "https://ipfs.io/ipfs/bafybeigd/verify.html",
])  # fmt: skip
def test_page_in_a_bucket_is_reported(href: str) -> None:
    found = _scan(href)
    assert set(found) == {"URL_BUCKET_PAGE"}


@pytest.mark.parametrize("href", [
    "https://storage.googleapis.com/bucket-x/report.pdf",
    "https://acct1.blob.core.windows.net/img/logo.png",
    "https://www.example.net/index.html",
    "mailto:someone@storage.googleapis.com",
])  # fmt: skip
def test_documents_images_and_own_sites_are_not(href: str) -> None:
    assert _scan(href) == {}


@pytest.mark.parametrize("host", [
    "188.106.205.92.host.secureserver.net", "royalshop.168-119-251-236.plesk.page",
    "ec2-3-85-10-7.compute-1.amazonaws.com",
])  # fmt: skip
def test_ip_named_hosts(host: str) -> None:
    assert is_ip_named(host)
    assert set(_scan(f"http://{host}/NotaFiscal")) == {"URL_IP_NAMED_HOST"}


@pytest.mark.parametrize("host", [
    "10.0.0.1", "www.example.com", "mail2024.example.com", "a1-2-3.example.com",
    "1.2.3.4.5.6", "300.1.2.3.example.com",
])  # fmt: skip
def test_names_that_are_not_ip_named(host: str) -> None:
    assert not is_ip_named(host)


def test_links_to_the_senders_own_domain_are_never_reported() -> None:
    msg = make_message(urls=(html_link("https://10-1-2-3.example.com/a", "x"),))
    assert run(HostingDetector(), msg) == []


def test_evidence_is_capped() -> None:
    hrefs = [f"https://storage.googleapis.com/b/{i}.html" for i in range(9)]
    msg = make_message(urls=tuple(html_link(h, "x") for h in hrefs))
    (finding,) = run(HostingDetector(HostingSettings(max_findings=2)), msg)
    assert finding.evidence == tuple(hrefs[:2])


@pytest.mark.parametrize("href", [
    "https://b-a4qxna7jwq-rj.a.run.app/b/?tr=50bd12918fc94a82",
    "https://secure-login-7.web.app/",
    "https://verify-account.pages.dev/index",
    "https://x1.workers.dev/?id=9",
    "https://office-docs.netlify.app/",
    "https://someone.blogspot.com/2024/login",
    "https://www-bank-example.translate.goog/login?_x_tr_sl=auto",
    "https://forms.yandex.com/cloud/65815ae83e9d0801973d7263/",
    "https://docs.google.com/forms/d/e/1FAIpQL/viewform",
])  # fmt: skip
def test_a_page_on_a_free_site_app_or_form_host_is_reported(href: str) -> None:
    assert set(_scan(href)) == {"URL_FREE_SITE"}


@pytest.mark.parametrize("href", [
    "https://docs.google.com/document/d/1abc/edit",  # a shared document, not a form
    "https://run.app/",  # the platform's own name, no account in front
    "https://www.dropbox.com/s/abc/report.pdf",  # file sharing is left out
    "https://www.example.net/login",
])  # fmt: skip
def test_documents_platform_names_and_other_sites_are_not_free_sites(href: str) -> None:
    assert _scan(href) == {}


def test_a_free_site_link_that_shows_its_host_is_not_reported() -> None:
    # a plain-text address or a link whose text shows the host tells the reader where it goes
    shown = html_link("https://project.github.io/docs", "https://project.github.io/docs")
    msg = make_message(urls=(shown,))
    assert run(HostingDetector(), msg) == []
