"""A test MTA side of the milter protocol: sends what Postfix sends, reads the replies, and
applies the modification actions to the message the way an MTA does."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field

from mailward.frontends.milter import protocol as p

ALL_ACTIONS = 0x1FF
ALL_STEPS = 0x1FFFFF
FINAL = {p.CONTINUE, p.ACCEPT, p.REJECT, p.TEMPFAIL, p.DISCARD, p.REPLYCODE}


@dataclass
class Reply:
    """The final reply to a command and the modification actions before it."""

    final: p.Packet
    actions: list[p.Packet] = field(default_factory=list)

    @property
    def code(self) -> bytes:
        return self.final.command

    @property
    def text(self) -> str:
        return self.final.data.rstrip(b"\0").decode()


class MilterClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.options: tuple[int, int, int] = (0, 0, 0)
        self.symlists: dict[int, str] = {}

    @classmethod
    async def connect(cls, host: str, port: int) -> MilterClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    @classmethod
    async def connect_unix(cls, path: str) -> MilterClient:
        reader, writer = await asyncio.open_unix_connection(path)
        return cls(reader, writer)

    async def send(self, command: bytes, data: bytes = b"") -> None:
        self.writer.write(p.encode(command, data))
        await self.writer.drain()

    async def packet(self) -> p.Packet:
        packet = await asyncio.wait_for(p.read_packet(self.reader), 30)
        assert packet is not None, "the milter closed the connection"
        return packet

    async def reply(self) -> Reply:
        actions = []
        while True:
            packet = await self.packet()
            if packet.command in FINAL:
                return Reply(packet, actions)
            actions.append(packet)

    async def negotiate(self, actions: int = ALL_ACTIONS, steps: int = ALL_STEPS) -> None:
        await self.send(p.OPTNEG, struct.pack("!III", 6, actions, steps))
        packet = await self.packet()
        assert packet.command == p.OPTNEG
        self.options = struct.unpack("!III", packet.data[:12])
        rest = packet.data[12:]
        while rest:
            (stage,) = struct.unpack("!I", rest[:4])
            names, _, rest = rest[4:].partition(b"\0")
            self.symlists[stage] = names.decode()

    async def macros(self, stage: bytes, **values: str) -> None:
        data = stage + b"".join(
            (f"{{{k}}}" if len(k) > 1 else k).encode() + b"\0" + v.encode() + b"\0"
            for k, v in values.items()
        )
        await self.send(p.MACRO, data)

    async def command(self, command: bytes, data: bytes = b"") -> Reply:
        await self.send(command, data)
        return await self.reply()

    async def connect_info(self, host: str, addr: str, port: int = 40000) -> Reply:
        data = host.encode() + b"\0" + b"4" + struct.pack("!H", port) + addr.encode() + b"\0"
        return await self.command(p.CONNECT, data)

    async def message(
        self, raw: bytes, mail_from: str, rcpts: list[str], queue_id: str = "4F2A31C0D2",
        auth: str | None = None,
    ) -> Reply:
        """MAIL ... EOM for ``raw``; the reply to end of message."""
        mail = {"i": queue_id} | ({"auth_authen": auth} if auth else {})
        await self.macros(p.MAIL, **mail)
        assert (await self.command(p.MAIL, f"<{mail_from}>\0".encode())).code == p.CONTINUE
        for rcpt in rcpts:
            assert (await self.command(p.RCPT, f"<{rcpt}>\0".encode())).code == p.CONTINUE
        assert (await self.command(p.DATA)).code == p.CONTINUE
        head, _, body = raw.partition(b"\r\n\r\n")
        for name, value in split_headers(head):
            await self.send(p.HEADER, name + b"\0" + value + b"\0")
        assert (await self.command(p.EOH)).code == p.CONTINUE
        for i in range(0, len(body), 65535):
            assert (await self.command(p.BODY, body[i : i + 65535])).code == p.CONTINUE
        await self.macros(p.BODYEOB, i=queue_id)
        return await self.command(p.BODYEOB)

    async def close(self) -> None:
        await self.send(p.QUIT)
        self.writer.close()
        await self.writer.wait_closed()


def split_headers(head: bytes) -> list[tuple[bytes, bytes]]:
    """Header fields as Postfix sends them with SMFIP_HDR_LEADSPC: the value after the colon,
    its leading space kept, folded lines joined with LF."""
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if fields and line[:1] in (b" ", b"\t"):
            name, value = fields[-1]
            fields[-1] = (name, value + b"\n" + line)
        else:
            name, _, value = line.partition(b":")
            fields.append((name, value))
    return fields


def apply_actions(raw: bytes, actions: list[p.Packet]) -> bytes:
    """``raw`` after the modification actions, as an MTA applies them."""
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = split_headers(head)
    new_body: bytes | None = None
    for packet in actions:
        data = packet.data
        if packet.command == p.ADDHEADER:
            name, value = p.cstrings(data)[:2]
            headers.append((name, value))
        elif packet.command == p.INSHEADER:
            (index,) = struct.unpack("!I", data[:4])
            name, value = p.cstrings(data[4:])[:2]
            headers.insert(index, (name, value))
        elif packet.command == p.CHGHEADER:
            (index,) = struct.unpack("!I", data[:4])
            parts = p.cstrings(data[4:])
            name, value = parts[0], parts[1] if len(parts) > 1 else b""
            where = [i for i, (n, _) in enumerate(headers) if n.lower() == name.lower()]
            if index <= len(where):
                if value:
                    headers[where[index - 1]] = (name, value)
                else:
                    del headers[where[index - 1]]
        elif packet.command == p.REPLBODY:
            new_body = (new_body or b"") + data
    text = b"".join(n + b":" + v.replace(b"\n", b"\r\n") + b"\r\n" for n, v in headers)
    return text + b"\r\n" + (body if new_body is None else new_body)
