"""mailward as a milter of a real Postfix (Debian's package, installed by .ci/install-postfix.sh).

One private Postfix per module (tests/postfixserver), its smtpd_milters pointing at a running
`mailward serve` with ``[milter] listen`` set, relays to a local sink. Mail sent to Postfix is
delivered with mailward's headers, tagged, disarmed, held (quarantine, lockdown) or rejected at
SMTP time according to mailward's verdict; with mailward stopped, or its scan process killed,
nothing is delivered unscanned.
"""

from __future__ import annotations

import email
import email.policy
import io
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "postfixserver"))
sys.path.insert(0, str(Path(__file__).parents[1] / "detectors"))
sys.path.insert(0, str(Path(__file__).parents[1] / "mime"))
sys.path.insert(0, str(Path(__file__).parents[1] / "dnsserver"))

import messages
from gateway_harness import (
    GatewayProcess,
    RawSMTP,
    RecordingHandler,
    free_port,
    next_hop,
    toml_config,
)
from local_dns import LocalDnsServer
from mime_ambiguity_samples import ATTACKS as MIME_ATTACKS
from mime_ambiguity_samples import CONTROLS as MIME_CONTROLS
from postfix import Postfix, available
from test_auth_espoofer import CONTROLS as FROM_CONTROLS
from test_auth_espoofer import ESPOOFER_ATTACKS
from test_auth_espoofer import ZONE as ESPOOFER_ZONE
from test_auth_espoofer import message as from_message
from test_detectors_documents_samples import docm
from test_e2e_attacks_smtp_smuggling import VARIANTS, smuggling_body

from mailward.engine.isolation import TEST_HOOK_ENV
from mailward.store import MessageRecord, open_store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not available(), reason="needs Debian's postfix (.ci/install-postfix.sh) "
                       "and root"),
]

T = TypeVar("T")
HOOK = "e2e-milter-7d31"
SENDER = "bob@partner.example.net"
FORCE = """
[policy]
force = [
  { symbol = "ATT_EXECUTABLE", action = "reject" },
  { symbol = "ATT_ARCHIVE_EXECUTABLE", action = "quarantine" },
  { symbol = "ATT_ARCHIVE_TOO_COMPLEX", action = "quarantine" },
  { symbol = "DOC_MACRO", action = "disarm" },
  { symbol = "MIME_UNPARSEABLE", action = "quarantine" },
  { symbol = "MIME_TOO_COMPLEX", action = "quarantine" },
  { symbol = "ENGINE_SCAN_KILLED", action = "tempfail" },
  { symbol = "AV_VIRUS", action = "quarantine" },
  { symbol = "AUTH_FROM_AMBIGUOUS", action = "tag" },
]
"""


@dataclass
class Stack:
    postfix: Postfix
    gateway: GatewayProcess
    sink: RecordingHandler

    def send(self, msg: object, rcpts: list[str] | None = None, sender: str = SENDER) -> None:
        """Through Postfix's smtpd (and so the milter); raises on a 4xx/5xx reply."""
        with smtplib.SMTP("127.0.0.1", self.postfix.smtp_port, timeout=90) as smtp:
            smtp.send_message(msg, from_addr=sender, to_addrs=rcpts)  # type: ignore[arg-type]

    def delivered(self, message_id: str, timeout: float = 90.0) -> bytes:
        """The copy the sink got of ``message_id`` (waits for it)."""
        copy = wait_for(lambda: self.find(message_id), timeout)
        if copy is None:
            raise AssertionError(f"{message_id} not delivered:\n{self.postfix.log()[-3000:]}")
        return copy

    def find(self, message_id: str) -> bytes | None:
        with self.sink.lock:
            for _, _, data in self.sink.received:
                head = data.split(b"\r\n\r\n", 1)[0]
                if f"Message-ID: {message_id}".encode().lower() in head.lower():
                    return data
        return None

    def records(self) -> list[MessageRecord]:
        store = open_store(f"sqlite:///{self.gateway.data_dir / 'mailward.db'}")
        try:
            return store.recent_messages(500)
        finally:
            store.close()


def wait_for(probe: Callable[[], T | None], timeout: float = 30.0) -> T | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    return None


