"""One feed file -> its indicators: URLs, domains (and IPs) and file hashes.

Two formats, told apart by content, not by file name:

- plain text: one indicator per line; ``#`` starts a comment, blank lines are skipped;
- CSV: a header row (possibly behind ``#``, as URLhaus writes it) naming at least one of the
  columns url, domain, host, hostname, fqdn, ip, sha256, sha1, md5, hash, indicator, value, ioc;
  a ``type`` column, when present, says what indicator/value/ioc hold.

Each indicator is classified and normalised:

- hash: 32, 40 or 64 hex digits (md5, sha1, sha256), lower case;
- URL: anything with ``scheme://`` or a path behind a host; kept as a match key without the
  scheme: lower-case host, default port dropped, fragment dropped, empty path as ``/``;
- domain: a host name or IP, lower case, a leading ``*.`` and a trailing dot dropped.

Anything else on a line is malformed: counted and skipped.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from mailward.mime.urls import host_to_ascii

Kind = Literal["url", "domain", "hash"]

_HEX = re.compile(r"[0-9a-fA-F]+")
_HASH_LENGTHS = frozenset({32, 40, 64})
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_HOST = re.compile(rf"(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_IPV6 = re.compile(r"\[?[0-9a-f:]*:[0-9a-f:.]*\]?")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}
_CSV_DELIMITERS = ",;\t|"
_SAMPLE_CHARS = 8192
_COLUMN_NAME = re.compile(r"[\w.-]{1,40}")

#: CSV column name -> the kind it holds ("any": classify by content or by the type column).
_COLUMNS: dict[str, Kind | Literal["any"]] = {
    "url": "url",
    "uri": "url",
    "domain": "domain",
    "host": "domain",
    "hostname": "domain",
    "fqdn": "domain",
    "ip": "domain",
    "ip_address": "domain",
    "sha256": "hash",
    "sha256_hash": "hash",
    "sha1": "hash",
    "sha1_hash": "hash",
    "md5": "hash",
    "md5_hash": "hash",
    "hash": "hash",
    "indicator": "any",
    "value": "any",
    "ioc": "any",
}
#: Words in a ``type`` column value -> kind; a type naming none of them (email, ...) is skipped.
_TYPE_WORDS: tuple[tuple[str, Kind], ...] = (
    ("url", "url"),
    ("uri", "url"),
    ("domain", "domain"),
    ("host", "domain"),
    ("fqdn", "domain"),
    ("ip", "domain"),
    ("md5", "hash"),
    ("sha", "hash"),
    ("hash", "hash"),
)


@dataclass(slots=True)
class FeedData:
    """The indicators of one feed file, normalised, and how many lines were malformed."""

    urls: set[str] = field(default_factory=set)
    domains: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)
    malformed: int = 0

    def add(self, kind: Kind, key: str) -> None:
        {"url": self.urls, "domain": self.domains, "hash": self.hashes}[kind].add(key)

    def __len__(self) -> int:
        return len(self.urls) + len(self.domains) + len(self.hashes)


def normalise_domain(value: str) -> str | None:
    """A host name or IP in lower-case ASCII; None when ``value`` is neither."""
    value = value.strip().lower()
    if value.startswith("*."):
        value = value[2:]
    value = value.rstrip(".")
    if not value or any(c.isspace() for c in value):
        return None
    if _IPV4.fullmatch(value):
        return value
    if ":" in value and _IPV6.fullmatch(value):
        return value.strip("[]")
    try:
        value = host_to_ascii(value)
    except (UnicodeError, ValueError):
        return None
    return value if _HOST.fullmatch(value) else None


def normalise_url(value: str) -> str | None:
    """The match key of a URL: host[:port]/path[?query], lower-case host, no default port.

    The scheme is left out, so ``http://`` and ``https://`` links to the same place match;
    a URL without a scheme is read as http. None when ``value`` has no valid host.
    """
    value = value.strip()
    if not _SCHEME.match(value):
        value = "http://" + value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    host = normalise_domain(parts.hostname or "")
    if host is None:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{host}{parts.path or '/'}{query}"


def is_hash(value: str) -> bool:
    return len(value) in _HASH_LENGTHS and _HEX.fullmatch(value) is not None


def classify(value: str, hint: Kind | None = None) -> tuple[Kind, str] | None:
    """(kind, normalised key) of one indicator; None when it is none of URL, domain, hash."""
    value = value.strip().strip("\"'")
    if not value:
        return None
    if hint in (None, "hash") and is_hash(value):
        return "hash", value.lower()
    if hint == "hash":
        return None
    if hint != "url" and not _SCHEME.match(value) and "/" not in value:
        domain = normalise_domain(value)
        return ("domain", domain) if domain else None
    if hint == "domain":
        return None
    url = normalise_url(value)
    return ("url", url) if url else None


def _kind_of_type(value: str) -> Kind | None:
    lowered = value.lower()
    for word, kind in _TYPE_WORDS:
        if word in lowered:
            return kind
    return None


def _header(line: str) -> list[str] | None:
    """The column names of a CSV header line, or None when it names no indicator column.

    A ``#`` comment counts only when every name is one word ("# id,dateadded,url,..."), so a
    comment in a plain list ("# domains, added by hand") is not taken for a header.
    """
    comment = line.lstrip().startswith("#")
    line = line.lstrip().lstrip("#").strip()
    try:
        dialect = csv.Sniffer().sniff(line, delimiters=_CSV_DELIMITERS)
    except csv.Error:
        return None
    names = [n.strip().strip("\"'").lower() for n in next(csv.reader([line], dialect))]
    if len(names) < 2 or not any(n in _COLUMNS for n in names):
        return None
    if comment and not all(_COLUMN_NAME.fullmatch(n) for n in names):
        return None
    return names


def _find_header(text: str) -> tuple[int, list[str]] | None:
    """(line index, column names) of the CSV header: the first line that is not a plain
    comment, or the last leading ``#`` line that names columns (URLhaus style)."""
    found: tuple[int, list[str]] | None = None
    for index, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        names = _header(line)
        if line.lstrip().startswith("#"):
            found = (index, names) if names else found
            continue
        return (index, names) if names else found
    return found


