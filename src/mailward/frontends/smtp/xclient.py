"""Postfix XCLIENT (http://www.postfix.org/XCLIENT_README.html): parse and validate attributes.

A trusted SMTP filter or proxy in ``smtp.xclient_hosts`` sends
``XCLIENT attribute=value ...`` to tell the gateway who the real client is. The attributes taken
are NAME, ADDR, PORT, PROTO, HELO and LOGIN, names case-insensitive, values xtext-encoded
(RFC 1891: ``+XX`` for a byte). Every value is checked after decoding, so nothing in it can end
up as a line of its own in the Received header or the logs:

- NAME: a host name (letters, digits, ``.-_``), ``[UNAVAILABLE]`` or ``[TEMPUNAVAIL]``;
- ADDR: an IPv4 address or an IPv6 address (``IPV6:`` prefix optional); ``[UNAVAILABLE]`` is
  refused, so the filter's own (often internal) address can never stand for an unknown client;
- PORT: 0-65535 or ``[UNAVAILABLE]`` (0; also when ADDR changes without a PORT);
- PROTO: SMTP or ESMTP (kept for the logs);
- HELO, LOGIN: printable ASCII without spaces, at most 255 characters, or ``[UNAVAILABLE]``
  (no HELO name; not authenticated).

A command that breaks any rule changes nothing and gets 501; a repeated attribute is refused.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

ATTRIBUTES = ("NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN")
#: The EHLO keyword line that advertises the extension.
EHLO_LINE = "250-XCLIENT " + " ".join(ATTRIBUTES)
UNAVAILABLE = "[UNAVAILABLE]"
TEMPUNAVAIL = "[TEMPUNAVAIL]"
MAX_VALUE = 255
T = TypeVar("T")

_XTEXT = re.compile(r"(?:[!-*,-<>-~]|\+[0-9A-Fa-f]{2})*")
_HOSTNAME = re.compile(r"[A-Za-z0-9._-]+")
_PRINTABLE = re.compile(r"[!-~]+")


class XclientError(ValueError):
    """A refused XCLIENT command; ``reply`` is the SMTP reply to send."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """What XCLIENT has said about the client so far (each command updates what it names)."""

    addr: str
    port: int
    name: str = ""
    helo: str = ""  # "" when unknown
    login: str = ""  # "" when not authenticated
    proto: str = ""


def xtext_decode(value: str) -> str:
    """RFC 1891 xtext to text; ValueError for characters xtext does not allow."""
    if not _XTEXT.fullmatch(value):
        raise ValueError("not xtext")
    return re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)


def parse_xclient(arg: str, current: ClientInfo) -> ClientInfo:
    """The client information after ``XCLIENT arg``; XclientError (with its 501) when refused."""
    seen: dict[str, str] = {}
    for token in arg.split(" "):
        if not token:
            continue
        name, eq, raw = token.partition("=")
        name = name.upper()
        if not eq or name not in ATTRIBUTES:
            raise XclientError("501 5.5.4 Bad XCLIENT attribute name")
        if name in seen:
            raise XclientError(f"501 5.5.4 Duplicate XCLIENT attribute {name}")
        try:
            seen[name] = xtext_decode(raw)
        except ValueError:
            raise XclientError(f"501 5.5.4 Bad {name} syntax: not xtext") from None
    if not seen:
        raise XclientError("501 5.5.4 Syntax: XCLIENT attribute=value ...")

    def pick(name: str, check: Callable[[str], T], old: T) -> T:
        return check(seen[name]) if name in seen else old

    return ClientInfo(
        addr=pick("ADDR", _check_addr, current.addr),
        port=pick("PORT", _check_port, 0 if "ADDR" in seen else current.port),
        name=pick("NAME", _check_name, current.name),
        helo=pick("HELO", _check_text("HELO"), current.helo),
        login=pick("LOGIN", _check_text("LOGIN"), current.login),
        proto=pick("PROTO", _check_proto, current.proto),
    )


def _bad(name: str, what: str) -> XclientError:
    return XclientError(f"501 5.5.4 Bad {name} syntax: {what}")


def _check_name(value: str) -> str:
    if value in (UNAVAILABLE, TEMPUNAVAIL):
        return value
    if len(value) > MAX_VALUE or not _HOSTNAME.fullmatch(value):
        raise _bad("NAME", "a host name is expected")
    return value


def _check_addr(value: str) -> str:
    text = value[5:] if value[:5].upper() == "IPV6:" else value
    try:
        if "%" in text:
            raise ValueError(text)
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise _bad("ADDR", "an IP address is required") from None


def _check_port(value: str) -> int:
    if value == UNAVAILABLE:
        return 0
    if not value.isascii() or not value.isdigit() or len(value) > 5 or int(value) > 65535:
        raise _bad("PORT", "a port number is expected")
    return int(value)


def _check_proto(value: str) -> str:
    if value.upper() not in ("SMTP", "ESMTP"):
        raise _bad("PROTO", "SMTP or ESMTP is expected")
    return value.upper()


def _check_text(name: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value == UNAVAILABLE:
            return ""
        if len(value) > MAX_VALUE or not _PRINTABLE.fullmatch(value):
            raise _bad(name, "printable ASCII without spaces is expected")
        return value

    return check