def milter_config(milter_port: int, reinject_port: int) -> str:
    return f"""
[milter]
listen = "inet:127.0.0.1:{milter_port}"
reinject = "127.0.0.1:{reinject_port}"
scan_timeout = 45.0
{FORCE}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("milter")
    sink_port, milter_port = free_port(), free_port()
    # Postfix's daemons run as the postfix user: its directory must be reachable by it, and
    # pytest's temporary directories are private to root.
    pf_dir = Path(tempfile.mkdtemp(prefix="mailward-postfix-"))
    pf_dir.chmod(0o755)
    postfix = Postfix(pf_dir / "postfix", free_port(), free_port(), sink_port, milter_port)
    data = tmp / "data"
    cfg = tmp / "mailward.toml"
    smtp_port = free_port()
    # detectors get more time than by default: on a busy machine a timeout finding would make
    # the two front ends' verdicts differ for a reason that is not theirs
    engine = 'disabled = ["content", "lures"]\ndetector_timeout = 30.0\nscan_hard_timeout = 60.0'
    # a local DNS server with the espoofer zone (SPF, DMARC of legit.example): the From tricks
    # are judged with authentication results, the same way through both front ends
    with LocalDnsServer(ESPOOFER_ZONE) as dns, next_hop(sink_port) as sink:
        dns_cfg = f'enabled = true\nnameservers = ["127.0.0.1"]\nport = {dns.port}\ntimeout = 2.0'
        cfg.write_text(toml_config(data, smtp_port, engine=engine, dns=dns_cfg)
                       + milter_config(milter_port, postfix.reinject_port))
        gateway = GatewayProcess(cfg, smtp_port, data, tmp / "gateway.log")
        os.environ[TEST_HOOK_ENV] = HOOK  # the crash test's hook in the scan processes
        try:
            gateway.start()
        finally:
            os.environ.pop(TEST_HOOK_ENV, None)
        try:
            postfix.start()
            yield Stack(postfix, gateway, sink)
        finally:
            postfix.stop()
            gateway.stop()
            shutil.rmtree(pf_dir, ignore_errors=True)


def as_bytes(msg: object) -> bytes:
    return bytes(msg.as_bytes(policy=email.policy.SMTP))  # type: ignore[attr-defined]


def header(raw: bytes, name: str) -> list[str]:
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    return [str(v) for v in parsed.get_all(name) or []]


def queue_id_of(copy: bytes) -> str:
    """Postfix's queue id, from the Received header its smtpd wrote."""
    for received in header(copy, "Received"):
        if "(Postfix) with ESMTP id " in received:
            return received.split("with ESMTP id ")[1].split()[0].rstrip(";")
    raise AssertionError("no Received header of the Postfix smtpd")


def test_clean_mail_is_delivered_with_mailward_headers_and_queue_id_in_the_log(stack) -> None:
    msg = messages.clean(1)
    msg["X-Spam-Status"] = "No, score=-100 (forged)"
    msg["Authentication-Results"] = "mailward.local; dkim=pass (forged)"
    stack.send(msg, ["alice@example.com"])
    copy = stack.delivered("<clean-1@partner.example.net>")
    assert header(copy, "X-Mailward-Verdict")[0].startswith("deliver")
    [results] = header(copy, "Authentication-Results")
    assert results.startswith("mailward.local;") and "forged" not in results
    assert header(copy, "X-Spam-Status") == []
    assert b"here are the notes for meeting 1." in copy
    qid = queue_id_of(copy)
    [rec] = [r for r in stack.records() if r.id.endswith(f"-pf-{qid.lower()}")]
    assert rec.action == "deliver" and rec.rcpt_tos == ("alice@example.com",)
    assert rec.peer_ip == "127.0.0.1"
    assert f"is postfix queue id {qid}" in stack.gateway.log.read_text()


def test_executable_is_rejected_at_smtp_time_with_the_5xx(stack) -> None:
    with pytest.raises(smtplib.SMTPDataError) as err:
        stack.send(messages.executable(), ["carol@example.com"])
    assert err.value.smtp_code == 550
    assert b"5.7.1 Message rejected as unsafe (ATT_EXECUTABLE" in err.value.smtp_error
    assert stack.find("<exe@supplier.example.net>") is None


