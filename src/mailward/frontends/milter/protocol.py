"""The milter wire protocol (version 6, as Postfix and Sendmail's libmilter speak it).

Every packet is a 4-octet big-endian length (the command octet included), one command octet
and the command's data. Strings are NUL-terminated. See libmilter's ``mfdef.h`` and Postfix's
MILTER_README; only what a content filter needs is here: option negotiation (with the macro
lists mailward asks for), the MTA's commands, and the replies and modification actions.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from mailward.errors import MailwardError

VERSION = 6
#: The largest packet accepted from the MTA (Postfix sends body chunks of at most 64 KiB).
MAX_PACKET = 1 << 20
#: Body replacement is sent in chunks of this size (libmilter's MILTER_CHUNK_SIZE).
CHUNK = 65535

# Commands, MTA -> milter (SMFIC_*)
ABORT, BODY, CONNECT, MACRO, BODYEOB, HELO = b"A", b"B", b"C", b"D", b"E", b"H"
QUIT_NC, HEADER, MAIL, EOH, OPTNEG, QUIT = b"K", b"L", b"M", b"N", b"O", b"Q"
RCPT, DATA, UNKNOWN = b"R", b"T", b"U"

# Replies and actions, milter -> MTA (SMFIR_*)
ADDRCPT, DELRCPT, ACCEPT, REPLBODY, CONTINUE = b"+", b"-", b"a", b"b", b"c"
DISCARD, CHGFROM, ADDHEADER, INSHEADER, CHGHEADER = b"d", b"e", b"h", b"i", b"m"
PROGRESS, QUARANTINE, REJECT, TEMPFAIL, REPLYCODE = b"p", b"q", b"r", b"t", b"y"

# Actions the milter may take (SMFIF_*)
F_ADDHDRS, F_CHGBODY, F_CHGHDRS, F_QUARANTINE, F_SETSYMLIST = 0x01, 0x02, 0x10, 0x20, 0x100
WANTED_ACTIONS = F_ADDHDRS | F_CHGBODY | F_CHGHDRS | F_QUARANTINE | F_SETSYMLIST

# Protocol steps (SMFIP_*): no reply to each header; header values with their leading space.
P_NR_HDR, P_HDR_LEADSPC = 0x80, 0x100000
WANTED_PROTOCOL = P_NR_HDR | P_HDR_LEADSPC

# Macro stages for the symbol lists sent at negotiation (SMFIM_*)
STAGE_CONNECT, STAGE_HELO, STAGE_MAIL, STAGE_RCPT, STAGE_DATA, STAGE_EOM = 0, 1, 2, 3, 4, 5
#: The macros mailward asks for at each stage (Postfix sends what it has of them).
MACROS = {
    STAGE_CONNECT: "j {client_addr} {client_name} {daemon_name}",
    STAGE_HELO: "{tls_version} {cipher}",
    STAGE_MAIL: "i {auth_authen} {auth_type}",
    STAGE_EOM: "i",
}


class MilterProtocolError(MailwardError):
    """The MTA sent something that is not the milter protocol; the connection is closed."""


@dataclass(frozen=True, slots=True)
class Packet:
    command: bytes
    data: bytes


def encode(command: bytes, data: bytes = b"") -> bytes:
    return struct.pack("!I", len(data) + 1) + command + data


async def read_packet(reader: asyncio.StreamReader) -> Packet | None:
    """The next packet, or None when the MTA closed the connection between packets."""
    try:
        head = await reader.readexactly(4)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise MilterProtocolError("connection closed inside a packet length") from exc
        return None
    (length,) = struct.unpack("!I", head)
    if not 1 <= length <= MAX_PACKET:
        raise MilterProtocolError(f"packet length {length} out of range")
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise MilterProtocolError("connection closed inside a packet") from exc
    return Packet(body[:1], body[1:])


def cstrings(data: bytes) -> list[bytes]:
    """NUL-terminated strings one after another (a missing last NUL is tolerated)."""
    if data.endswith(b"\0"):
        data = data[:-1]
    return data.split(b"\0") if data else []


def cstr(value: bytes | str) -> bytes:
    raw = value.encode("utf-8", "replace") if isinstance(value, str) else value
    return raw.replace(b"\0", b"") + b"\0"


# -- negotiation -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Negotiated:
    version: int
    actions: int
    protocol: int

    @property
    def leading_space(self) -> bool:
        """Header values arrive (and must be sent) with their leading white space."""
        return bool(self.protocol & P_HDR_LEADSPC)

    @property
    def header_replies(self) -> bool:
        """Whether the MTA waits for a reply to each header."""
        return not self.protocol & P_NR_HDR


def negotiate(data: bytes) -> tuple[Negotiated, bytes]:
    """The MTA's SMFIC_OPTNEG -> what was agreed, and the reply packet."""
    if len(data) < 12:
        raise MilterProtocolError("option negotiation too short")
    version, actions, protocol = struct.unpack("!III", data[:12])
    if version < 2:
        raise MilterProtocolError(f"milter protocol version {version} is too old")
    agreed = Negotiated(
        min(version, VERSION), actions & WANTED_ACTIONS, protocol & WANTED_PROTOCOL
    )
    reply = struct.pack("!III", agreed.version, agreed.actions, agreed.protocol)
    if agreed.actions & F_SETSYMLIST:
        for stage, names in MACROS.items():
            reply += struct.pack("!I", stage) + cstr(names)
    return agreed, encode(OPTNEG, reply)


