"""ThreatFeedDetector: links, link domains and attachments listed in local threat feeds."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helpers_detectors import attachment, by_symbol, html_link, make_message

from mailward.config import Settings
from mailward.detectors.feeds import ThreatFeedDetector as Detector
from mailward.engine.contract import ScanContext
from mailward.feeds import ThreatFeeds
from mailward.model import Finding, ParsedMessage

PAYLOAD = b"MZ pretend payload for the feed test"


def scan(msg: ParsedMessage, clients: Mapping[str, Any]) -> dict[str, Finding]:
    ctx = ScanContext(envelope=None, settings=Settings(), clients=clients)
    return by_symbol(asyncio.run(Detector(Detector.Settings()).check(msg, ctx)))


def feeds(tmp_path: Path, text: str) -> ThreatFeeds:
    path = tmp_path / "blocklist.txt"
    path.write_text(text, encoding="utf-8")
    return ThreatFeeds([path])


def test_listed_url_hits_and_names_the_feed(tmp_path: Path) -> None:
    client = feeds(tmp_path, "https://drop.example.net/get.php\n")
    got = scan(
        make_message(urls=(html_link("http://DROP.example.net/get.php", "x"),)), {"feeds": client}
    )
    assert set(got) == {"FEED_URL"}
    assert "blocklist.txt" in got["FEED_URL"].explanation
    assert got["FEED_URL"].evidence == ("http://DROP.example.net/get.php",)


def test_listed_domain_hits(tmp_path: Path) -> None:
    client = feeds(tmp_path, "phish.example.net\n")
    msg = make_message(urls=(html_link("https://a.phish.example.net/x", "x"),))
    hit = scan(msg, {"feeds": client})["FEED_DOMAIN"]
    assert "a.phish.example.net" in hit.explanation and "blocklist.txt" in hit.explanation


def test_attachment_md5_and_sha256_hit(tmp_path: Path) -> None:
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    att = attachment("tool.bin", PAYLOAD)
    for listed in (md5, att.sha256):
        got = scan(make_message(attachments=(att,)), {"feeds": feeds(tmp_path, listed + "\n")})
        assert '"tool.bin"' in got["FEED_HASH"].explanation
        assert listed in got["FEED_HASH"].evidence[0]


def test_unlisted_message_misses(tmp_path: Path) -> None:
    client = feeds(tmp_path, "phish.example.net\n" + "0" * 64 + "\n")
    msg = make_message(
        urls=(html_link("https://example.org/a", "x"),), attachments=(attachment("a.bin", PAYLOAD),)
    )
    assert scan(msg, {"feeds": client}) == {}


def test_without_the_feeds_client_nothing_is_checked() -> None:
    msg = make_message(urls=(html_link("https://phish.example.net/", "x"),))
    assert scan(msg, {}) == {}
    assert scan(msg, {"feeds": None}) == {}
