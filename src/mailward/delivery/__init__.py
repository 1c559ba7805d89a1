"""Delivery: where accepted mail goes after the verdict.

- :mod:`.maildir`: local, idempotent, fsynced delivery into per-recipient Maildirs;
- :mod:`.relay`: SMTP hand-off to the next hop, with every recipient classified as accepted,
  temporarily failed or permanently failed;
- :mod:`.retry`: the back-off schedule of temporary failures;
- :mod:`.dsn`: RFC 3464 bounces for permanent failures and expired messages.
"""

from mailward.delivery.dsn import build_bounce
from mailward.delivery.maildir import MaildirDelivery, iter_messages, maildir_for
from mailward.delivery.relay import RelayResult, normalise_line_endings, relay_message
from mailward.delivery.retry import next_retry_delay

__all__ = [
    "MaildirDelivery",
    "RelayResult",
    "build_bounce",
    "iter_messages",
    "maildir_for",
    "next_retry_delay",
    "normalise_line_endings",
    "relay_message",
]
