"""A real Dovecot IMAP server on 127.0.0.1 for tests, with a private configuration.

Usage::

    sys.path.insert(0, str(Path(__file__).parents[1] / "imapserver"))
    from dovecot import Dovecot, require_dovecot

    with Dovecot(tmp_path, users={"alice@example.com": "pw"}) as imap:
        conn = imaplib.IMAP4("127.0.0.1", imap.port)

With ``lmtp=True`` it also runs Dovecot's LMTP service on ``imap.lmtp_port`` of 127.0.0.1, so
a gateway can deliver into the same mailboxes (``require_dovecot(lmtp=True)`` first).

The server listens on a free port of 127.0.0.1 without TLS, authenticates from a passwd-file
(plain passwords) and has one master user (``imap.master_user`` / ``imap.master_password``): log
in as ``user*master`` with the master password to act on ``user``'s mailbox. Mail lives in
``maildir:<mail_root>/%u``. Run as root, the server drops to the package's unprivileged users
(``dovecot``/``dovenull``) and keeps mail as ``nobody``; its files (configuration, passwd files,
log, mail) then live in a private directory of the system temporary directory, since those
users cannot reach ``tmp_path``, and are removed at stop. Run as another user, everything runs
as that user under ``tmp_path / "dovecot"``.

:func:`require_dovecot` installs Dovecot with ``.ci/install-dovecot.sh`` when it is missing and
we are root with apt (CI), and skips the test with a reason otherwise.
"""

from __future__ import annotations

import contextlib
import os
import pwd
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

DOVECOT = Path("/usr/sbin/dovecot")
DOVECOT_LMTP = Path("/usr/lib/dovecot/lmtp")
_INSTALL_SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "install-dovecot.sh"

_CONF = """\
protocols = {protocols}
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_master_user_separator = *
default_internal_user = {internal}
default_login_user = {login}
mail_location = maildir:{mail}/%u
mail_uid = {mail_uid}
mail_gid = {mail_gid}
first_valid_uid = {mail_uid}
first_valid_gid = {mail_gid}
mail_home = {mail}/%u
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  master = yes
  args = scheme=PLAIN {base}/master.passwd
  pass = yes
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users.passwd
}}
userdb {{
  driver = static
  args = allow_all_users=yes
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
{lmtp}
{extra}
"""

_LMTP_CONF = """\
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
  unix_listener lmtp {{
    mode = 0600
  }}
}}
lmtp_rcpt_check_quota = no
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require_dovecot(*, lmtp: bool = False) -> None:
    """Make sure Dovecot (and its LMTP service when ``lmtp``) is installed: install it as root
    with apt (CI), else skip the test."""
    needed = [DOVECOT, DOVECOT_LMTP] if lmtp else [DOVECOT]
    if all(p.exists() for p in needed):
        return
    missing = ", ".join(str(p) for p in needed if not p.exists())
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"Dovecot is not installed ({missing}); run .ci/install-dovecot.sh")
    done = subprocess.run(["bash", str(_INSTALL_SCRIPT)], capture_output=True, check=False)
    if done.returncode != 0 or not all(p.exists() for p in needed):
        pytest.skip(f"installing Dovecot ({missing}) failed: "
                    f"{done.stderr.decode(errors='replace')[-500:]}")


class Dovecot:
    """One private Dovecot instance; a context manager that starts and stops it."""

    master_user = "mwmaster"
    master_password = "master-secret"

    def __init__(
        self, tmp_path: Path, users: Mapping[str, str], *, extra_conf: str = "",
        lmtp: bool = False,
    ) -> None:
        self.base = Path(tmp_path) / "dovecot"
        self.mail_root = self.base / "mail"
        self.users = dict(users)
        self.extra_conf = extra_conf
        self.port = _free_port()
        self.lmtp_port: int | None = _free_port() if lmtp else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._private: Path | None = None

    @property
    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _identities(self) -> tuple[str, str, int, int]:
        """(internal user, login user, mail uid, mail gid) for the way we run."""
        if os.geteuid() != 0:
            me = pwd.getpwuid(os.geteuid())
            return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid
        nobody = pwd.getpwnam("nobody")
        # The auth process (dovecot) and mail processes (nobody) must reach these files.
        self._private = Path(tempfile.mkdtemp(prefix="mailward-dovecot-"))
        os.chmod(self._private, 0o755)
        self.base = self._private
        self.mail_root = self.base / "mail"
        self.mail_root.mkdir()
        os.chown(self.mail_root, nobody.pw_uid, nobody.pw_gid)
        return "dovecot", "dovenull", nobody.pw_uid, nobody.pw_gid

    def _write_config(self) -> Path:
        internal, login, uid, gid = self._identities()
        for sub in ("", "run", "state"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        users = "".join(f"{name}:{pw}\n" for name, pw in self.users.items())
        (self.base / "users.passwd").write_text(users)
        (self.base / "master.passwd").write_text(f"{self.master_user}:{self.master_password}\n")
        conf = self.base / "dovecot.conf"
        lmtp = "" if self.lmtp_port is None else _LMTP_CONF.format(port=self.lmtp_port)
        conf.write_text(_CONF.format(
            base=self.base, internal=internal, login=login, mail=self.mail_root,
            mail_uid=uid, mail_gid=gid, port=self.port, extra=self.extra_conf,
            protocols="imap lmtp" if self.lmtp_port is not None else "imap", lmtp=lmtp,
        ))
        return conf

    def start(self) -> None:
        conf = self._write_config()
        with (self.base / "stderr.log").open("wb") as stderr:
            self._proc = subprocess.Popen(
                [str(DOVECOT), "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=stderr,
                start_new_session=True,
            )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(200).startswith(b"* OK") and self._lmtp_ready():
                        return
            except OSError:
                time.sleep(0.05)
        err = (self.base / "stderr.log").read_text(errors="replace")
        self.stop()
        raise RuntimeError(f"Dovecot did not start on port {self.port}:\n{err}\n{self.log}")

    def _lmtp_ready(self) -> bool:
        if self.lmtp_port is None:
            return True
        with socket.create_connection(("127.0.0.1", self.lmtp_port), timeout=1) as sock:
            return sock.recv(200).startswith(b"220")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            # The whole group (master and its children, started in a session of their own),
            # so the master does not wait for its children to go one by one.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