# -- commands ----------------------------------------------------------------------------------

def parse_macros(data: bytes) -> tuple[bytes, dict[str, str]]:
    """SMFIC_MACRO -> (the command it is for, {name: value}); names lose their braces."""
    if not data:
        raise MilterProtocolError("empty macro packet")
    parts = cstrings(data[1:])
    values = {}
    for i in range(0, len(parts) - 1, 2):
        name = parts[i].decode("ascii", "replace").strip("{}")
        values[name] = parts[i + 1].decode("utf-8", "replace")
    return data[:1], values


@dataclass(frozen=True, slots=True)
class ConnectInfo:
    hostname: str
    family: str  # "4", "6", "L" (Unix socket), "U" (unknown)
    port: int
    address: str


def parse_connect(data: bytes) -> ConnectInfo:
    host, sep, rest = data.partition(b"\0")
    if not sep or not rest:
        raise MilterProtocolError("malformed connect packet")
    family = rest[:1].decode("ascii", "replace")
    if family == "U":
        return ConnectInfo(host.decode("utf-8", "replace"), family, 0, "")
    if len(rest) < 3:
        raise MilterProtocolError("connect packet without a port")
    (port,) = struct.unpack("!H", rest[1:3])
    address = rest[3:].split(b"\0", 1)[0].decode("utf-8", "replace")
    return ConnectInfo(host.decode("utf-8", "replace"), family, port, address)


def parse_address(data: bytes) -> tuple[str, list[str]]:
    """SMFIC_MAIL / SMFIC_RCPT -> (address without angle brackets, ESMTP arguments)."""
    parts = [p.decode("utf-8", "surrogateescape") for p in cstrings(data)]
    if not parts:
        raise MilterProtocolError("address packet without an address")
    address = parts[0].strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1]
    return address, parts[1:]


def parse_header(data: bytes) -> tuple[bytes, bytes]:
    name, sep, value = data.partition(b"\0")
    if not sep:
        raise MilterProtocolError("header packet without a value")
    return name, value[:-1] if value.endswith(b"\0") else value


# -- replies and actions ---------------------------------------------------------------------

def reply_code(code: str) -> bytes:
    """SMFIR_REPLYCODE: "550 5.7.1 text" (control characters and % are replaced)."""
    safe = "".join(c if 32 <= ord(c) < 127 and c != "%" else "?" for c in code)
    return encode(REPLYCODE, cstr(safe[:500]))


def add_header(name: bytes, value: bytes) -> bytes:
    return encode(ADDHEADER, cstr(name) + cstr(value))


def insert_header(index: int, name: bytes, value: bytes) -> bytes:
    return encode(INSHEADER, struct.pack("!I", index) + cstr(name) + cstr(value))


def change_header(index: int, name: bytes, value: bytes) -> bytes:
    """SMFIR_CHGHEADER; an empty value deletes the ``index``-th header of that name."""
    return encode(CHGHEADER, struct.pack("!I", index) + cstr(name) + cstr(value))


def replace_body(body: bytes) -> list[bytes]:
    return [encode(REPLBODY, body[i : i + CHUNK]) for i in range(0, len(body), CHUNK)] or [
        encode(REPLBODY, b"")
    ]


def quarantine(reason: str) -> bytes:
    return encode(QUARANTINE, cstr(reason.replace("\n", " ")[:300]))


def packets(*parts: bytes | Sequence[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for part in parts:
        out.extend([part] if isinstance(part, bytes) else part)
    return out
