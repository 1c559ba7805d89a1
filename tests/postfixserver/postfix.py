"""A private Postfix instance for the milter tests: Debian's postfix (installed by
.ci/install-postfix.sh) run from a temporary config_directory and queue_directory, listening on
loopback ports only, relaying everything to a next hop the test runs.

- ``smtp_port``: smtpd with ``smtpd_milters`` pointing at mailward (the front door);
- ``reinject_port``: smtpd without milters, where mailward re-injects released mail;
- ``milter_default_action = tempfail``: no milter, no mail (the client gets 4xx);
- ``relayhost = [127.0.0.1]:<sink>``, ``mydestination`` empty: every message goes to the sink.

Runs as root with ``mail_owner = postfix`` (the package's user); every service runs outside a
chroot. Logs go to ``<dir>/maillog`` (``maillog_file``). ``stop()`` is ``postfix stop`` and,
failing that, ``postfix abort``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

POSTFIX = "/usr/sbin/postfix"
POSTQUEUE = "/usr/sbin/postqueue"
POSTSUPER = "/usr/sbin/postsuper"

MASTER_CF = """\
127.0.0.1:{smtp_port} inet n - n - - smtpd
127.0.0.1:{reinject_port} inet n - n - - smtpd -o smtpd_milters= -o non_smtpd_milters=
pickup    unix  n - n 60  1 pickup
cleanup   unix  n - n -   0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -   - trivial-rewrite
bounce    unix  - - n -   0 bounce
defer     unix  - - n -   0 bounce
trace     unix  - - n -   0 bounce
verify    unix  - - n -   1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -   - proxymap
smtp      unix  - - n -   - smtp
relay     unix  - - n -   - smtp
showq     unix  n - n -   - showq
error     unix  - - n -   - error
retry     unix  - - n -   - error
discard   unix  - - n -   - discard
local     unix  - n n -   - local
anvil     unix  - - n -   1 anvil
scache    unix  - - n -   1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
config_directory = {dir}
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.test.example
mydomain = test.example
myorigin = $myhostname
mydestination =
local_recipient_maps =
relay_domains =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:{sink_port}
default_transport = smtp
smtp_tls_security_level = none
smtpd_tls_security_level = none
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
# as for a client on the Internet: no header rewriting for the test's loopback client, and
# SMTP smuggling closed (only CRLF.CRLF ends DATA; bare LF lines read as CRLF)
local_header_rewrite_clients =
smtpd_forbid_bare_newline = normalize
smtpd_forbid_bare_newline_exclusions =
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connect_timeout = 5s
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_milters = inet:127.0.0.1:{milter_port}
non_smtpd_milters = inet:127.0.0.1:{milter_port}
milter_protocol = 6
milter_default_action = tempfail
milter_connect_timeout = 5s
milter_command_timeout = 30s
milter_content_timeout = 60s
message_size_limit = 20000000
"""


@dataclass
class Postfix:
    dir: Path
    smtp_port: int
    reinject_port: int
    sink_port: int
    milter_port: int

    def write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        values = {
            "dir": self.dir, "smtp_port": self.smtp_port, "reinject_port": self.reinject_port,
            "sink_port": self.sink_port, "milter_port": self.milter_port,
        }
        (self.dir / "main.cf").write_text(MAIN_CF.format(**values))
        (self.dir / "master.cf").write_text(MASTER_CF.format(**values))
        for name in ("queue", "data"):
            (self.dir / name).mkdir(exist_ok=True)
        shutil.chown(self.dir / "data", "postfix", "postfix")
        os.chmod(self.dir, 0o755)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), capture_output=True, text=True, timeout=60,
                              check=check, env={**os.environ, "MAIL_CONFIG": str(self.dir)})

    def start(self) -> None:
        self.write_config()
        self.run(POSTFIX, "-c", str(self.dir), "set-permissions", check=False)
        self.run(POSTFIX, "-c", str(self.dir), "check", check=False)
        done = self.run(POSTFIX, "-c", str(self.dir), "start", check=False)
        if done.returncode != 0:
            raise RuntimeError(f"postfix start failed: {done.stdout}{done.stderr}{self.log()}")

    def stop(self) -> None:
        done = self.run(POSTFIX, "-c", str(self.dir), "stop", check=False)
        if done.returncode != 0:
            self.run(POSTFIX, "-c", str(self.dir), "abort", check=False)
        pid_file = self.dir / "queue" / "pid" / "master.pid"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and pid_file.exists():
            with contextlib.suppress(ValueError, OSError):
                os.kill(int(pid_file.read_text().strip()), 0)
                time.sleep(0.1)
                continue
            break

    def flush(self) -> None:
        self.run(POSTQUEUE, "-c", str(self.dir), "-f")

    def queue_ids(self) -> list[str]:
        """Queue ids of every message in Postfix's queue (postqueue -j)."""
        out = self.run(POSTQUEUE, "-c", str(self.dir), "-j").stdout
        return re.findall(r'"queue_id": "([0-9A-Za-z]+)"', out)

    def queue_json(self) -> str:
        return self.run(POSTQUEUE, "-c", str(self.dir), "-j").stdout

    def log(self) -> str:
        path = self.dir / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""


def available() -> bool:
    return Path(POSTFIX).exists() and Path("/usr/lib/postfix/sbin/smtpd").exists() \
        and os.geteuid() == 0