def test_tag_verdict_is_delivered_with_the_subject_tag(stack) -> None:
    stack.send(messages.lookalike_link(), ["bob@example.com"])
    copy = stack.delivered("<tagme@mailer.example.org>")
    assert header(copy, "Subject") == ["[SUSPICIOUS] Quick favour"]
    assert header(copy, "X-Mailward-Verdict")[0].startswith("tag")


def zipped_executable() -> object:
    msg = messages.clean(2)
    msg.replace_header("Message-ID", "<zip@partner.example.net>")
    pe = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00\x4c\x01" + b"\0" * 200
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("setup.exe", pe)
    msg.add_attachment(buffer.getvalue(), maintype="application", subtype="zip",
                       filename="notes.zip")
    return msg


def test_quarantine_verdict_is_kept_by_mailward_and_not_delivered(stack) -> None:
    stack.send(zipped_executable(), ["alice@example.com"])  # 250: Postfix then discards it
    store = open_store(f"sqlite:///{stack.gateway.data_dir / 'mailward.db'}")
    try:
        entry = wait_for(lambda: [q for q in store.list_quarantine()
                                  if q.subject == "Project notes 2"], 30)
    finally:
        store.close()
    assert entry, "not in mailward's quarantine"
    assert "-pf-" in entry[0].id
    assert wait_for(lambda: "milter triggers DISCARD action" in stack.postfix.log(), 30)
    assert stack.find("<zip@partner.example.net>") is None
    # An analyst's release goes back into Postfix through the reinjection smtpd (no milter).
    done = stack.gateway.cli("quarantine", "release", entry[0].id, "--reason", "false positive")
    # "delivered", or "queued for delivery" when the first attempt failed (a busy machine):
    # the running gateway's spool workers retry it
    assert done.returncode == 0 and "released" in done.stdout, done.stdout + done.stderr
    copy = stack.delivered("<zip@partner.example.net>")
    assert b"by mailward.local (mailward)" in copy  # relayed by mailward to the reinjection port


def test_disarmed_message_arrives_without_its_macro_document(stack) -> None:
    msg = messages.clean(3)
    msg.replace_header("Message-ID", "<docm@partner.example.net>")
    msg.add_attachment(docm('Sub Hello()\n    MsgBox "hi"\nEnd Sub\n'), maintype="application",
                       subtype="vnd.ms-word.document.macroEnabled.12", filename="report.docm")
    stack.send(msg, ["alice@example.com"])
    copy = stack.delivered("<docm@partner.example.net>")
    parsed = email.message_from_bytes(copy, policy=email.policy.default)
    names = [part.get_filename() for part in parsed.walk() if part.get_filename()]
    assert "report.docm" not in names
    assert b"vbaProject" not in copy
    assert header(copy, "X-Mailward-Verdict")[0].startswith("disarm")
    assert header(copy, "X-Mailward-Disarmed")
    assert b"here are the notes for meeting 3." in copy


def test_killed_scan_process_is_a_tempfail_and_nothing_is_delivered(stack) -> None:
    msg = messages.clean(4)
    msg.replace_header("Message-ID", "<crash@partner.example.net>")
    msg.set_content(f"Hi,\n\n{HOOK}:crash\n")
    with pytest.raises(smtplib.SMTPDataError) as err:
        stack.send(msg, ["alice@example.com"])
    assert err.value.smtp_code == 451
    assert stack.find("<crash@partner.example.net>") is None
    assert "ENGINE_SCAN_KILLED forces tempfail" in stack.gateway.log.read_text()


def test_lockdown_holds_in_mailward_and_release_reinjects_into_postfix(stack) -> None:
    gw = stack.gateway
    assert gw.cli("lockdown", "hold-all", "--reason", "upgrade").returncode == 0
    # the gateway reads the level at most once a second (as in test_e2e_lockdown.py): the
    # command takes less than that now that it imports no engine
    time.sleep(1.5)
    try:
        msg = messages.clean(5)
        stack.send(msg, ["alice@example.com"])
        assert wait_for(lambda: gw.spool_count() == 1, 30)  # held in mailward's spool
    finally:
        assert gw.cli("lockdown", "normal", "--reason", "done").returncode == 0
    assert stack.find("<clean-5@partner.example.net>") is None
    done = gw.cli("lockdown", "release")
    assert done.returncode == 0 and "held 1:" in done.stdout, done.stdout + done.stderr
    copy = stack.delivered("<clean-5@partner.example.net>")
    assert header(copy, "X-Mailward-Verdict")[0].startswith("deliver")


