"""A real ClamAV daemon (clamd) for tests, with a private configuration and signature database.

Usage::

    sys.path.insert(0, str(Path(__file__).parents[1] / "clamdserver"))
    from clamd_server import Clamd, generated_sample, require_clamd

    require_clamd()
    marker, sample = generated_sample()
    with Clamd({"Mailward.Test.Sample": marker}) as av:   # extra_conf="StreamMaxLength 1M\n"
        ClamdClient(socket_path=str(av.socket_path))      # or host="127.0.0.1", port=av.port

Nothing is downloaded: the database is one ``.ndb`` file the test writes, a body signature per
``{name: byte pattern}`` (``Name:0:*:<hex>``, any file type, any offset). clamd reports a hit
as ``<name>.UNOFFICIAL`` (its suffix for signatures outside the official databases); see
:func:`reported_name`.

The daemon runs in the foreground as a child process, as the user running the tests, listening
on a unix socket and on a free TCP port of 127.0.0.1. Its files (clamd.conf, the database, the
socket, its log, its temporary files) live in a private directory of the system temporary
directory (a unix socket path must stay under 108 bytes, which a pytest ``tmp_path`` may not),
removed by :meth:`Clamd.close`. :meth:`Clamd.stop` and :meth:`Clamd.start` can be called again,
to show what happens while clamd is down; readiness is a PING answered by PONG on both
listeners, polled, never a fixed sleep.

:func:`require_clamd` skips the test with a reason when clamd is not installed (CI installs it
with ``.ci/install-clamav.sh``).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import pytest

_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")

_CONF = """\
Foreground yes
DatabaseDirectory {base}/db
LocalSocket {base}/clamd.sock
LocalSocketMode 600
TCPSocket {port}
TCPAddr 127.0.0.1
TemporaryDirectory {base}/tmp
PidFile {base}/clamd.pid
LogFile {base}/clamd.log
LogTime yes
LogClean yes
LogSyslog no
Bytecode no
SelfCheck 3600
MaxThreads 4
"""


def clamd_path() -> str | None:
    """The clamd binary, also where /usr/sbin is not on PATH (tests run as a plain user)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    return shutil.which("clamd", path=path)


def require_clamd() -> str:
    """The clamd binary; skips the test with a reason when ClamAV's daemon is not installed."""
    found = clamd_path()
    if found is None:
        pytest.skip("clamd (Debian package clamav-daemon) is not installed; "
                    "run .ci/install-clamav.sh")
    return found


def generated_sample(size: int = 4096) -> tuple[bytes, bytes]:
    """(marker, sample): a random 32-byte marker to sign, inside random bytes of ``size``.

    Made afresh for every run, so it can match nothing but this test's own signature."""
    marker = secrets.token_bytes(32)
    head = secrets.token_bytes(size // 2)
    return marker, b"MWTESTSAMPLE\x00" + head + marker + secrets.token_bytes(size - len(head))


def reported_name(name: str) -> str:
    """How clamd names a hit of the signature ``name`` from a database the test wrote."""
    return f"{name}.UNOFFICIAL"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Clamd:
    """One private clamd; a context manager that starts it and, at exit, stops and removes it."""

    def __init__(
        self, signatures: Mapping[str, bytes], *, extra_conf: str = "",
        start_timeout: float = 120.0,
    ) -> None:
        if not signatures:
            raise ValueError("clamd will not start without a signature")
        self.binary = require_clamd()
        self.signatures = dict(signatures)
        self.extra_conf = extra_conf
        self.start_timeout = start_timeout
        self.base = Path(tempfile.mkdtemp(prefix="mw-clamd-"))
        self.socket_path = self.base / "clamd.sock"
        self.port = _free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._write_files()

    def _write_files(self) -> None:
        for sub in ("db", "tmp"):
            (self.base / sub).mkdir(exist_ok=True)
        lines = "".join(f"{name}:0:*:{pattern.hex()}\n" for name, pattern in
                        self.signatures.items())  # fmt: skip
        (self.base / "db" / "mailward-test.ndb").write_text(lines)
        conf = _CONF.format(base=self.base, port=self.port) + self.extra_conf
        (self.base / "clamd.conf").write_text(conf)

    @property
    def log(self) -> str:
        parts = []
        for name in ("clamd.log", "stdout.log"):
            path = self.base / name
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def scans(self) -> list[str]:
        """The result of every scan so far, from its log: "OK" or "<name> FOUND"."""
        path = self.base / "clamd.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return re.findall(r"-> instream\([^)]*\): (.+)", text)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        # A socket file left by a killed daemon would make clamd refuse to start.
        self.socket_path.unlink(missing_ok=True)
        with (self.base / "stdout.log").open("ab") as out:
            self._proc = subprocess.Popen(
                [self.binary, "-c", str(self.base / "clamd.conf")],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self.running:
                break
            if self.ping():
                return
            time.sleep(0.05)
        log = self.log
        self.stop()
        raise RuntimeError(f"clamd did not answer PING within {self.start_timeout:g}s:\n{log}")

    def ping(self) -> bool:
        """True when both listeners answer PING with PONG."""
        return _ping(socket.AF_UNIX, str(self.socket_path)) and _ping(
            socket.AF_INET, ("127.0.0.1", self.port)
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Clamd:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _ping(family: socket.AddressFamily, address: str | tuple[str, int]) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(2.0)
            sock.connect(address)
            sock.sendall(b"zPING\0")
            reply = b""
            while not reply.endswith(b"\0") and len(reply) < 64:
                chunk = sock.recv(64)
                if not chunk:
                    break
                reply += chunk
            return reply == b"PONG\0"
    except OSError:
        return False
