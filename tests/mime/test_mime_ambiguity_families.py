"""MIME ambiguities: each "MIME is broken" family is found and every reading is scanned;
benign messages of the same shape read as one message."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from mime_ambiguity_samples import ATTACKS, CONTROLS, EVIL, EXE, HEAD, b64, mixed

from mailward.config import Settings
from mailward.config.settings import LimitSettings
from mailward.detectors.mime_ambiguity import MimeAmbiguityDetector, MimeAmbiguitySettings
from mailward.engine.contract import ScanContext
from mailward.errors import LimitExceeded, ParseError
from mailward.mime import _parse, _views, parse_message
from mailward.model import ParsedMessage

LIMITS = LimitSettings()
EXE_SHA = hashlib.sha256(EXE).hexdigest()


def codes(msg: ParsedMessage) -> set[str]:
    return {a.partition(":")[0] for a in msg.ambiguities}


def shows_payload(msg: ParsedMessage) -> bool:
    """The hidden executable, script or link is in the union of the readings."""
    return (
        any(a.sha256 == EXE_SHA for a in msg.attachments)
        or any((a.filename or "").endswith(".js") for a in msg.attachments)
        or any(u.url == EVIL.decode() for u in msg.urls)
    )


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_family_is_found_and_its_payload_scanned(name: str) -> None:
    raw, code = ATTACKS[name]
    msg = parse_message(raw, LIMITS)
    assert code in codes(msg), msg.ambiguities
    assert shows_payload(msg), [(a.filename, a.detected_type) for a in msg.attachments]


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_benign_shape_has_no_ambiguity(name: str) -> None:
    msg = parse_message(CONTROLS[name], LIMITS)
    assert msg.ambiguities == ()


def test_hidden_attachment_is_named_when_only_another_reading_shows_it() -> None:
    msg = parse_message(ATTACKS["duplicate_cte"][0], LIMITS)
    assert "hidden_attachment" in codes(msg)
    plain = parse_message(ATTACKS["no_close_boundary"][0], LIMITS)  # the parser sees the exe
    assert "hidden_attachment" not in codes(plain)


def test_hidden_link_from_preamble() -> None:
    msg = parse_message(ATTACKS["preamble_mime"][0], LIMITS)
    assert "hidden_link" in codes(msg)


def test_rfc2231_name_is_kept_next_to_the_plain_name() -> None:
    msg = parse_message(ATTACKS["name_conflict"][0], LIMITS)
    names = {a.filename for a in msg.attachments}
    assert {"invoice.pdf", "invoice.js"} <= names


def test_benign_mail_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> list[bytes]:
        raise AssertionError("views built for a benign message")

    monkeypatch.setattr(_parse, "build_views", boom)
    for raw in CONTROLS.values():
        parse_message(raw, LIMITS)
    with pytest.raises(ParseError, match="views built"):
        parse_message(ATTACKS["duplicate_cte"][0], LIMITS)


def test_views_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many ambiguous parts still give at most MAX_VIEWS readings."""
    parts = b"".join(
        b"--b1\r\nContent-Type: application/octet-stream; name=a%d.dat\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nQQ==\r\n" % i + b64(b"x%d" % i * 50)
        for i in range(40)
    )
    raw = mixed(parts + b"--b1--\r\n")
    seen: list[int] = []
    real = _views.walk_views

    def counting(views: list[bytes], limits: LimitSettings) -> list[_views.Walker]:
        seen.append(len(views))
        return real(views, limits)

    monkeypatch.setattr(_parse, "walk_views", counting)
    parse_message(raw, LIMITS)
    assert seen and seen[0] <= _views.MAX_VIEWS


def test_limits_apply_to_every_reading() -> None:
    """A reading that breaks a hard limit breaks it for the message (fail closed)."""
    raw = ATTACKS["duplicate_cte"][0]
    parse_message(raw, LIMITS)
    with pytest.raises(LimitExceeded):
        parse_message(raw, LimitSettings(max_decoded_bytes=len(EXE) + 10))


def test_view_never_exceeds_the_message_by_much() -> None:
    raw, _ = ATTACKS["epilogue_mime"]
    msg = parse_message(raw, LIMITS)
    assert msg.ambiguities
    from email.parser import BytesParser

    from mailward.mime._ambiguity import find_ambiguities
    from mailward.mime._headers import RAW_POLICY

    root = BytesParser(policy=RAW_POLICY).parsebytes(raw)
    for view in _views.build_views(raw, root, find_ambiguities(raw, root), LIMITS):
        assert len(view) <= len(raw) + 4096


def run_detector(msg: ParsedMessage, **settings: object) -> dict[str, object]:
    detector = MimeAmbiguityDetector(MimeAmbiguitySettings.model_validate(settings))
    ctx = ScanContext(envelope=None, settings=Settings())
    return {f.symbol: f for f in asyncio.run(detector.check(msg, ctx))}


def test_detector_hits_ambiguity_and_hidden_content() -> None:
    found = run_detector(parse_message(ATTACKS["duplicate_boundary"][0], LIMITS))
    assert set(found) == {"MIME_AMBIGUOUS", "MIME_HIDDEN_CONTENT"}
    assert "duplicate_boundary" in found["MIME_AMBIGUOUS"].evidence  # type: ignore[attr-defined]


def test_detector_misses_benign_mail() -> None:
    for raw in CONTROLS.values():
        assert run_detector(parse_message(raw, LIMITS)) == {}


def test_detector_weak_factor_and_ignore_setting() -> None:
    msg = parse_message(mixed(b"--b1\r\nContent-Type: text/plain\r\n\r\nhi\r\n"), LIMITS)
    found = run_detector(msg)
    assert found["MIME_AMBIGUOUS"].factor < 0.5  # type: ignore[attr-defined]
    assert run_detector(msg, ignore=["no_close_boundary"]) == {}


def test_header_only_message_still_parses() -> None:
    msg = parse_message(HEAD + b"\r\n", LIMITS)
    assert msg.ambiguities == ()