def test_stopped_mailward_defers_mail_which_flows_when_it_is_back(stack) -> None:
    gw = stack.gateway
    gw.stop()
    try:
        with pytest.raises(smtplib.SMTPResponseException) as err:
            stack.send(messages.clean(6), ["alice@example.com"])
        assert 400 <= err.value.smtp_code < 500
        # Local submission (non_smtpd_milters): Postfix keeps it in its queue meanwhile.
        sendmail = subprocess.run(
            ["/usr/sbin/sendmail", "-C", str(stack.postfix.dir), "-f", SENDER,
             "alice@example.com"], input=as_bytes(messages.clean(7)), capture_output=True,
            timeout=30, check=False)
        assert sendmail.returncode == 0, sendmail.stderr
        # cleanup got no answer from the milter: 4.7.1, and the message waits in Postfix
        assert wait_for(lambda: "milter-reject: CONNECT from localhost[127.0.0.1]: 4.7.1"
                        in stack.postfix.log(), 30)
        assert '"recipients": [{"address": "alice@example.com"}]' in stack.postfix.queue_json()
        assert stack.find("<clean-6@partner.example.net>") is None
        assert stack.find("<clean-7@partner.example.net>") is None
    finally:
        os.environ[TEST_HOOK_ENV] = HOOK
        try:
            gw.start()
        finally:
            os.environ.pop(TEST_HOOK_ENV, None)
    stack.postfix.flush()
    stack.send(messages.clean(6), ["alice@example.com"])  # the client's retry
    assert header(stack.delivered("<clean-6@partner.example.net>"),
                  "X-Mailward-Verdict")[0].startswith("deliver")
    stack.postfix.flush()  # `postqueue -f`: the waiting message goes through the milter now
    copy = stack.delivered("<clean-7@partner.example.net>", timeout=90)
    assert header(copy, "X-Mailward-Verdict")[0].startswith("deliver")


def restart(gw: GatewayProcess, **env: str) -> None:
    """Restart mailward with ``env`` added to its environment (MAILWARD__SECTION__KEY)."""
    gw.stop()
    saved = dict(os.environ)
    os.environ.update({TEST_HOOK_ENV: HOOK, **env})
    try:
        gw.start()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_postfix_hold_mode_puts_quarantined_mail_in_postfix_hold_queue(stack) -> None:
    gw = stack.gateway
    restart(gw, MAILWARD__MILTER__HOLD="postfix")
    try:
        msg = zipped_executable()
        msg.replace_header("Message-ID", "<held@partner.example.net>")
        stack.send(msg, ["alice@example.com"])
        assert wait_for(lambda: '"queue_name": "hold"' in stack.postfix.queue_json(), 30), \
            stack.postfix.queue_json()
        assert "milter triggers HOLD action" in stack.postfix.log()
        assert stack.find("<held@partner.example.net>") is None
        # the documented release path: Postfix's own, without a re-scan
        stack.postfix.run("/usr/sbin/postsuper", "-c", str(stack.postfix.dir), "-H", "ALL")
        copy = stack.delivered("<held@partner.example.net>")
        assert header(copy, "X-Mailward-Verdict")[0].startswith("quarantine")
    finally:
        restart(gw)


# -- the same attack cases through both front ends ------------------------------------------

#: (sender, recipient, DATA bytes as sent, dot-stuffed or not)
Case = tuple[str, str, bytes, bool]
_MIME = ["duplicate_cte", "duplicate_boundary", "boundary_quoting", "name_conflict",
         "preamble_mime", "base64_junk", "no_close_boundary", "bare_cr", "header_syntax"]
