"""bytes -> ParsedMessage: headers, text, HTML, links and attachments, within hard limits.

Public surface:

- :func:`parse_message` the parser (raises LimitExceeded / ParseError, nothing else);
- :func:`registrable_domain`, :func:`host_to_ascii`, :func:`make_url`, :func:`extract_urls`,
  :func:`iter_urls`: link helpers from :mod:`mailward.mime.urls`, reused by detectors;
- :func:`detect_type`: a file's type from its bytes (libmagic), for attachments and archive
  members alike.
"""

from mailward.mime._magic import SNIFF_BYTES, detect_type
from mailward.mime._parse import parse_message
from mailward.mime.urls import (
    extract_urls,
    host_to_ascii,
    iter_urls,
    make_url,
    registrable_domain,
)

__all__ = [
    "SNIFF_BYTES",
    "detect_type",
    "extract_urls",
    "host_to_ascii",
    "iter_urls",
    "make_url",
    "parse_message",
    "registrable_domain",
]
