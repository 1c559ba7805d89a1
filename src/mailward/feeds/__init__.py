"""Local threat feeds: files of bad URLs, domains and file hashes, kept loaded and fresh.

Public surface:

- :class:`ThreatFeeds` loads every file under ``[feeds] paths`` (plain text, one indicator a
  line, or CSV with a header naming url/domain/host/sha256/md5/sha1/hash/indicator/value
  columns), re-reads changed files (:meth:`ThreatFeeds.maybe_reload`) and answers
  :meth:`~ThreatFeeds.lookup_url`, :meth:`~ThreatFeeds.lookup_domain` and
  :meth:`~ThreatFeeds.lookup_hash` with the name of the feed file that lists the indicator;
- :func:`build_threat_feeds` settings -> ThreatFeeds, or None when no feed is configured.
  The gateway passes it to detectors as the ``feeds`` client.
"""

from mailward.feeds._feeds import ThreatFeeds, build_threat_feeds
from mailward.feeds._parse import FeedData, classify, normalise_domain, normalise_url, parse_feed

__all__ = [
    "FeedData",
    "ThreatFeeds",
    "build_threat_feeds",
    "classify",
    "normalise_domain",
    "normalise_url",
    "parse_feed",
]
