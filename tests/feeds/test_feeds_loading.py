"""ThreatFeeds: plain and CSV feed files, normalisation, lookups, reloading."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from mailward.config.settings import FeedSettings
from mailward.feeds import ThreatFeeds, build_threat_feeds, classify

SHA256 = "a" * 64
SHA1 = "B" * 40
MD5 = "0123456789abcdef0123456789abcdef"

PLAIN = f"""# my blocklist
HTTP://Evil.Example.NET:80/login.php#top
*.bad.example.org.

{SHA256}
not a valid indicator line
{MD5}  # trailing comment
"""

URLHAUS = """################################################################
# abuse.ch URLhaus Database Dump (CSV)                         #
################################################################
#
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
"1","2024-01-01 00:00:00","https://drop.example.net/x.exe","online","2024-01-01","malware_download","exe","https://urlhaus.example/1","anon"
"2","2024-01-02 00:00:00","http://203.0.113.5:8080/a.sh","offline","","malware_download","sh","https://urlhaus.example/2","anon"
"""

IOC_EXPORT = f"""type;value;comment
domain;phish.example.com;kit
FileHash-SHA1;{SHA1};loader
email;someone@example.com;not a feed kind
url;;empty
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_file_indicators_are_normalised(tmp_path: Path) -> None:
    feeds = ThreatFeeds([write(tmp_path / "local.txt", PLAIN)])
    assert feeds.lookup_url("https://evil.example.net/login.php") == "local.txt"
    assert feeds.lookup_url("http://EVIL.example.net/login.php#x") == "local.txt"
    assert feeds.lookup_url("http://evil.example.net/other") is None
    assert feeds.lookup_domain("www.Bad.Example.org") == "local.txt"
    assert feeds.lookup_hash(SHA256.upper()) == "local.txt"
    assert feeds.lookup_hash(MD5) == "local.txt"
    assert feeds.lookup_hash("b" * 64) is None
    assert feeds.malformed == {"local.txt": 1}


def test_domain_lookup_walks_parents_only_to_the_registrable_domain(tmp_path: Path) -> None:
    feeds = ThreatFeeds([write(tmp_path / "d.txt", "login.phish.example.com\nco.uk\n")])
    assert feeds.lookup_domain("a.b.login.phish.example.com") == "d.txt"
    assert feeds.lookup_domain("phish.example.com") is None  # a parent is not listed
    assert feeds.lookup_domain("shop.example.co.uk") is None  # never up to the public suffix


def test_urlhaus_csv_with_commented_header(tmp_path: Path) -> None:
    feeds = ThreatFeeds([write(tmp_path / "urlhaus.csv", URLHAUS)])
    assert feeds.lookup_url("https://drop.example.net/x.exe") == "urlhaus.csv"
    assert feeds.lookup_url("http://203.0.113.5:8080/a.sh") == "urlhaus.csv"
    assert feeds.lookup_url("http://203.0.113.5/a.sh") is None  # another port
    assert feeds.lookup_domain("drop.example.net") is None  # URLs are not domains
    assert feeds.malformed == {"urlhaus.csv": 0}


def test_generic_ioc_export_uses_the_type_column(tmp_path: Path) -> None:
    feeds = ThreatFeeds([write(tmp_path / "iocs.csv", IOC_EXPORT)])
    assert feeds.lookup_domain("phish.example.com") == "iocs.csv"
    assert feeds.lookup_hash(SHA1.lower()) == "iocs.csv"
    assert len(feeds) == 2
    assert feeds.malformed == {"iocs.csv": 1}  # the empty url row


def test_folder_is_read_recursively_and_hidden_files_skipped(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "one.example.com\n")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "b.txt", "two.example.com\n")
    write(tmp_path / ".hidden.txt", "three.example.com\n")
    feeds = ThreatFeeds([tmp_path])
    assert feeds.lookup_domain("one.example.com") == "a.txt"
    assert feeds.lookup_domain("two.example.com") == "b.txt"
    assert feeds.lookup_domain("three.example.com") is None


def test_reload_after_the_file_changes(tmp_path: Path) -> None:
    path = write(tmp_path / "f.txt", "old.example.com\n")
    feeds = ThreatFeeds([path], reload_interval=30)
    assert not feeds.reload_if_changed()  # nothing changed
    write(path, "new.example.com\nnew2.example.com\n")
    os.utime(path, (1_000_000_000, 1_000_000_000))
    start = feeds._checked_at
    assert not feeds.maybe_reload(start + 5)  # too early to look
    assert feeds.lookup_domain("old.example.com") == "f.txt"
    assert feeds.maybe_reload(start + 31)
    assert feeds.lookup_domain("old.example.com") is None
    assert feeds.lookup_domain("new.example.com") == "f.txt"


def test_removed_file_drops_its_indicators(tmp_path: Path) -> None:
    path = write(tmp_path / "f.txt", "gone.example.com\n")
    feeds = ThreatFeeds([tmp_path])
    path.unlink()
    assert feeds.reload_if_changed()
    assert feeds.lookup_domain("gone.example.com") is None


def test_unreadable_file_keeps_previous_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "f.txt", "kept.example.com\n")
    feeds = ThreatFeeds([path])
    write(path, "other.example.com\n")
    os.utime(path, (2_000_000_000, 2_000_000_000))

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError("denied")

    monkeypatch.setattr(Path, "open", refuse)
    with caplog.at_level(logging.WARNING, logger="mailward.feeds._feeds"):
        assert not feeds.reload_if_changed()
    assert "cannot be read" in caplog.text
    assert feeds.lookup_domain("kept.example.com") == "f.txt"


def test_missing_path_logs_and_loads_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="mailward.feeds._feeds"):
        feeds = ThreatFeeds([tmp_path / "absent.txt"])
    assert len(feeds) == 0
    assert "absent.txt" in caplog.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("evil.example.com/path", ("url", "evil.example.com/path")),
        ("https://Evil.Example.com:443", ("url", "evil.example.com/")),
        ("198.51.100.7", ("domain", "198.51.100.7")),
        ("*.Example.ORG.", ("domain", "example.org")),
        (MD5.upper(), ("hash", MD5)),
        ("hello world", None),
        ("abc", None),
        ("12345", None),
    ],
)
def test_classify(value: str, expected: tuple[str, str] | None) -> None:
    assert classify(value) == expected


def test_build_threat_feeds(tmp_path: Path) -> None:
    assert build_threat_feeds(FeedSettings()) is None
    path = write(tmp_path / "f.txt", "x.example.com\n")
    feeds = build_threat_feeds(FeedSettings(paths=(path,), reload_interval=5))
    assert feeds is not None and feeds.reload_interval == 5
    assert feeds.lookup_domain("x.example.com") == "f.txt"
