"""The durable spool: every accepted message lives here until it is delivered or quarantined.

Layout under the spool root::

    tmp/<id>          being written; never read back
    queue/<id>.msg    a JSON line (envelope and flags), then the message bytes as received
    state/<id>.json   progress: the verdict once decided, recipients finished, retry schedule

``put`` returns only after the file and its directory entry are fsynced, so the SMTP 250 that
follows it is a promise kept across a crash. State is replaced atomically (write, fsync, rename,
fsync the directory). A finished entry is removed, state last, so a crash of the process at any
instant leaves either the whole entry or nothing of it. The removal itself is not fsynced (as
Postfix does not sync the removal of its queue files): after a power loss right after it, the
entry may come back and be delivered once more (Maildir names derived from the spool id make
that a no-op there; a relay may see it twice, as SMTP allows after a crash).

A Spool remembers the entries it stored under an id it made itself (never used before) until
their delivery begins (:meth:`Spool.take_new`): for those the processor knows, without a
look at the disk, that no delivery can have been made yet. Memory only, on purpose: after a
crash, or in another process, every entry counts as possibly delivered already.

It also keeps the bytes and envelope of such an entry (without flags, and within a bound) until
its first load (:meth:`Spool.take_fresh`): a message file is never rewritten once stored, so the
first delivery attempt of a message just accepted takes it from memory instead of reading back
the file the SMTP session wrote a moment before.

The state the SMTP session gives such an entry after its inline scan (the verdict) is kept in
memory too (:meth:`Spool.keep_state`), not written, until the entry's next durable save or its
end: the first delivery attempt follows at once in the same process. A crash before then
leaves the entry without that state, and the restarted gateway scans it again.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import fcntl
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailward.durable import fsync_dir, read_file, write_synced
from mailward.errors import SpoolError
from mailward.model import Envelope

_ID = re.compile(r"^[0-9a-z][0-9a-z_-]{7,79}$")
#: New ids a Spool remembers (see Spool.take_new); beyond this the oldest count as not new.
NEW_KEPT = 16384
#: Entries :meth:`Spool.put` keeps in memory for their first delivery (see take_fresh), at
#: most this many and this many bytes of messages; a bigger message is not kept.
FRESH_KEPT = 2048
FRESH_BYTES = 64 << 20
FRESH_ONE = 4 << 20
#: States :meth:`Spool.keep_state` keeps in memory at most (the oldest are forgotten: their
#: entries are scanned again).
KEPT_STATES = 4096


def new_spool_id(now: float | None = None) -> str:
    """A time-ordered id that is safe as a file name: 13 hex digits of ms, 12 random."""
    ms = int((time.time() if now is None else now) * 1000)
    return f"{ms:013x}{secrets.token_hex(6)}"


def check_spool_id(entry_id: str) -> str:
    if not _ID.fullmatch(entry_id):
        raise SpoolError(f"invalid spool id {entry_id!r}")
    return entry_id


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    id: str
    envelope: Envelope
    raw: bytes = field(repr=False)
    flags: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SpoolState:
    """Mutable progress of one entry; saved with :meth:`Spool.save_state`."""

    verdict: dict[str, Any] | None = None
    done: dict[str, str] = field(default_factory=dict)  # recipient -> outcome
    attempts: int = 0
    next_attempt: float = 0.0
    last_errors: dict[str, str] = field(default_factory=dict)
    #: Held by a lockdown: not due until released.
    held: bool = False
    #: Released from a lockdown hold: never held again.
    released: bool = False
    #: The scan's observation (activity, campaigns) left until after the 250: the spool
    #: processor's mark (see ``Processor.observation_marker``); "" once it is made.
    observe: str = ""
    #: A delivery attempt may have begun: set before one that is not known to be the first
    #: (and saved before it, see ``Processor._first_attempt``), so that the process that
    #: spooled the entry, while it runs, does not take its own next attempt for the first.
    started: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SpoolState:
        return cls(
            verdict=data.get("verdict"),
            done=dict(data.get("done", {})),
            attempts=int(data.get("attempts", 0)),
            next_attempt=float(data.get("next_attempt", 0.0)),
            last_errors=dict(data.get("last_errors", {})),
            held=bool(data.get("held", False)),
            released=bool(data.get("released", False)),
            observe=str(data.get("observe", "")),
            started=bool(data.get("started", False)),
        )


class Spool:
    """A directory of durable messages, safe for several workers and processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.queue = root / "queue"
        self.states = root / "state"
        for d in (self.tmp, self.queue, self.states):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Paths of entries as strings: a pathlib join costs several times more.
        self._tmp_prefix = os.path.join(self.tmp, "")
        self._queue_prefix = os.path.join(self.queue, "")
        self._state_prefix = os.path.join(self.states, "")
        #: Ids :meth:`put` made and stored whose delivery has not begun (see take_new).
        self._new: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._new_lock = threading.Lock()
        #: Locks this Spool holds now, by entry id (finish releases them; see EntryLock).
        self._held: dict[str, EntryLock] = {}
        #: Entries put stored and no load has taken yet (see take_fresh), and their bytes.
        self._fresh: collections.OrderedDict[str, SpoolEntry] = collections.OrderedDict()
        self._fresh_bytes = 0
        #: States kept in memory only (see keep_state), as their JSON.
        self._kept_states: collections.OrderedDict[str, dict[str, Any]] = (
            collections.OrderedDict())

    # -- writing -------------------------------------------------------------------------
    def put(
        self,
        envelope: Envelope,
        raw: bytes,
        *,
        flags: Mapping[str, Any] | None = None,
        entry_id: str | None = None,
        state: SpoolState | None = None,
    ) -> str:
        """Store a message durably and return its id. An existing ``entry_id`` is kept as is.

        An id made here is remembered as new (:meth:`take_new`); one the caller gives is not
        (it may have been delivered before: a bounce or a release made again after a crash)."""
        new = entry_id is None
        if entry_id is None:  # a new random id: nothing can be there already
            entry_id = new_spool_id(envelope.received_at or None)
            final = self._msg_path(entry_id)
        else:
            final = self._msg_path(check_spool_id(entry_id))
            if os.path.exists(final):
                return entry_id
        head = json.dumps(
            {"envelope": dataclasses.asdict(envelope), "flags": dict(flags or {})},
            separators=(",", ":"),
        ).encode()
        try:
            if state is not None:
                self.save_state(entry_id, state)
            tmp = self._tmp_prefix + entry_id
            write_synced(tmp, head + b"\n" + raw)
            os.replace(tmp, final)
            fsync_dir(self.queue)
        except OSError as exc:
            raise SpoolError(f"cannot spool message: {exc}") from exc
        if new:
            self._remember_new(entry_id)
            if not flags and len(raw) <= FRESH_ONE:
                self._keep_fresh(SpoolEntry(entry_id, envelope, raw))
        return entry_id

    def _keep_fresh(self, entry: SpoolEntry) -> None:
        with self._new_lock:
            self._fresh[entry.id] = entry
            self._fresh_bytes += len(entry.raw)
            while len(self._fresh) > FRESH_KEPT or self._fresh_bytes > FRESH_BYTES:
                _, dropped = self._fresh.popitem(last=False)
                self._fresh_bytes -= len(dropped.raw)

    def take_fresh(self, entry_id: str) -> SpoolEntry | None:
        """Once, the entry :meth:`put` stored under an id it made (without flags), as
        :meth:`load` would read it back, from memory; None for any other entry, after a first
        take, once it is finished, or when it was dropped to keep within the bound."""
        with self._new_lock:
            entry = self._fresh.pop(entry_id, None)
            if entry is not None:
                self._fresh_bytes -= len(entry.raw)
            return entry

    def _remember_new(self, entry_id: str) -> None:
        with self._new_lock:
            self._new[entry_id] = None
            if len(self._new) > NEW_KEPT:  # forgetting one only costs its first attempt a look
                self._new.popitem(last=False)

    def take_new(self, entry_id: str) -> bool:
        """True once, for an entry this Spool stored under an id it made, when its delivery
        is about to begin (the caller holds the entry's lock); False for any other entry and
        afterwards. True means no delivery of it can have begun in this process; whether one
        began in another process the entry's state says (``SpoolState.started``)."""
        with self._new_lock:
            if entry_id not in self._new:
                return False
            del self._new[entry_id]
            return True

    def keep_state(self, entry_id: str, state: SpoolState) -> bool:
        """Keep ``state`` in memory as the entry's state, without writing it, when the entry is
        one :meth:`put` just stored and still keeps (see :meth:`take_fresh`); False, keeping
        nothing, for any other entry (the caller saves it with :meth:`save_state`).

        Until :meth:`save_state` or :meth:`finish`, :meth:`state` gives it in this process; a
        crash loses it, and the entry counts as not yet scanned."""
        with self._new_lock:
            if entry_id not in self._fresh:
                return False
            self._kept_states[entry_id] = state.to_json()
            if len(self._kept_states) > KEPT_STATES:
                self._kept_states.popitem(last=False)
        return True

    def save_state(self, entry_id: str, state: SpoolState) -> None:
        with self._new_lock:
            self._kept_states.pop(entry_id, None)
        path = self._state_path(entry_id)
        tmp = f"{self._tmp_prefix}{entry_id}.state"
        try:
            write_synced(tmp, json.dumps(state.to_json()).encode())
            os.replace(tmp, path)
            fsync_dir(self.states)
        except OSError as exc:
            raise SpoolError(f"cannot save spool state of {entry_id}: {exc}") from exc

    def finish(self, entry_id: str) -> None:
        """Remove a finished entry: message first, then its state (not fsynced: see the
        module's notes).

        A lock this Spool holds on the entry is released here, once the message is unlinked
        (nobody can open it to lock it any more): closing the last descriptor of an unlinked
        file frees its blocks, a journalled filesystem write that can wait for other fsyncs,
        and this runs in a worker thread, where the lock's own exit would run on the event
        loop."""
        with self._new_lock:
            self._new.pop(entry_id, None)
            fresh = self._fresh.pop(entry_id, None)
            if fresh is not None:
                self._fresh_bytes -= len(fresh.raw)
            held = self._held.get(entry_id)
            self._kept_states.pop(entry_id, None)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._msg_path(entry_id))
        if held is not None:
            held.release()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._state_path(entry_id))

    # -- reading -------------------------------------------------------------------------
    def load(self, entry_id: str) -> SpoolEntry:
        path = self._msg_path(check_spool_id(entry_id))
        try:
            data = read_file(path)
        except OSError as exc:
            raise SpoolError(f"cannot read spool entry {entry_id}: {exc}") from exc
        head, _, raw = data.partition(b"\n")
        try:
            meta = json.loads(head)
            env = meta["envelope"]
            envelope = Envelope(**{**env, "rcpt_tos": tuple(env["rcpt_tos"])})
        except (ValueError, KeyError, TypeError) as exc:
            raise SpoolError(f"spool entry {entry_id} has a damaged header: {exc}") from exc
        return SpoolEntry(entry_id, envelope, raw, meta.get("flags", {}))

    def state(self, entry_id: str) -> SpoolState:
        kept = self._kept_states.get(entry_id)
        if kept is not None:  # a copy: the caller may change it without saving
            return SpoolState.from_json(kept)
        try:
            data = read_file(self._state_path(entry_id))
        except FileNotFoundError:
            return SpoolState()
        try:
            return SpoolState.from_json(json.loads(data))
        except (ValueError, TypeError, AttributeError) as exc:
            raise SpoolError(f"spool state of {entry_id} is damaged: {exc}") from exc

    def untouched(self, entry_id: str) -> bool:
        """No state was saved or kept for the entry yet: no worker has taken it up (one stat)."""
        return entry_id not in self._kept_states and not os.path.exists(
            self._state_path(entry_id))

    def ids(self) -> list[str]:
        """Every queued id, oldest first."""
        return sorted(p.name[:-4] for p in self.queue.glob("*.msg"))

    def due(self, now: float | None = None, skip: Container[str] = ()) -> list[str]:
        """Queued ids whose next attempt is due (held ones never are), except those in
        ``skip`` (the workers' own queue: their states are not read)."""
        now = time.time() if now is None else now
        out = []
        for entry_id in self.ids():
            if entry_id in skip:
                continue
            state = self.state(entry_id)
            if not state.held and state.next_attempt <= now:
                out.append(entry_id)
        return out

    def held(self) -> list[str]:
        """Queued ids held by a lockdown, oldest first."""
        return [i for i in self.ids() if self.state(i).held]

    def count(self) -> int:
        return sum(1 for _ in self.queue.glob("*.msg"))

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.queue.glob("*.msg"))

    def locked(self, entry_id: str) -> EntryLock:
        """Hold an exclusive lock on an entry (``with spool.locked(id) as mine``): ``mine`` is
        False if another worker holds it or the entry is gone."""
        return EntryLock(self._msg_path(entry_id), entry_id, self._held, self._new_lock)

    def _msg_path(self, entry_id: str) -> str:
        return f"{self._queue_prefix}{entry_id}.msg"

    def _state_path(self, entry_id: str) -> str:
        return f"{self._state_prefix}{entry_id}.json"


class EntryLock:
    """The context manager of :meth:`Spool.locked` (a class: a generator-based one costs
    several times more, and the gateway takes two per message).

    While held it is listed in its Spool's ``held`` (by entry id), so that
    :meth:`Spool.finish` can :meth:`release` it as soon as the message is unlinked."""

    __slots__ = ("_fd", "_guard", "_held", "_id", "_path")

    def __init__(self, path: str, entry_id: str = "", held: dict[str, EntryLock] | None = None,
                 guard: threading.Lock | None = None) -> None:
        self._path = path
        self._id = entry_id
        self._held = held
        self._guard = guard or threading.Lock()
        self._fd = -1

    def __enter__(self) -> bool:
        try:
            self._fd = os.open(self._path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            return False
        except BaseException:
            self.release()
            raise
        if not os.path.exists(self._path):  # finished between our open and the lock
            self.release()
            return False
        if self._held is not None:
            with self._guard:
                self._held[self._id] = self
        return True

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Give the lock up (close its descriptor); once, from any thread."""
        with self._guard:
            fd, self._fd = self._fd, -1
            if self._held is not None and self._held.get(self._id) is self:
                del self._held[self._id]
        if fd >= 0:
            os.close(fd)
