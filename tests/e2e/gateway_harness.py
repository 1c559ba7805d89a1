"""Start the real gateway as a child process, and a next-hop SMTP server, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def toml_config(
    data_dir: Path, port: int, extra: str = "", *, org: str = "", smtp: str = "",
    dns: str = "enabled = false", engine: str = "",
) -> str:
    """``org``, ``smtp`` and ``dns`` fill those sections; ``extra`` goes under [delivery].

    DNS is off unless a test names a local server: tests never reach the network.
    """
    return f"""
data_dir = "{data_dir}"
[dns]
{dns}
[engine]
{engine}
[organisation]
accepted_domains = ["example.com"]
{org}
[smtp]
listen_port = {port}
inline_scan_timeout = 5.0
{smtp}
[delivery]
retry_initial = 0.3
retry_max = 1.0
{extra}
"""


@dataclass
class GatewayProcess:
    config: Path
    port: int
    data_dir: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        env.pop("MAILWARD_CONFIG", None)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mailward.cli.main", "-c", str(self.config), "serve"],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise AssertionError("gateway did not start:\n" + self.log.read_text()) from None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None

    def spool_count(self) -> int:
        queue = self.data_dir / "spool" / "queue"
        return len(list(queue.glob("*.msg"))) if queue.exists() else 0

    def wait_spool_empty(self, timeout: float = 30.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.spool_count() == 0:
                return
            time.sleep(0.1)
        raise AssertionError(f"spool still holds {self.spool_count()} messages:\n"
                             + self.log.read_text()[-4000:])

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mailward.cli.main", "-c", str(self.config), *args],
            capture_output=True, text=True, timeout=120, check=False,
        )


@dataclass
class RecordingHandler:
    """A next hop that keeps what it is sent."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(
                (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        return "250 2.0.0 Ok"


@contextlib.contextmanager
def next_hop(port: int) -> Iterator[RecordingHandler]:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def maildir_files(data_dir: Path) -> list[Path]:
    root = data_dir / "maildir"
    return sorted(p for p in root.glob("*/*/new/*")) + sorted(root.glob("*/*/cur/*"))


class RawSMTP:
    """A byte-exact SMTP client over a plain socket, for attack sessions.

    ``send`` writes bytes as given (several commands in one packet when asked); ``reply`` reads
    one reply (all lines of a multi-line one); ``closed`` tells whether the server hung up.
    """

    def __init__(self, port: int, timeout: float = 15.0, greet: bool = True) -> None:
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout)
        self.buf = b""
        if greet:
            code, _ = self.reply()
            assert code == 220, code

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _line(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed; unread {self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r")

    def reply(self) -> tuple[int, list[bytes]]:
        lines = [self._line()]
        while lines[-1][3:4] == b"-":
            lines.append(self._line())
        return int(lines[0][:3]), lines

    def cmd(self, line: bytes) -> int:
        self.send(line + b"\r\n")
        return self.reply()[0]

    def ehlo(self, name: bytes = b"client.example.net") -> list[bytes]:
        self.send(b"EHLO " + name + b"\r\n")
        code, lines = self.reply()
        assert code == 250, lines
        return lines

    def starttls(self, context: Any) -> None:
        """Wrap the socket in TLS after a 220 to STARTTLS was read; nothing may be unread."""
        assert self.buf == b"", self.buf
        self.sock = context.wrap_socket(self.sock)

    def closed(self, timeout: float = 10.0) -> bool:
        """True when the server closes within ``timeout`` (anything it still says is dropped)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except TimeoutError:
            return False
        except OSError:
            return True
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> RawSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def maildir_count(data_dir: Path) -> int:
    return len(maildir_files(data_dir))