_FROM = ["two_from_headers", "space_before_colon", "space_before_colon_first_line"]
CASES: dict[str, Case] = {
    **{f"mime-{n}": ("billing@supplier.example.net", "alice@example.com",
                     MIME_ATTACKS[n][0], True) for n in _MIME},
    **{f"mime-control-{n}": ("billing@supplier.example.net", "alice@example.com",
                             MIME_CONTROLS[n], True)
       for n in ("plain_multipart_with_preamble", "lf_line_endings")},
    **{f"from-{n}": ("a@evil.example", "bob@example.com", from_message(ESPOOFER_ATTACKS[n]),
                     True) for n in _FROM},
    "from-control-plain": ("a@evil.example", "bob@example.com",
                           from_message(FROM_CONTROLS["plain"]), True),
    **{f"smuggling-{n}": (SENDER, "alice@example.com",
                          smuggling_body(i, VARIANTS[n], b"alice@example.com"), False)
       for i, n in enumerate(["lf-dot-lf", "cr-dot-cr", "crlf-nul-dot-crlf", "lf-dot-crlf"])},
}


def session(port: int, sender: str, rcpt: str, data: bytes, stuff: bool) -> int:
    """One SMTP transaction with ``data`` sent byte for byte; the reply code to the data."""
    if stuff:
        data = re.sub(rb"(^|\n)\.", rb"\1..", data)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
    else:
        data += b"\r\n"
    with RawSMTP(port, timeout=90) as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{sender}>".encode()) == 250
        assert c.cmd(f"RCPT TO:<{rcpt}>".encode()) == 250
        assert c.cmd(b"DATA") == 354
        c.send(data + b".\r\n")
        code, _ = c.reply()
        c.send(b"NOOP\r\n")  # smuggled commands, had they been read, would answer first
        assert c.reply()[0] == 250
        c.cmd(b"QUIT")
        return code


def verdicts_of(stack: Stack, port: int, case: Case) -> tuple[int, list[str], list[str]]:
    """The reply code, the actions mailward logged for the messages of one session, and their
    symbols (to explain a difference)."""
    before = {r.id for r in stack.records()}
    code = session(port, *case)
    new = wait_for(lambda: [r for r in stack.records() if r.id not in before], 30) or []
    symbols = [f"{r.action}: {sorted(f.symbol for f in r.findings)}" for r in new]
    return code, sorted(r.action for r in new), symbols


def single_text_part(copy: bytes) -> bool:
    """The lone CR became a space: one X-Note header, the message is one text part."""
    parsed = email.message_from_bytes(copy, policy=email.policy.default)
    return (not re.search(rb"\r(?!\n)", copy) and not parsed.is_multipart()
            and parsed.get_content_type() == "text/plain")


def only_the_real_sender_shown(copy: bytes) -> bool:
    """Postfix's cleanup renamed the "From :" line (a mailbox "From " line to it) to
    X-Mailbox-Line: the only From a reader sees is the real sender's."""
    return header(copy, "From") == ["<a@evil.example>"] and bool(header(copy, "X-Mailbox-Line"))


#: Cases Postfix itself makes harmless before the milter sees them: where the verdict differs,
#: the copy Postfix delivers is checked instead.
POSTFIX_NORMALISES: dict[str, Callable[[bytes], bool]] = {
    "mime-bare_cr": single_text_part,
    "from-space_before_colon": only_the_real_sender_shown,
    "from-space_before_colon_first_line": only_the_real_sender_shown,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_attack_gets_the_same_verdict_through_postfix_and_the_milter_as_over_smtp(
    stack, name: str
) -> None:
    case = CASES[name]
    smtp_code, smtp_actions, smtp_why = verdicts_of(stack, stack.gateway.port, case)
    seen = len(stack.sink.received)
    milter_code, milter_actions, milter_why = verdicts_of(stack, stack.postfix.smtp_port, case)
    assert len(smtp_actions) == 1, smtp_actions  # one message per session, never a smuggled 2nd
    assert len(milter_actions) == 1, milter_actions
    if name in POSTFIX_NORMALISES and milter_actions != smtp_actions:
        assert smtp_actions != ["deliver"] and milter_actions == ["deliver"]
        copies = wait_for(lambda: [d for _, _, d in stack.sink.received[seen:]], 90)
        assert copies and len(copies) == 1, copies
        assert POSTFIX_NORMALISES[name](copies[0]), copies[0][:2000]
        return
    assert milter_actions == smtp_actions, (name, smtp_code, milter_code, smtp_why, milter_why)
    assert smtp_code // 100 == milter_code // 100
