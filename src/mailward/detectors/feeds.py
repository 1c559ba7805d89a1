"""Threat feeds: links, link hosts and attachments listed in the organisation's local feeds.

Uses the :class:`mailward.feeds.ThreatFeeds` client (``ctx.clients["feeds"]``, built from
``[feeds] paths``); without it the detector reports nothing. Each scan first lets the feeds
re-read changed files (at most every ``[feeds] reload_interval`` seconds).

Detects
  - a link whose URL a feed lists (scheme, host case, default port and fragment ignored);
  - a link whose host, or a parent domain of it up to the registrable domain, a feed lists;
    a link already reported by URL is not reported again by domain;
  - an attachment whose sha256, sha1 or md5 a feed lists.

Symbols (default weight, group "feeds")
  FEED_URL     15  a link is listed in a threat feed
  FEED_DOMAIN  10  a link's domain is listed in a threat feed
  FEED_HASH    20  an attachment's hash is listed in a threat feed

Each symbol is raised at most once per message; the explanation names the feed file.

Settings ``[detectors.feeds]``
  max_findings  most items listed as evidence for one symbol (default 5)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import ClassVar

from pydantic import Field

from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.feeds import ThreatFeeds
from mailward.model import Finding, ParsedMessage

_GROUP = "feeds"
#: (evidence, how the explanation names it, feed name)
_Hit = tuple[str, str, str]


class ThreatFeedSettings(DetectorSettings):
    """Options of the feeds detector."""

    max_findings: int = Field(default=5, ge=1)


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ThreatFeedDetector:
    """Reports links, domains and attachment hashes found in the local threat feeds."""

    name: ClassVar[str] = "feeds"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "FEED_URL": SymbolSpec(15.0, _GROUP, "A link is listed in a threat feed."),
        "FEED_DOMAIN": SymbolSpec(10.0, _GROUP, "A link's domain is listed in a threat feed."),
        "FEED_HASH": SymbolSpec(20.0, _GROUP, "An attachment is listed in a threat feed."),
    }
    timeout: ClassVar[float] = 5.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[ThreatFeedSettings]] = ThreatFeedSettings

    def __init__(self, settings: ThreatFeedSettings) -> None:
        self.settings = settings

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        feeds = ctx.clients.get("feeds")
        if not isinstance(feeds, ThreatFeeds):
            return []
        feeds.maybe_reload()
        url_hits: list[_Hit] = []
        domain_hits: list[_Hit] = []
        for url in msg.urls:
            if (feed := feeds.lookup_url(url.url)) is not None:
                url_hits.append((url.url, f"A link goes to {_short(url.url)}", feed))
            elif url.host and (feed := feeds.lookup_domain(url.host)) is not None:
                domain_hits.append((url.host, f"A link goes to the domain {url.host}", feed))
        found = (
            self._finding("FEED_URL", url_hits),
            self._finding("FEED_DOMAIN", domain_hits),
            self._finding("FEED_HASH", self._hash_hits(msg, feeds)),
        )
        return [f for f in found if f is not None]

    @staticmethod
    def _hash_hits(msg: ParsedMessage, feeds: ThreatFeeds) -> list[_Hit]:
        hits: list[_Hit] = []
        for att in msg.attachments:
            digests = (
                att.sha256,
                hashlib.sha1(att.content, usedforsecurity=False).hexdigest(),
                hashlib.md5(att.content, usedforsecurity=False).hexdigest(),
            )
            for digest in digests:
                if (feed := feeds.lookup_hash(digest)) is not None:
                    name = att.filename or "unnamed"
                    hits.append((f"{name} ({digest})", f'The attachment "{name}"', feed))
                    break
        return hits

    def _finding(self, symbol: str, hits: list[_Hit]) -> Finding | None:
        unique = list(dict.fromkeys(hits))
        if not unique:
            return None
        _, shown, feed = unique[0]
        more = f" ({len(unique) - 1} more listed items)" if len(unique) > 1 else ""
        return Finding(
            symbol=symbol,
            explanation=f"{shown} is listed as malicious by the threat feed {feed}{more}.",
            evidence=tuple(_short(item) for item, _, _ in unique[: self.settings.max_findings]),
            detector=self.name,
        )
