"""Claw-back: take delivered copies of a message back out of the recipients' mailboxes.

Two back ends share one result shape (:class:`ClawbackResult`, one per copy, or one per
recipient when nothing was found or the request was refused):

* :class:`ImapClawback` logs in to the mail store over IMAP as ``recipient<sep>master_user``
  with the master password (Dovecot master users), searches each configured mailbox with
  ``UID SEARCH HEADER Message-ID``, checks each hit's Message-ID exactly (and its bytes when a
  sha256 is given) and moves it to the quarantine folder (``UID MOVE``, or COPY + STORE
  ``\\Deleted`` + EXPUNGE when the server has no MOVE) or deletes it.
* :class:`MaildirClawback` works on the embedded default's Maildirs
  (:mod:`mailward.delivery.maildir`): it finds the delivered file by spool id and recipient (or,
  without a spool id, by Message-ID) and moves it into the user's ``.Quarantine`` folder or
  deletes it.

Every removal is written to the audit log (``store.audit(actor, "clawback", ...)``). Strings
taken from messages never reach an IMAP command unchecked: Message-IDs and recipients must be
printable ASCII without spaces (so no CR/LF can split a command) and are sent quoted.
Settings: the ``[clawback]`` section, :class:`ClawbackSettings`.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import re
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Literal

from mailward.config.settings import ClawbackSettings, Settings
from mailward.delivery.maildir import iter_messages, maildir_for, message_name
from mailward.durable import fsync_dir
from mailward.errors import ConfigError, PermanentDeliveryError
from mailward.store import Store

__all__ = [
    "ClawbackResult",
    "ClawbackSettings",
    "ClawbackTarget",
    "ImapClawback",
    "MaildirClawback",
    "normalise_message_id",
]

Status = Literal["removed", "not_found", "skipped", "rejected", "error"]
_MSGID_INNER = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]{1,990}")
_RECIPIENT = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,320}")
_SAFE_SETTING = re.compile(r"[\x20-\x7e]*")
_FOLDER = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UID = re.compile(rb"UID (\d+)")
_HEADER_SCAN = 65536


@dataclass(frozen=True, slots=True)
class ClawbackTarget:
    """One message to take back: its Message-ID, the recipients, and optional exact keys."""

    message_id: str
    recipients: tuple[str, ...]
    spool_id: str | None = None
    sha256: str | None = None

    @property
    def object_id(self) -> str:
        """What the audit log files the claw-back under: the spool id, else the Message-ID."""
        return self.spool_id or self.message_id


@dataclass(frozen=True, slots=True)
class ClawbackResult:
    """What happened to one copy (or to one recipient when no copy was touched)."""

    recipient: str
    message_id: str
    status: Status
    reason: str = ""
    mailbox: str | None = None
    uid: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"recipient": self.recipient, "message_id": self.message_id,
                "status": self.status, "reason": self.reason,
                "mailbox": self.mailbox, "uid": self.uid}


def normalise_message_id(value: str) -> str:
    """``<id>`` for ``id`` or ``<id>``; ValueError for anything that is not a safe msg-id."""
    inner = value[1:-1] if value.startswith("<") and value.endswith(">") else value
    if not _MSGID_INNER.fullmatch(inner):
        raise ValueError("Message-ID must be printable ASCII without spaces, CR/LF or '<>'")
    return f"<{inner}>"


def _check_recipient(value: str, separator: str = "*") -> str:
    if not _RECIPIENT.fullmatch(value) or separator in value:
        raise ValueError("recipient must be printable ASCII without spaces, quotes or separator")
    return value


def _quote(value: str) -> str:
    """An IMAP quoted string; callers have already refused CR, LF and NUL."""
    if any(ch in value for ch in "\r\n\0"):
        raise ValueError("CR, LF or NUL in an IMAP string")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _header_message_id(raw: bytes) -> str:
    header = BytesHeaderParser().parsebytes(raw[:_HEADER_SCAN]).get("Message-ID", "")
    return "".join(str(header).split())


def _content_matches(raw: bytes, sha256: str) -> bool:
    """True when ``raw``, or ``raw`` after headers a delivery agent prepended, hashes to sha256.

    Tried with CRLF and with LF line ends, since stores and IMAP differ in what they keep.
    """
    want = sha256.lower()
    lf = raw.replace(b"\r\n", b"\n")
    for text, eol in ((lf.replace(b"\n", b"\r\n"), b"\r\n"), (lf, b"\n")):
        head_end = max(text.find(eol + eol), 0)
        starts = [0] + [m.end() for m in re.finditer(re.escape(eol), text[:head_end])]
        if any(hashlib.sha256(text[s:]).hexdigest() == want for s in starts):
            return True
    return False


def _ok(reply: tuple[str, list[object]], what: str) -> list[object]:
    typ, data = reply
    if typ != "OK":
        detail = data[-1] if data else b""
        text = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        raise imaplib.IMAP4.error(f"{what}: {typ} {text}")
    return data


class _Session:
    """One logged-in IMAP connection acting on one user's mailboxes."""

    def __init__(self, conn: imaplib.IMAP4, settings: ClawbackSettings) -> None:
        self.conn = conn
        self.settings = settings
        caps = _ok(conn.capability(), "CAPABILITY")
        self.caps = {c.upper() for c in b" ".join(x for x in caps if isinstance(x, bytes))
                     .decode(errors="replace").split()}
        self._folder_ready = False

    def select(self, mailbox: str) -> bool:
        typ, _ = self.conn.select(_quote(mailbox))
        return typ == "OK"

    def find(self, target: ClawbackTarget, msgid: str) -> list[str]:
        data = _ok(self.conn.uid("SEARCH", "HEADER", "Message-ID", _quote(msgid)), "SEARCH")
        uids = [u.decode() for d in data if isinstance(d, bytes) for u in d.split()]
        if not uids:
            return []
        item = "BODY.PEEK[]" if target.sha256 else "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
        fetched = _ok(self.conn.uid("FETCH", ",".join(uids), f"(UID {item})"), "FETCH")
        found = []
        for part in fetched:
            if not isinstance(part, tuple) or len(part) < 2:
                continue
            match = _UID.search(part[0])
            body = part[1]
            if match is None or _header_message_id(body) != msgid:
                continue
            if target.sha256 and not _content_matches(body, target.sha256):
                continue
            found.append(match.group(1).decode())
        return found

    def _ensure_folder(self) -> str:
        folder = _quote(self.settings.quarantine_folder)
        if not self._folder_ready:
            typ, data = self.conn.create(folder)
            if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(
                d for d in data if isinstance(d, bytes)
            ):
                _ok((typ, data), "CREATE quarantine folder")
            self._folder_ready = True
        return folder

    def remove(self, uid: str) -> str:
        if self.settings.mode == "move":
            folder = self._ensure_folder()
            if "MOVE" in self.caps:
                _ok(self.conn.uid("MOVE", uid, folder), "MOVE")
                return f"moved to {self.settings.quarantine_folder}"
            _ok(self.conn.uid("COPY", uid, folder), "COPY")
        _ok(self.conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
        if "UIDPLUS" in self.caps:
            _ok(self.conn.uid("EXPUNGE", uid), "UID EXPUNGE")
        else:
            _ok(self.conn.expunge(), "EXPUNGE")
        if self.settings.mode == "move":
            return f"copied to {self.settings.quarantine_folder} and expunged"
        return "deleted"


def _audit(store: Store, actor: str, target: ClawbackTarget, res: ClawbackResult,
           reason: str) -> None:
    where = f"{res.mailbox} uid {res.uid}" if res.uid else str(res.mailbox)
    store.audit(actor, "clawback", target.object_id, [res.recipient],
                f"{reason} [{res.reason}: {where}; message-id {target.message_id}]")


class ImapClawback:
    """Claw-back over IMAP with a master user; one login per recipient."""

    def __init__(
        self,
        settings: ClawbackSettings,
        store: Store,
        *,
        connect: Callable[[], imaplib.IMAP4] | None = None,
    ) -> None:
        if settings.imap_host is None and connect is None:
            raise ConfigError("clawback.imap_host is not set")
        if not settings.master_user:
            raise ConfigError("clawback.master_user is not set")
        self.settings = settings
        self.store = store
        self._connect = connect or self._default_connect

    def _default_connect(self) -> imaplib.IMAP4:
        s = self.settings
        host = str(s.imap_host)
        if s.security == "tls":
            ctx = ssl.create_default_context()
            return imaplib.IMAP4_SSL(host, s.imap_port, ssl_context=ctx, timeout=s.timeout)
        conn = imaplib.IMAP4(host, s.imap_port, timeout=s.timeout)
        if s.security == "starttls":
            conn.starttls(ssl.create_default_context())
        return conn

    def claw_back(
        self, targets: Iterable[ClawbackTarget], *, actor: str, reason: str
    ) -> list[ClawbackResult]:
        """Take every target's copies back; one result per copy or per (target, recipient)."""
        results: list[ClawbackResult] = []
        by_rcpt: dict[str, list[ClawbackTarget]] = {}
        sep = self.settings.user_separator
        for target in targets:
            try:
                normalise_message_id(target.message_id)
            except ValueError as exc:
                results += [ClawbackResult(r, target.message_id, "rejected", str(exc))
                            for r in target.recipients]
                continue
            for rcpt in target.recipients:
                try:
                    by_rcpt.setdefault(_check_recipient(rcpt, sep), []).append(target)
                except ValueError as exc:
                    results.append(ClawbackResult(rcpt, target.message_id, "rejected", str(exc)))
        for rcpt, wanted in by_rcpt.items():
            results += self._for_recipient(rcpt, wanted, actor, reason)
        return results

    def _for_recipient(self, rcpt: str, targets: Sequence[ClawbackTarget], actor: str,
                       reason: str) -> list[ClawbackResult]:
        s = self.settings
        try:
            conn = self._connect()
        except (OSError, imaplib.IMAP4.error) as exc:
            return [ClawbackResult(rcpt, t.message_id, "error", f"connect: {exc}") for t in targets]
        try:
            conn.login(f"{rcpt}{s.user_separator}{s.master_user}",
                       s.master_password.get_secret_value())
            return self._session(_Session(conn, s), rcpt, targets, actor, reason)
        except (OSError, imaplib.IMAP4.error) as exc:
            return [ClawbackResult(rcpt, t.message_id, "error", str(exc)) for t in targets]
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                conn.logout()

    def _session(self, session: _Session, rcpt: str, targets: Sequence[ClawbackTarget],
                 actor: str, reason: str) -> list[ClawbackResult]:
        results: list[ClawbackResult] = []
        touched: set[int] = set()
        for mailbox in self.settings.mailboxes:
            if mailbox == self.settings.quarantine_folder or not session.select(mailbox):
                continue
            for index, target in enumerate(targets):
                msgid = normalise_message_id(target.message_id)
                for uid in session.find(target, msgid):
                    touched.add(index)
                    results.append(self._remove_one(session, rcpt, target, mailbox, uid,
                                                    actor, reason))
        for index, target in enumerate(targets):
            if index not in touched:
                results.append(ClawbackResult(rcpt, target.message_id, "not_found",
                                              "no copy in " + ", ".join(self.settings.mailboxes)))
        return results

    def _remove_one(self, session: _Session, rcpt: str, target: ClawbackTarget, mailbox: str,
                    uid: str, actor: str, reason: str) -> ClawbackResult:
        try:
            done = session.remove(uid)
        except imaplib.IMAP4.error as exc:
            return ClawbackResult(rcpt, target.message_id, "error", str(exc), mailbox, uid)
        res = ClawbackResult(rcpt, target.message_id, "removed", done, mailbox, uid)
        _audit(self.store, actor, target, res, reason)
        return res


class MaildirClawback:
    """Claw-back from the embedded default's Maildirs (``root/<domain>/<local>``)."""

    def __init__(self, maildir_root: Path, store: Store, *,
                 mode: Literal["move", "delete"] = "move", folder: str = "Quarantine") -> None:
        if not _FOLDER.fullmatch(folder):
            raise ConfigError(f"clawback.quarantine_folder {folder!r} is not a safe folder name")
        self.root = Path(maildir_root)
        self.store = store
        self.mode = mode
        self.folder = folder

    def claw_back(
        self, targets: Iterable[ClawbackTarget], *, actor: str, reason: str
    ) -> list[ClawbackResult]:
        """Take every target's delivered files back; one result per file or per recipient."""
        results: list[ClawbackResult] = []
        for target in targets:
            for rcpt in target.recipients:
                results += self._one(target, rcpt, actor, reason)
        return results

    def _one(self, target: ClawbackTarget, rcpt: str, actor: str,
             reason: str) -> list[ClawbackResult]:
        try:
            msgid = normalise_message_id(target.message_id) if target.message_id else ""
            files = self._find(target, rcpt, msgid)
        except (ValueError, PermanentDeliveryError) as exc:
            return [ClawbackResult(rcpt, target.message_id, "rejected", str(exc))]
        if not files:
            return [ClawbackResult(rcpt, target.message_id, "not_found", "no delivered copy")]
        out = []
        for path in files:
            try:
                done = self._remove(path, rcpt)
            except OSError as exc:
                out.append(ClawbackResult(rcpt, target.message_id, "error", str(exc),
                                          str(path.parent.name), path.name))
                continue
            res = ClawbackResult(rcpt, target.message_id, "removed", done,
                                 path.parent.name, path.name)
            _audit(self.store, actor, target, res, reason)
            out.append(res)
        return out

    def _find(self, target: ClawbackTarget, rcpt: str, msgid: str) -> list[Path]:
        name = message_name(target.spool_id, rcpt) if target.spool_id else None
        found = []
        for path in iter_messages(self.root, rcpt):
            if name is not None:
                if path.name != name and not path.name.startswith(name + ":"):
                    continue
            elif not msgid:
                continue
            raw = path.read_bytes()
            if name is None and _header_message_id(raw) != msgid:
                continue
            if target.sha256 and hashlib.sha256(raw).hexdigest() != target.sha256.lower():
                continue
            found.append(path)
        return found

    def _remove(self, path: Path, rcpt: str) -> str:
        if self.mode == "delete":
            path.unlink()
            fsync_dir(path.parent)
            return "deleted"
        folder = maildir_for(self.root, rcpt) / f".{self.folder}"
        for sub in ("", "tmp", "new", "cur"):
            (folder / sub).mkdir(mode=0o700, exist_ok=True)
        (folder / "maildirfolder").touch(mode=0o600, exist_ok=True)
        dest = folder / path.parent.name / path.name
        path.rename(dest)
        fsync_dir(dest.parent)
        fsync_dir(path.parent)
        return f"moved to .{self.folder}"


def clawback_tool(
    settings: Settings,
    store: Store,
    *,
    backend: Literal["imap", "maildir"] | None = None,
    conf: ClawbackSettings | None = None,
) -> ImapClawback | MaildirClawback:
    """IMAP when ``clawback.imap_host`` is set (or ``backend`` says so), else the embedded
    default's Maildirs; ``conf`` overrides the [clawback] section."""
    conf = settings.clawback if conf is None else conf
    if (backend or ("imap" if conf.imap_host else "maildir")) == "imap":
        return ImapClawback(conf, store)
    return MaildirClawback(
        settings.maildir_root, store, mode=conf.mode, folder=conf.quarantine_folder
    )
