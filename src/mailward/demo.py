"""Demo messages for a first run: clean, suspicious (tagged), phish, and one carrying a program.

``mailward serve --demo`` sends them to the gateway it just started and shows where each went.
The program attachment is a few inert bytes with a PE header, built here, never run.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage


def _pe_stub() -> bytes:
    header = bytearray(b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little"))
    return bytes(header) + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 200


def demo_messages(domain: str) -> list[tuple[str, EmailMessage]]:
    clean = EmailMessage()
    clean["From"] = "Newsletter <news@lists.example.net>"
    clean["To"] = f"alice@{domain}"
    clean["Subject"] = "Minutes of Tuesday's meeting"
    clean["Message-ID"] = "<demo-clean@lists.example.net>"
    clean.set_content("Hello Alice,\n\nthe minutes are attached to the wiki page.\n")

    phish = EmailMessage()
    phish["From"] = '"it-support@' + domain + '" <helpdesk@mail-verify.example.org>'
    phish["To"] = f"bob@{domain}"
    phish["Subject"] = "Your mailbox will be suspended today"
    phish["Message-ID"] = "<demo-phish@mail-verify.example.org>"
    phish.set_content("Verify your account now.")
    phish.add_alternative(
        '<p>Verify your account now: <a href="http://login.mail-verify.example.org/x">'
        f"https://webmail.{domain}/login</a></p>",
        subtype="html",
    )

    tagged = EmailMessage()
    tagged["From"] = f'"director@{domain}" <director.office@mailer.example.org>'
    tagged["To"] = f"dave@{domain}"
    tagged["Subject"] = "Planning meeting agenda"
    tagged["Message-ID"] = "<demo-tagged@mailer.example.org>"
    tagged.set_content(
        "Hello Dave,\n\nthe agenda for next week's planning meeting is in the calendar invite. "
        "Please add your topics by Friday.\n\nThanks\n"
    )

    program = EmailMessage()
    program["From"] = "Accounts <billing@supplier.example.net>"
    program["To"] = f"carol@{domain}"
    program["Subject"] = "Invoice 4471"
    program["Message-ID"] = "<demo-invoice@supplier.example.net>"
    program.set_content("Please find the invoice attached.")
    program.add_attachment(
        _pe_stub(), maintype="application", subtype="pdf", filename="invoice-4471.pdf"
    )
    return [("clean", clean), ("tagged", tagged), ("phish", phish), ("program", program)]


def send_demo(host: str, port: int, domain: str) -> list[tuple[str, str]]:
    """Send the demo messages; returns (name, SMTP reply) for each."""
    replies = []
    with smtplib.SMTP(host, port, timeout=60) as smtp:
        for name, msg in demo_messages(domain):
            try:
                smtp.send_message(msg, from_addr=str(msg["From"].addresses[0].addr_spec))
                replies.append((name, "250 accepted"))
            except smtplib.SMTPResponseException as exc:
                error = exc.smtp_error
                text = error.decode() if isinstance(error, bytes) else str(error)
                replies.append((name, f"{exc.smtp_code} {text}"))
    return replies
