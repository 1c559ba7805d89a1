"""Small messages written for the end-to-end tests."""

from __future__ import annotations

from email.message import EmailMessage


def clean(n: int = 0, to: str = "alice@example.com") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Bob Sender <bob@partner.example.net>"
    msg["To"] = to
    msg["Subject"] = f"Project notes {n}"
    msg["Message-ID"] = f"<clean-{n}@partner.example.net>"
    msg.set_content(f"Hi Alice,\n\nhere are the notes for meeting {n}.\n")
    return msg


def lookalike_link(to: str = "bob@example.com") -> EmailMessage:
    """Display-name trick only: enough for tag, not for quarantine."""
    msg = EmailMessage()
    msg["From"] = '"ceo@example.com" <ceo.office@mailer.example.org>'
    msg["To"] = to
    msg["Subject"] = "Quick favour"
    msg["Message-ID"] = "<tagme@mailer.example.org>"
    msg.set_content("Are you at your desk? I need a quick favour.")
    return msg


def executable(to: str = "carol@example.com") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Billing <billing@supplier.example.net>"
    msg["To"] = to
    msg["Subject"] = "Invoice"
    msg["Message-ID"] = "<exe@supplier.example.net>"
    msg.set_content("Invoice attached.")
    pe = b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00\x4c\x01" + b"\0" * 200
    msg.add_attachment(pe, maintype="application", subtype="pdf", filename="invoice.pdf")
    return msg
