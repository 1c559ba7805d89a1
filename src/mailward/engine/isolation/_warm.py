"""Imported once by the fork server that starts scan processes: imports the engine, builds one
default Engine and scans one small message with it, so the detectors' data (word lists, brand
names and their look-alike index, the public suffix list, the content model, compiled rules)
is loaded before the fork and every scan process is ready in a fraction of a second.

The scan runs offline (no clients: no socket, no database) in a short-lived event loop whose
worker threads are joined before the import ends, so the fork server forks no thread of ours.

Then everything loaded so far is moved out of the garbage collector's reach (``gc.freeze``, as
CPython's documentation advises before forking workers): the scan processes' collections no
longer walk the hundreds of thousands of long-lived objects of the detectors' data, and do not
write to their pages, which stay shared with the fork server instead of being copied into each
scan process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc

from mailward.config.settings import Settings
from mailward.engine.isolation import _child  # noqa: F401  (what a scan process runs)
from mailward.engine.pipeline import Engine
from mailward.model import Envelope

_SAMPLE = (
    b"From: Warm Up <warm@example.net>\r\nTo: someone@example.com\r\nSubject: warm-up\r\n"
    b"Message-ID: <warm-up@example.net>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    b'<p>Hello, see <a href="https://www.example.org/a">the page</a>.</p>\r\n'
)


def _warm() -> None:
    engine = Engine(Settings())
    envelope = Envelope(mail_from="warm@example.net", rcpt_tos=("someone@example.com",))
    asyncio.run(engine.scan(_SAMPLE, envelope))


with contextlib.suppress(Exception):  # a warm cache is an optimisation, never a requirement
    _warm()
gc.collect()  # the warm-up scan's own garbage is not kept for ever
gc.freeze()