def _csv_row(row: list[str], names: list[str], data: FeedData) -> None:
    cells = dict(zip(names, row, strict=False))
    type_kind = _kind_of_type(cells.get("type", "")) if "type" in cells else None
    added = False
    for name, value in cells.items():
        column = _COLUMNS.get(name)
        if column is None or not value.strip():
            continue
        hint = type_kind if column == "any" else column
        if column == "any" and "type" in cells and type_kind is None:
            return  # an indicator of a kind feeds do not cover (email, mutex, ...)
        found = classify(value, hint)
        if found is not None:
            data.add(*found)
            added = True
    if not added:
        data.malformed += 1


def parse_csv(text: str, header_at: int, names: list[str]) -> FeedData:
    data = FeedData()
    body = "\n".join(
        line
        for line in text.splitlines()[header_at + 1 :]
        if line.strip() and not line.lstrip().startswith("#")
    )
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            body[:_SAMPLE_CHARS], delimiters=_CSV_DELIMITERS
        )
    except csv.Error:
        dialect = csv.excel
    for row in csv.reader(io.StringIO(body), dialect):
        _csv_row(row, names, data)
    return data


def parse_plain(text: str) -> FeedData:
    data = FeedData()
    for raw_line in text.splitlines():
        line = raw_line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        found = classify(line)
        if found is None:
            data.malformed += 1
        else:
            data.add(*found)
    return data


def parse_feed(text: str) -> FeedData:
    """The indicators of one feed file's text, CSV or plain."""
    header = _find_header(text)
    if header is not None:
        return parse_csv(text, *header)
    return parse_plain(text)
