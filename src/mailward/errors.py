"""The exception tree of mailward.

MailwardError
 +-- ConfigError            bad or unknown configuration; stops start-up, names the key
 +-- ParseError             message bytes that cannot be read; the message is quarantined
 |    +-- LimitExceeded     a hard limit (depth, parts, decoded size) was broken
 +-- StoreError             the store failed; callers tempfail, never drop
 +-- SpoolError             the durable spool failed; the SMTP reply is 4xx
 +-- DeliveryError          the next hop or the mailbox refused or failed
      +-- PermanentDeliveryError   5xx from the next hop: bounce, do not retry
"""

from __future__ import annotations


class MailwardError(Exception):
    """Base of every error mailward raises on purpose."""


class ConfigError(MailwardError):
    """Configuration that cannot be used; the message names the key and the problem."""


class ParseError(MailwardError):
    """Message bytes that cannot be parsed into a ParsedMessage."""


class LimitExceeded(ParseError):
    """A message broke a hard parsing limit (nesting depth, part count, decoded size)."""

    def __init__(self, limit: str, value: int, maximum: int) -> None:
        super().__init__(f"{limit} {value} exceeds the limit of {maximum}")
        self.limit = limit
        self.value = value
        self.maximum = maximum


class StoreError(MailwardError):
    """The message store failed."""


class SpoolError(MailwardError):
    """The durable spool could not take or give back a message."""


class DeliveryError(MailwardError):
    """Delivery failed for now; it will be retried."""


class PermanentDeliveryError(DeliveryError):
    """Delivery failed for good (a 5xx from the next hop); the sender gets a bounce."""
