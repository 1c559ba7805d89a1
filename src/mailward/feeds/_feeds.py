"""ThreatFeeds: the indicators of every configured feed file, reloaded when the files change."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mailward.config.settings import FeedSettings
from mailward.feeds._parse import FeedData, is_hash, normalise_domain, normalise_url, parse_feed
from mailward.mime.urls import registrable_domain

log = logging.getLogger(__name__)

#: Most bytes read from one feed file; a larger file is read up to here (and a warning logged).
MAX_FEED_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Loaded:
    """One feed file as last read: its signature (mtime, size) and its indicators."""

    signature: tuple[int, int]
    data: FeedData


def _feed_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every file named in ``paths``, folders expanded (recursively, hidden files skipped)."""
    for path in paths:
        if path.is_dir():
            found = (p for p in path.rglob("*") if p.is_file())
            yield from sorted(
                p for p in found if not any(s.startswith(".") for s in p.relative_to(path).parts)
            )
        else:
            yield path


class ThreatFeeds:
    """Local threat feeds: URLs, domains and file hashes from plain-text and CSV files.

    Lookups answer with the name of the feed file that lists the indicator. Call
    :meth:`maybe_reload` before a lookup; it re-reads changed files at most every
    ``reload_interval`` seconds. A file that cannot be read keeps the data it had.
    """

    def __init__(self, paths: Iterable[Path], reload_interval: float = 30.0) -> None:
        self.paths = tuple(Path(p) for p in paths)
        self.reload_interval = reload_interval
        self._files: dict[Path, _Loaded] = {}
        self._urls: dict[str, str] = {}
        self._domains: dict[str, str] = {}
        self._hashes: dict[str, str] = {}
        self._checked_at = time.monotonic()
        #: Goes up by one whenever the indicators change (a zero-hour purge watches it).
        self.version = 0
        self.reload_if_changed()

    # --- loading ------------------------------------------------------------------------

    def maybe_reload(self, now: float | None = None) -> bool:
        """Re-read changed files when ``reload_interval`` seconds passed since the last check.

        ``now`` is a :func:`time.monotonic` reading (the current one when omitted).
        True when the indicators changed.
        """
        now = time.monotonic() if now is None else now
        if now - self._checked_at < self.reload_interval:
            return False
        self._checked_at = now
        return self.reload_if_changed()

    def reload_if_changed(self) -> bool:
        """Re-read every file whose mtime or size changed; drop files that are gone."""
        files: dict[Path, _Loaded] = {}
        changed = False
        for path in _feed_files(self.paths):
            loaded = self._load(path, self._files.get(path))
            if loaded is not None:
                files[path] = loaded
                changed = changed or loaded is not self._files.get(path)
        changed = changed or files.keys() != self._files.keys()
        if changed:
            self._files = files
            self._rebuild()
            self.version += 1
        return changed

    def _load(self, path: Path, previous: _Loaded | None) -> _Loaded | None:
        try:
            stat = path.stat()
            signature = (stat.st_mtime_ns, stat.st_size)
            if previous is not None and previous.signature == signature:
                return previous
            with path.open("rb") as handle:
                raw = handle.read(MAX_FEED_BYTES)
        except OSError as exc:
            log.warning("threat feed %s cannot be read (%s); keeping its previous data", path, exc)
            return previous
        if len(raw) >= MAX_FEED_BYTES:
            log.warning("threat feed %s exceeds %d bytes; the rest is ignored", path, len(raw))
        data = parse_feed(raw.decode("utf-8-sig", errors="replace"))
        if data.malformed:
            log.warning("threat feed %s: %d malformed lines skipped", path, data.malformed)
        log.info("threat feed %s: %d indicators loaded", path, len(data))
        return _Loaded(signature, data)

    def _rebuild(self) -> None:
        urls: dict[str, str] = {}
        domains: dict[str, str] = {}
        hashes: dict[str, str] = {}
        for path, loaded in self._files.items():
            name = path.name
            urls.update(dict.fromkeys(loaded.data.urls - urls.keys(), name))
            domains.update(dict.fromkeys(loaded.data.domains - domains.keys(), name))
            hashes.update(dict.fromkeys(loaded.data.hashes - hashes.keys(), name))
        self._urls, self._domains, self._hashes = urls, domains, hashes

    # --- state --------------------------------------------------------------------------

    @property
    def malformed(self) -> dict[str, int]:
        """Malformed lines skipped, per feed file name."""
        return {path.name: loaded.data.malformed for path, loaded in self._files.items()}

    def __len__(self) -> int:
        return len(self._urls) + len(self._domains) + len(self._hashes)

    # --- lookups ------------------------------------------------------------------------

    def lookup_url(self, url: str) -> str | None:
        """The feed listing ``url`` (scheme, host case, default port, fragment ignored)."""
        key = normalise_url(url)
        return self._urls.get(key) if key else None

    def lookup_domain(self, host: str) -> str | None:
        """The feed listing ``host`` or one of its parents down to its registrable domain."""
        host_key = normalise_domain(host)
        if host_key is None:
            return None
        floor = registrable_domain(host_key)
        candidate = host_key
        while True:
            found = self._domains.get(candidate)
            if found is not None or candidate == floor or "." not in candidate:
                return found
            candidate = candidate.split(".", 1)[1]
            if len(candidate) < len(floor):
                return None

    def lookup_hash(self, hexdigest: str) -> str | None:
        """The feed listing this md5, sha1 or sha256 (hex, any case)."""
        value = hexdigest.strip().lower()
        return self._hashes.get(value) if is_hash(value) else None


def build_threat_feeds(settings: FeedSettings) -> ThreatFeeds | None:
    """The feeds of ``settings``; None when no feed paths are configured."""
    if not settings.paths:
        return None
    return ThreatFeeds(settings.paths, settings.reload_interval)
