"""A tiny synthetic labelled corpus, written for the classifier tests (no real mail)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

PHISH_LINES = [
    "Your mailbox password expires today. Verify your account at the secure portal now.",
    "Unusual sign-in detected. Confirm your password to keep your account active.",
    "Your account will be suspended. Log in to validate your credentials immediately.",
    "Security alert: reactivate your mailbox by confirming your login details here.",
    "We blocked a sign-in attempt. Verify your identity to restore access to your account.",
    "Payroll update: confirm your password on the staff portal to receive your salary.",
]
SPAM_LINES = [
    "Cheap watches and discount pills, best prices online, order now and save big.",
    "Lose weight fast with our miracle supplement, limited offer, buy two get one free.",
    "Hot deals on replica handbags, free shipping worldwide, unsubscribe any time.",
    "Earn money from home, no experience needed, join thousands of happy members.",
]
HAM_LINES = [
    "Attached are the minutes of the budget meeting; comments welcome by Friday.",
    "The build on the release branch is green again after the linker fix.",
    "Can we move our one-to-one to Thursday afternoon? Wednesday is busy.",
    "Here is the draft of the quarterly report for the board, please review section two.",
    "Lunch order for the offsite: please add your choice to the shared sheet.",
    "The conference room projector is repaired; the cable was loose.",
]


def message(subject: str, body: str, link: str | None = None, n: int = 0, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.get("From", f"sender{n}@example.net")
    msg["To"] = "staff@example.com"
    msg["Subject"] = subject
    msg["Date"] = headers.get("Date", "Mon, 01 Jan 2024 10:00:00 +0000")
    msg["Message-ID"] = headers.get("Message_ID", f"<m{n}@example.net>")
    if "X_Mailer" in headers:
        msg["X-Mailer"] = headers["X_Mailer"]
    text = body + (f"\n\n{link}\n" if link else "\n")
    msg.set_content(text)
    return msg.as_bytes()


def write_corpus(root: Path, copies: int = 4) -> Path:
    """root/{ham,spam,phish}/*.eml: each line several times with small variations."""
    specs = {
        "phish": (PHISH_LINES, "http://secure-login.example-verify.top/account/verify"),
        "spam": (SPAM_LINES, "http://deals.example-shop.biz/offer"),
        "ham": (HAM_LINES, None),
    }
    n = 0
    for label, (lines, link) in specs.items():
        folder = root / label
        folder.mkdir(parents=True)
        for copy in range(copies):
            for i, line in enumerate(lines):
                n += 1
                body = f"Hello,\n\n{line}\n\nRegards {copy}"
                raw = message(f"{label} note {i}", body, link, n)
                (folder / f"{label}-{copy}-{i}.eml").write_bytes(raw)
    return root


def html_only(html: str) -> bytes:
    """A message whose only body is ``html`` (no plain-text part)."""
    msg = EmailMessage()
    msg["From"] = "news@example.net"
    msg["Subject"] = "Newsletter"
    msg.set_content(html, subtype="html")
    return msg.as_bytes()


def with_attachment() -> bytes:
    """A short text message with a PDF attachment and a link to an IP address."""
    msg = EmailMessage()
    msg["From"] = "a@example.net"
    msg["Subject"] = "Invoice"
    msg.set_content("The invoice is attached. Pay at http://198.51.100.4/pay now.")
    msg.add_attachment(b"%PDF-1.4\n%%EOF\n", maintype="application", subtype="pdf",
                       filename="invoice.PDF")  # fmt: skip
    return msg.as_bytes()
