"""Sender authentication through the running gateway, against a real local DNS server."""

from __future__ import annotations

import smtplib
import sys
from email import message_from_bytes
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "dnsserver"))

import messages
from gateway_harness import maildir_files
from local_dns import LocalDnsServer

pytestmark = pytest.mark.slow

ZONE = {
    # partner.example.net only sends from 192.0.2.10: mail from 127.0.0.1 fails SPF
    "partner.example.net": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
    "_dmarc.partner.example.net": [("TXT", "v=DMARC1; p=none")],
    # trusted.example.org allows 127.0.0.1
    "trusted.example.org": [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
}


def test_gateway_writes_spf_and_dmarc_results_from_real_dns(make_gateway) -> None:
    with LocalDnsServer(ZONE) as dns:
        gw = make_gateway(
            dns=f'enabled = true\nnameservers = ["127.0.0.1"]\nport = {dns.port}\ntimeout = 2.0'
        )
        with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
            smtp.send_message(messages.clean(1), from_addr="bob@partner.example.net")
            ok = messages.clean(2)
            ok.replace_header("From", "Ann <ann@trusted.example.org>")
            smtp.send_message(ok, from_addr="ann@trusted.example.org")
        gw.wait_spool_empty()
        assert any(q[0] == "partner.example.net" for q in dns.queries)
    results = {}
    for path in maildir_files(gw.data_dir):
        msg = message_from_bytes(path.read_bytes())
        results[str(msg["Subject"]).removeprefix("[SUSPICIOUS] ")] = " ".join(str(msg["Authentication-Results"]).split())
    assert "spf=fail" in results["Project notes 1"]
    assert "smtp.mailfrom=bob@partner.example.net" in results["Project notes 1"]
    assert "dmarc=fail" in results["Project notes 1"]
    assert "spf=pass" in results["Project notes 2"]
