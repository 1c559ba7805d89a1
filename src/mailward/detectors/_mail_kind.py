"""What kind of mail a message says it is: list traffic, or sent by a machine.

Read from headers anyone can write (List-Id, List-Unsubscribe, List-Post, Precedence,
Auto-Submitted, X-Auto-Response-Suppress, a no-reply or bot sender address). It is context,
never a pass: a phisher can add every one of these headers, so nothing here lowers a score.
Detectors use it to explain findings that list mechanics cause (a Reply-To pointing to the
list), and the identity detector reports it as zero-weight context that an operator's
composites may use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailward.model import Address, ParsedMessage

_LIST_HEADERS = ("List-Id", "List-Post", "List-Unsubscribe", "List-Help", "Mailing-List")
_BULK = re.compile(r"^\s*(bulk|list|junk)\b", re.IGNORECASE)
_AUTO = re.compile(r"^\s*auto-(generated|replied|notified)\b", re.IGNORECASE)
_BOT_LOCAL = re.compile(
    r"^(no-?reply|do-?not-?reply|donotreply|notifications?|notify|alerts?|bot|mailer-daemon|"
    r"postmaster|automated|auto|system|builds?|ci|jenkins|bounces?)([-+._].*)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class MailKind:
    """List and machine markers a message carries, each as "Header: value" evidence."""

    list_markers: tuple[str, ...] = ()
    machine_markers: tuple[str, ...] = ()

    @property
    def is_list(self) -> bool:
        return bool(self.list_markers)

    @property
    def is_automated(self) -> bool:
        return bool(self.machine_markers)


_READ = frozenset(
    h.lower() for h in (*_LIST_HEADERS, "Precedence", "Auto-Submitted", "X-Auto-Response-Suppress")
)


def _first_values(msg: ParsedMessage) -> dict[str, str]:
    """{lower-case name: first value} of the headers read here, in one pass over the headers
    (``msg.header(name)`` for each of them, without a pass per name)."""
    first: dict[str, str] = {}
    for key, value in msg.headers:
        name = key.lower()
        if name in _READ and name not in first:
            first[name] = value
    return first


def mail_kind(msg: ParsedMessage) -> MailKind:
    """The list and machine markers of ``msg`` (what it says of itself, unproven)."""
    first = _first_values(msg)
    lists = [f"{h}: {first[h.lower()][:80]}" for h in _LIST_HEADERS if h.lower() in first]
    machine: list[str] = []
    precedence = first.get("precedence", "")
    if _BULK.match(precedence):
        (lists if precedence.strip().lower() == "list" else machine).append(
            f"Precedence: {precedence.strip()[:20]}"
        )
    auto = first.get("auto-submitted", "")
    if _AUTO.match(auto):
        machine.append(f"Auto-Submitted: {auto.strip()[:30]}")
    if first.get("x-auto-response-suppress"):
        machine.append("X-Auto-Response-Suppress")
    if msg.from_:
        local = msg.from_[0].address.rpartition("@")[0]
        if _BOT_LOCAL.match(local):
            machine.append(f"sender {msg.from_[0].address}")
    return MailKind(tuple(lists), tuple(machine))


def list_rewritten(msg: ParsedMessage, sender: Address) -> bool:
    """A mailing list that rewrote From to its own address ("Jane (example.com) via List"
    <list@lists.example.org>), as lists do for DMARC, and says so in List-Id: the display
    name then names the real author."""
    list_id = (msg.header("List-Id") or "").lower()
    domain = sender.domain.lower()
    if " via " not in f" {sender.display_name.lower()} " or not domain or not list_id:
        return False
    ident = list_id[list_id.rfind("<") + 1 :].rstrip(" >")
    return ident == domain or ident.endswith("." + domain)
