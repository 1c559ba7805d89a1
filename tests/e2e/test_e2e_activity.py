"""Worrying activity through the running gateway: an internal account starts sending a
credential lure (one that passes the engine message by message) to 40 colleagues within two
minutes. The burst is detected, an alert is raised and POSTed (HMAC-signed) to a webhook the
test runs, the account's further outbound mail is held in the quarantine (nothing lost, other
accounts unaffected), and `mailward alerts close` releases and delivers what was held."""

from __future__ import annotations

import json
import smtplib
import time
from email.message import EmailMessage

import messages
import pytest
from gateway_harness import maildir_files
from webhook_receiver import webhook_receiver

from mailward.activity import verify
from mailward.store import open_store

pytestmark = pytest.mark.slow

SECRET = "webhook-test-secret"
ACCOUNT = "alice@example.com"


def lure(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Alice Martin <alice@example.com>"
    msg["To"] = f"user{n}@example.com"
    msg["Subject"] = "Updated holiday schedule"
    msg["Message-ID"] = f"<lure-{n}@example.com>"
    msg.set_content(
        "Hi,\n\nthe updated holiday schedule is on the shared drive; sign in with your work "
        "account to see it:\nhttps://sharepoint-docs.example.org/s/holiday-2027\n\nAlice\n")
    return msg


def test_compromised_account_burst_is_alerted_held_and_released(make_gateway) -> None:
    with webhook_receiver() as (url, hook):
        gw = make_gateway(
            start=False, org='internal_networks = ["127.0.0.0/8"]',
            extra=(f'\n[activity.webhook]\nurl = "{url}"\nsecret = "{SECRET}"\n'
                   "[activity.responses.account]\nhold_outbound = true\n"),
        )
        gw.start()
        first_sent = time.time()
        with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
            for n in range(40):
                smtp.send_message(lure(n), from_addr=ACCOUNT)
            sent_in = time.time() - first_sent
            headers, body = hook.wait(1)[0]
            for n in range(5):  # the account's further mail, after the alert
                smtp.send_message(messages.clean(500 + n, to=f"user{n}@example.com"),
                                  from_addr=ACCOUNT)
            smtp.send_message(messages.clean(900, to="user1@example.com"),
                              from_addr="bob@example.com")  # another account flows on
        assert sent_in < 120

        # the alert, as the webhook got it: signed, with evidence an analyst can check
        assert verify(body, SECRET, headers["X-Mailward-Signature"])
        event = json.loads(body)
        alert = event["alert"]
        assert event["event"] == "alert.opened" and alert["kind"] == "account"
        assert alert["subject"] == ACCOUNT and "ACT_SEND_BURST" in alert["symbols"]
        burst = alert["evidence"][0]["evidence"]
        assert burst["messages"] >= 20 and len(burst["message_ids"]) == burst["messages"]
        assert alert["responses"]["hold_outbound"]["account"] == ACCOUNT
        delay = alert["created_at"] - first_sent
        print(f"\ndetection delay (first bad message -> alert): {delay:.2f} s "
              f"({burst['messages']} messages; 40 sent in {sent_in:.1f} s)")

        # held, not lost: everything accepted is either in a Maildir or held in quarantine
        gw.wait_spool_empty()
        shown = gw.cli("alerts", "show", str(alert["id"]), "--json")
        assert shown.returncode == 0, shown.stderr
        held = json.loads(shown.stdout)["held"]
        delivered = len(maildir_files(gw.data_dir))
        assert len(held) >= 5 + 40 - burst["messages"]
        assert delivered + len(held) == 46
        listed = gw.cli("alerts", "list", "--json")
        assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [alert["id"]]
        store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
        try:
            entry = store.get_quarantine(held[-1])
            assert entry is not None and entry.action == "hold" and entry.status == "held"
        finally:
            store.close()

        # the analyst closes the alert: the held mail is released and delivered
        closed = gw.cli("alerts", "close", str(alert["id"]), "--reason", "password reset",
                        "--actor", "soc", "--json")
        assert closed.returncode == 0, closed.stderr
        assert sorted(json.loads(closed.stdout)["released"]) == sorted(held)
        gw.wait_spool_empty()
        assert len(maildir_files(gw.data_dir)) == 46
        events = [json.loads(b)["event"] for _, b in hook.wait(2)]
        assert events[-1] == "alert.closed"
        # internal mail is journaled like inbound mail: a hunt finds every delivered copy
        hunt = gw.cli("hunt", "--sender", ACCOUNT, "--json")
        assert hunt.returncode == 0, hunt.stderr
        assert len(hunt.stdout.splitlines()) == 45

    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        trail = [(a.actor, a.action) for a in store.audit_log(held[0])]
        assert ("mailward-activity", "activity hold") in trail
        assert ("soc", "release") in trail
        assert store.audit_log(f"alert-{alert['id']}")[0].action == "alert closed"
    finally:
        store.close()


def test_password_spraying_over_smtp_auth_is_alerted(make_gateway, tmp_path) -> None:
    """Failed AUTH for six logins from one client: an ACT_AUTH_SPRAY alert on its network;
    the real user's successful login is counted on its own account."""
    import ssl

    from tls_certs import make_self_signed

    from mailward.frontends.smtp.auth import hash_password

    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    cert, key = make_self_signed(tmp_path)
    pw_hash = hash_password("s3cret", iterations=1000)
    with webhook_receiver() as (url, hook):
        gw = make_gateway(
            extra=f'\n[activity.webhook]\nurl = "{url}"\nsecret = "{SECRET}"\n',
            smtp=f'tls_cert = "{cert}"\ntls_key = "{key}"\n'
                 f'[smtp.auth_users]\nalice = "{pw_hash}"\n',
        )
        started = time.time()
        for pair in (("ann", "bob"), ("carol", "dave"), ("erin", "frank")):
            with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
                smtp.starttls(context=ctx)
                for login in pair:
                    with pytest.raises(smtplib.SMTPAuthenticationError):
                        smtp.login(login, "Winter2026!")
        headers, body = hook.wait(1)[0]
        assert verify(body, SECRET, headers["X-Mailward-Signature"])
        alert = json.loads(body)["alert"]
        assert (alert["kind"], alert["subject"]) == ("auth", "127.0.0.0/24")
        assert alert["symbols"] == ["ACT_AUTH_SPRAY"]
        assert alert["evidence"][0]["evidence"]["logins"] >= 5
        print(f"\ndetection delay (first failed AUTH -> alert): {alert['created_at'] - started:.2f} s")
        with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
            smtp.starttls(context=ctx)
            smtp.login("alice", "s3cret")
    listed = gw.cli("alerts", "list", "--kind", "auth", "--json")
    assert [json.loads(line)["subject"] for line in listed.stdout.splitlines()] == [
        "127.0.0.0/24"]
    assert gw.cli("alerts", "list", "--kind", "account", "--json").stdout == ""


def strong_lure() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Alice Martin <alice@example.com>"
    msg["To"] = "user1@example.com"
    msg["Subject"] = "Action required: your Microsoft 365 password expires today"
    msg["Message-ID"] = "<strong-lure@example.com>"
    msg.set_content("Your password expires today. Verify your account now to keep access.")
    msg.add_alternative(
        "<html><body><p>Your Microsoft 365 password expires today.</p>"
        "<p>To keep access to your mailbox, verify your account now:</p>"
        '<p><a href="http://microsoft-365-login.account-verify.example.net/owa/?u=user">'
        "https://login.microsoftonline.com/</a></p>"
        '<form action="http://microsoft-365-login.account-verify.example.net/post" '
        'method="post"><input type="password" name="pw"></form>'
        "<p>IT Service Desk</p></body></html>", subtype="html")
    return msg


def test_lateral_phishing_is_alerted_at_the_first_flagged_message(make_gateway) -> None:
    """An internal account's lure the engine rejects: ACT_INTERNAL_PHISH opens the alert at
    once, and with hold_outbound the account's next messages are held, then released."""
    with webhook_receiver() as (url, hook):
        gw = make_gateway(
            org='internal_networks = ["127.0.0.0/8"]',
            extra=(f'\n[activity.webhook]\nurl = "{url}"\nsecret = "{SECRET}"\n'
                   "[activity.responses.account]\nhold_outbound = true\n"),
        )
        with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
            sent = time.time()
            with pytest.raises(smtplib.SMTPDataError) as refused:
                smtp.send_message(strong_lure(), from_addr=ACCOUNT)
            assert refused.value.smtp_code == 550
            headers, body = hook.wait(1)[0]
            for n in range(3):
                smtp.send_message(messages.clean(700 + n, to=f"user{n}@example.com"),
                                  from_addr=ACCOUNT)
        assert verify(body, SECRET, headers["X-Mailward-Signature"])
        alert = json.loads(body)["alert"]
        assert alert["symbols"] == ["ACT_INTERNAL_PHISH"] and alert["severity"] == "medium"
        phish = alert["evidence"][0]["evidence"]
        assert phish["action"] == "reject" and "strong-lure@example.com" in phish["message_id"]
        print(f"\ndetection delay (flagged lure -> alert): {alert['created_at'] - sent:.2f} s")
        gw.wait_spool_empty()
        assert maildir_files(gw.data_dir) == []
        closed = gw.cli("alerts", "close", str(alert["id"]), "--reason", "contained",
                        "--actor", "soc", "--json")
        assert closed.returncode == 0, closed.stderr
        assert len(json.loads(closed.stdout)["released"]) == 3
        gw.wait_spool_empty()
        assert len(maildir_files(gw.data_dir)) == 3
