"""The limits of an expansion and what it found: frozen dataclasses, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field

_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Hard limits on one expansion; crossing any of them stops it and sets ``limit_hit``.

    ``max_ratio`` is bytes read out over the attachment's size, for the whole expansion; it
    applies once more than ``ratio_floor_bytes`` were read, so a small, very repetitive file
    (a log, a CSV) is not a bomb.
    """

    max_total_bytes: int = 100 * _MB
    max_ratio: float = 100.0
    max_entries: int = 10_000
    max_depth: int = 5
    max_seconds: float = 5.0
    max_member_bytes: int = 50 * _MB
    ratio_floor_bytes: int = 4 * _MB
    #: Of a member that is not itself a container, only this much is kept (it is hashed whole).
    keep_bytes: int = 1 * _MB


@dataclass(frozen=True, slots=True)
class Member:
    """One file inside an archive (at any depth).

    ``chain`` names it from the attachment down: ("invoice.zip", "inner.iso", "run.lnk"); names
    are sanitised for display and are never used as paths. ``content`` holds the bytes kept:
    all of them for a nested container, at most ``keep_bytes`` otherwise; ``size`` and
    ``sha256`` cover every byte read, which is the whole member unless ``truncated``.
    """

    chain: tuple[str, ...]
    size: int
    sha256: str
    detected_type: str
    detected_description: str
    depth: int
    content: bytes = field(repr=False, default=b"")
    truncated: bool = False
    encrypted: bool = False  # its data is encrypted and no password opened it

    @property
    def name(self) -> str:
        """The member's own path inside its archive."""
        return self.chain[-1]

    @property
    def display(self) -> str:
        """The chain as a person reads it: "invoice.zip > inner.iso > run.lnk"."""
        return " > ".join(self.chain)


@dataclass(frozen=True, slots=True)
class ExpansionResult:
    """Everything one :func:`~mailward.attachments.expand` call found.

    ``archives`` and ``images`` are chains (as displayed) of the containers opened and of the
    disk images seen (the attachment itself included); ``encrypted`` lists encrypted archives
    or members no password opened; ``passwords`` pairs a chain with the password that opened
    it. ``limit_hit`` names the limit that stopped the expansion, None when it ran to the end;
    ``errors`` pairs a chain with what libarchive said about a container it could not read.
    """

    name: str
    is_archive: bool
    members: tuple[Member, ...] = ()
    archives: tuple[str, ...] = ()
    max_nesting: int = 0  # archive levels: 1 for a zip of files, 2 for a zip in a zip
    images: tuple[str, ...] = ()
    encrypted: tuple[str, ...] = ()
    passwords: tuple[tuple[str, str], ...] = ()
    limit_hit: str | None = None
    errors: tuple[tuple[str, str], ...] = ()  # (chain, what went wrong)
    bytes_read: int = 0
    elapsed: float = 0.0
