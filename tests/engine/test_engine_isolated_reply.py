"""What a scan process sends back (``for_gateway``) is smaller, and everything the gateway makes
from it -- journal entry, message-log row, campaign signature and indicators -- is the same as
from the whole outcome."""

from __future__ import annotations

import asyncio
import email.policy
import pickle
from email.message import EmailMessage

from mailward.activity.campaign_index import message_indicators, message_signature
from mailward.config import settings_from_mapping
from mailward.engine.isolation._child import for_gateway
from mailward.engine.pipeline import Engine
from mailward.model import Envelope
from mailward.response.indicators import entry_from_message
from mailward.spool.processor import message_record

ENVELOPE = Envelope(mail_from="alice@partner.example.net", rcpt_tos=("bob@example.com",),
                    peer_ip="192.0.2.10", received_at=1_717_000_000.0)


def message_with_attachments() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Alice <alice@partner.example.net>"
    msg["To"] = "Bob <bob@example.com>"
    msg["Cc"] = "Carol <carol@example.com>"
    msg["Subject"] = "Quarterly figures"
    msg["Message-ID"] = "<q1@partner.example.net>"
    msg.set_content("Hi Bob,\nthe figures are at https://files.partner.example.net/q1.\n")
    msg.add_alternative("<p>Figures: <a href='https://files.partner.example.net/q1'>q1</a></p>",
                        subtype="html")
    msg.add_attachment(b"region,total\nnorth,12\n" * 50, maintype="text", subtype="csv",
                       filename="q1.csv")
    msg.add_attachment(b"%PDF-1.4\n" + bytes(range(256)) * 20, maintype="application",
                       subtype="pdf", filename="q1.pdf")
    return msg.as_bytes(policy=email.policy.SMTP)


def test_the_gateway_reads_the_same_from_the_trimmed_outcome() -> None:
    settings = settings_from_mapping({"dns": {"enabled": False}})
    raw = message_with_attachments()
    whole = asyncio.run(Engine(settings).scan(raw, ENVELOPE))
    sent = pickle.loads(pickle.dumps(for_gateway(whole), protocol=pickle.HIGHEST_PROTOCOL))
    assert whole.parsed is not None and sent.parsed is not None
    assert len(whole.parsed.attachments) == 2
    assert all(a.content == b"" and a.md5 and a.sha1 for a in sent.parsed.attachments)
    assert sent.parsed.raw == b"" and sent.parsed.headers == () and sent.parsed.html == ""
    assert sent.verdict == whole.verdict and sent.result == whole.result

    copies = [("bob@example.com", "maildir:/x")]
    assert (entry_from_message("s1", raw, ENVELOPE, sent.verdict, copies, sent.parsed)
            == entry_from_message("s1", raw, ENVELOPE, whole.verdict, copies, whole.parsed))
    assert (message_record("s1", ENVELOPE, raw, sent)
            == message_record("s1", ENVELOPE, raw, whole))
    assert (message_indicators(settings, ENVELOPE, sent.parsed)
            == message_indicators(settings, ENVELOPE, whole.parsed))
    assert (message_signature(settings, ENVELOPE, sent.parsed)
            == message_signature(settings, ENVELOPE, whole.parsed))
    assert len(pickle.dumps(for_gateway(whole))) < len(pickle.dumps(whole)) / 2
