"""Property-based fuzzing (hypothesis) of the parser and the scan path, bounded for CI.

Properties: parse_message raises nothing but ParseError (LimitExceeded included), and a full
Engine scan never raises and always gives a verdict. Inputs are random bytes and messages built
from MIME-ish pieces (boundaries, encodings, headers), mutated.
"""

from __future__ import annotations

import asyncio
import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailward.config.settings import LimitSettings, Settings
from mailward.engine.pipeline import Engine
from mailward.errors import ParseError
from mailward.mime import parse_message
from mailward.model import Action

LIMITS = LimitSettings(max_depth=8, max_parts=50, max_decoded_bytes=2_000_000)
ENGINE = Engine(Settings(limits=LIMITS))

HEADER_NAMES = st.sampled_from([
    "From", "To", "Subject", "Content-Type", "Content-Transfer-Encoding",
    "Content-Disposition", "MIME-Version", "Reply-To", "Message-ID", "X-Junk",
])
VALUES = st.one_of(
    st.sampled_from([
        'multipart/mixed; boundary="b"', "multipart/alternative; boundary=b",
        'text/html; charset="utf-8"', "text/plain; charset=unknown-8bit", "base64",
        "quoted-printable", 'attachment; filename="a.exe"', "attachment; filename*=UTF-8''%E2%80%AE",
        "=?utf-8?b?w6nDqQ==?=", "=?x?q?broken", '"a@b" <c@d>, e@f', "<>",
    ]),
    st.text(max_size=60).map(lambda t: t.replace("\r", " ").replace("\n", " ")),
)
BODIES = st.one_of(
    st.sampled_from([
        b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n",
        b"--b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b--",
        b"<a href='http://x.example/'>paypal.com</a><script>atob('QUJD')</script>",
        b"TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAAA==",
        b"=E2=80=AE=\r\n=ZZ", b"\x00\xff\xfe" * 20,
    ]),
    st.binary(max_size=400),
)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    headers = draw(st.lists(st.tuples(HEADER_NAMES, VALUES), max_size=8))
    head = b"".join(f"{n}: {v}\r\n".encode("utf-8", "replace") for n, v in headers)
    body = b"".join(draw(st.lists(BODIES, max_size=5)))
    raw = head + b"\r\n" + body
    if draw(st.booleans()):  # cut somewhere, as a broken client would
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(st.one_of(messages(), st.binary(max_size=2000)))
def test_parser_raises_only_parse_errors(raw: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_message(raw, LIMITS)


@FUZZ
@given(messages())
def test_scan_always_gives_a_verdict(raw: bytes) -> None:
    outcome = asyncio.run(ENGINE.scan(raw))
    assert isinstance(outcome.verdict.action, Action)
    if outcome.parsed is None:  # unparseable mail is kept for a person, never delivered
        assert outcome.verdict.action is Action.QUARANTINE
