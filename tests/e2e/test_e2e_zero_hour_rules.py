"""Zero-hour purge on a rules change: the configuration on disk changes after delivery, the
running gateway reloads it (SIGHUP via `mailward reload`, or by watching the file) and claws
back the copy that now fails; an invalid configuration leaves the gateway on the old one."""

from __future__ import annotations

import signal
import smtplib
import time
from email.message import EmailMessage

import messages
import pytest
from gateway_harness import GatewayProcess, maildir_files

from mailward.store import AuditEntry, open_store

pytestmark = pytest.mark.slow

RULES = """
[detectors.impersonation]
protected_people = [{name = "Jane Doe", addresses = ["jane.doe@example.com"]}]
[scoring.symbols.IMP_PROTECTED_NAME]
weight = 15.0
"""


def _jane(to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Jane Doe <jane.doe.ceo@partner.example.net>"
    msg["To"] = to
    msg["Subject"] = "Budget for next quarter"
    msg["Message-ID"] = "<jane-budget@partner.example.net>"
    msg.set_content("Hi,\n\nplease have a look at the budget figures before Friday.\n\nJane\n")
    return msg


def _start(make_gateway, *, watch: bool) -> GatewayProcess:
    gw = make_gateway(start=False)
    gw.config.write_text(
        gw.config.read_text()
        + f"[journal]\nzero_hour_check_seconds = 0.5\nwatch_config = {str(watch).lower()}\n"
    )
    gw.start()
    return gw


def _deliver_two(gw: GatewayProcess) -> None:
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        smtp.send_message(_jane("alice@example.com"))
        smtp.send_message(messages.clean(1, to="bob@example.com"),
                          from_addr="bob@partner.example.net")
    gw.wait_spool_empty()
    assert sorted(p.parts[-3] for p in maildir_files(gw.data_dir)) == ["alice", "bob"]


def _wait_for_one_left(gw: GatewayProcess, started: float) -> float:
    deadline = started + 30
    while len(maildir_files(gw.data_dir)) == 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    left = maildir_files(gw.data_dir)
    assert [p.parts[-3] for p in left] == ["bob"], gw.log.read_text()[-4000:]
    return time.monotonic() - started


def _audit(gw: GatewayProcess) -> list[AuditEntry]:
    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        return store.audit_log(limit=50)
    finally:
        store.close()


def test_sighup_reload_with_new_rules_claws_back_matching_copy(make_gateway) -> None:
    gw = _start(make_gateway, watch=False)
    _deliver_two(gw)
    started = time.monotonic()
    gw.config.write_text(gw.config.read_text() + RULES)
    done = gw.cli("reload")
    assert done.returncode == 0, done.stderr + done.stdout
    signalled = time.monotonic()
    remediated = _wait_for_one_left(gw, started)
    print(f"time to remediate: {remediated:.2f} s from the change to the copy removed "
          f"(`mailward reload` checks the config first: {signalled - started:.2f} s of it)")
    audit = _audit(gw)
    reloads = [a for a in audit if a.action == "reload"]
    assert reloads and reloads[0].actor == "mailward-reload (SIGHUP)"
    assert "detectors.impersonation.protected_people" in reloads[0].reason
    assert "scoring.symbols.IMP_PROTECTED_NAME" in reloads[0].reason
    assert any(a.actor == "mailward-zero-hour" and a.recipients == ("alice@example.com",)
               and "rules changed" in a.reason for a in audit)
    assert gw.proc is not None and gw.proc.poll() is None


def test_config_file_change_is_picked_up_without_a_signal(make_gateway) -> None:
    gw = _start(make_gateway, watch=True)
    _deliver_two(gw)
    started = time.monotonic()
    gw.config.write_text(gw.config.read_text() + RULES)
    remediated = _wait_for_one_left(gw, started)
    print(f"time to remediate: {remediated:.2f} s from the file change to the copy removed")
    assert any(a.action == "reload" and a.actor.startswith("mailward-reload (configuration file")
               for a in _audit(gw))


def test_invalid_config_keeps_gateway_on_old_one(make_gateway) -> None:
    gw = _start(make_gateway, watch=False)
    good = gw.config.read_text()
    moved = good.replace(f"listen_port = {gw.port}\n", "listen_port = 1\n")
    assert moved != good
    gw.config.write_text(moved + "[policy]\nquarantine_at = 'lots'\n")
    checked = gw.cli("reload")
    assert checked.returncode == 2 and "policy.quarantine_at" in checked.stderr, checked.stderr
    assert gw.proc is not None
    gw.proc.send_signal(signal.SIGHUP)  # the gateway itself must refuse it too
    deadline = time.monotonic() + 20
    while not any(a.action == "reload-failed" for a in _audit(gw)):
        assert time.monotonic() < deadline, gw.log.read_text()[-3000:]
        time.sleep(0.1)
    failed = next(a for a in _audit(gw) if a.action == "reload-failed")
    assert "policy.quarantine_at" in failed.reason
    assert "policy.quarantine_at" in gw.log.read_text()
    assert gw.proc.poll() is None
    _deliver_two(gw)  # still serving mail on the old configuration, on the old port
    gw.config.write_text(moved)
    gw.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while not any(a.action == "reload" for a in _audit(gw)):
        assert time.monotonic() < deadline, gw.log.read_text()[-3000:]
        time.sleep(0.1)
    ok = next(a for a in _audit(gw) if a.action == "reload")
    assert "kept until restart: smtp.listen_port" in ok.reason
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        assert smtp.noop()[0] == 250
