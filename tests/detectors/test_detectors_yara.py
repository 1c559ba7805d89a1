"""YaraDetector: YARA rules from a folder (reloaded on change) and a clamd INSTREAM client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_detectors import attachment, by_symbol, context, make_message, run

from mailward.detectors import yara_scan
from mailward.detectors.yara_scan import ClamdClient, ClamdError, YaraDetector, parse_clamd_reply
from mailward.engine.contract import ScanContext
from mailward.model import Finding

# The EICAR test string, assembled at run time so no file in the repository holds it whole.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-" + "TEST-FILE!$H+H*").encode()
RULE = """rule {name}
{{
    meta:
        description = "{description}"
        {score}
    strings:
        $a = "{needle}"
    condition:
        $a
}}
"""


def write_rule(
    folder: Path, name: str, needle: str, score: str = "", description: str = "test rule"
) -> Path:
    path = folder / f"{name}.yar"
    path.write_text(RULE.format(name=name, needle=needle, score=score, description=description))
    return path


def findings(
    detector: YaraDetector, ctx: ScanContext | None = None, **msg: object
) -> dict[str, Finding]:
    message = make_message(**msg)
    if ctx is None:
        return by_symbol(run(detector, message))
    return by_symbol(asyncio.run(detector.check(message, ctx)))


def yara_detector(folder: Path) -> YaraDetector:
    return YaraDetector(YaraDetector.Settings(rules_dir=str(folder)))


def test_rule_matching_an_attachment_hits_with_rule_name_and_description(tmp_path: Path) -> None:
    write_rule(tmp_path, "eicar_test", "EICAR-STANDARD-ANTIVIRUS", description="EICAR test file")
    found = findings(yara_detector(tmp_path), attachments=(attachment("x.com", EICAR),))
    hit = found["YARA_MATCH"]
    assert hit.evidence == ("eicar_test",) and hit.factor == 1.0
    assert "eicar_test" in hit.explanation and "EICAR test file" in hit.explanation
    assert '"x.com"' in hit.explanation


def test_meta_score_sets_the_factor(tmp_path: Path) -> None:
    write_rule(tmp_path, "weak_rule", "EICAR-STANDARD", score="score = 4")
    found = findings(yara_detector(tmp_path), attachments=(attachment("x.com", EICAR),))
    assert found["YARA_MATCH"].factor == pytest.approx(0.4)


def test_rules_match_the_message_html_too(tmp_path: Path) -> None:
    write_rule(tmp_path, "kit_marker", "kit-marker-7731")
    found = findings(yara_detector(tmp_path), html="<p>hi</p><!-- kit-marker-7731 -->")
    assert "the message HTML" in found["YARA_MATCH"].explanation


def test_clean_content_and_empty_folder_miss(tmp_path: Path) -> None:
    write_rule(tmp_path, "eicar_test", "EICAR-STANDARD-ANTIVIRUS")
    clean = (attachment("a.txt", b"quarterly numbers\n"),)
    assert findings(yara_detector(tmp_path), attachments=clean) == {}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert findings(yara_detector(empty), attachments=(attachment("x.com", EICAR),)) == {}


def test_no_rules_dir_and_no_clamd_means_nothing_runs() -> None:
    detector = YaraDetector(YaraDetector.Settings())
    assert findings(detector, attachments=(attachment("x.com", EICAR),)) == {}


def test_with_nothing_to_scan_with_no_objects_are_made(monkeypatch: pytest.MonkeyPatch) -> None:
    def unwanted(*_: object) -> Iterator[tuple[str, bytes]]:
        raise AssertionError("objects made (archives expanded) with no rules and no clamd")

    monkeypatch.setattr(yara_scan, "_objects", unwanted)
    detector = YaraDetector(YaraDetector.Settings())
    assert findings(detector, attachments=(attachment("x.zip", EICAR),)) == {}


def test_changed_rules_are_recompiled_after_the_recheck_interval(tmp_path: Path) -> None:
    rules = yara_scan.RuleSet(str(tmp_path), recheck=0.0)
    write_rule(tmp_path, "first", "alpha-marker")
    assert [m.rule for m in rules.rules().match(data=b"alpha-marker")] == ["first"]
    path = write_rule(tmp_path, "first", "beta-marker")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert rules.rules().match(data=b"alpha-marker") == []
    assert [m.rule for m in rules.rules().match(data=b"beta-marker")] == ["first"]


def test_rules_are_not_rechecked_within_the_interval(tmp_path: Path) -> None:
    rules = yara_scan.RuleSet(str(tmp_path), recheck=3600.0)
    write_rule(tmp_path, "first", "alpha-marker")
    compiled = rules.rules()
    write_rule(tmp_path, "second", "beta-marker")
    assert rules.rules() is compiled


def test_broken_rule_file_keeps_the_last_good_set(tmp_path: Path) -> None:
    rules = yara_scan.RuleSet(str(tmp_path), recheck=0.0)
    write_rule(tmp_path, "good", "alpha-marker")
    good = rules.rules()
    broken = tmp_path / "broken.yar"
    broken.write_text("rule broken { condition: nonsense_identifier }")
    assert rules.rules() is good


# --- clamd ----------------------------------------------------------------------------------


@pytest.fixture
def fake_clamd(tmp_path: Path) -> Iterator[tuple[str, list[bytes]]]:
    """A clamd stand-in on a unix socket: FOUND for EICAR, OK otherwise; records each stream."""
    path = str(tmp_path / "clamd.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                stream = conn.makefile("rb")
                assert stream.read(10) == b"zINSTREAM\0"
                data = bytearray()
                while (size := struct.unpack(">I", stream.read(4))[0]) > 0:
                    data += stream.read(size)
                received.append(bytes(data))
                verdict = b"Eicar-Test-Signature FOUND" if EICAR in data else b"OK"
                conn.sendall(b"stream: " + verdict + b"\0")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, received
    # shutdown() wakes the accept() of the serving thread (close() alone does not, on Linux)
    with contextlib.suppress(OSError):
        server.shutdown(socket.SHUT_RDWR)
    server.close()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_clamd_found_raises_av_virus(fake_clamd: tuple[str, list[bytes]]) -> None:
    path, received = fake_clamd
    detector = YaraDetector(YaraDetector.Settings(clamd_socket=path))
    big = EICAR + bytes(200_000)  # several INSTREAM chunks
    found = findings(
        detector, attachments=(attachment("a.txt", b"hello\n"), attachment("t.com", big))
    )
    hit = found["AV_VIRUS"]
    assert hit.evidence == ("Eicar-Test-Signature",)
    assert '"t.com"' in hit.explanation
    assert big in received


def test_clamd_clean_misses(fake_clamd: tuple[str, list[bytes]]) -> None:
    path, received = fake_clamd
    detector = YaraDetector(YaraDetector.Settings(clamd_socket=path))
    assert findings(detector, attachments=(attachment("a.txt", b"hello\n"),), text="hi") == {}
    assert b"hello\n" in received


def test_injected_client_is_preferred() -> None:
    class FakeAv:
        async def scan(self, data: bytes) -> str | None:
            return "Test.Sig" if b"marker" in data else None

    base = context()
    ctx = ScanContext(envelope=base.envelope, settings=base.settings, clients={"clamd": FakeAv()})
    detector = YaraDetector(YaraDetector.Settings())
    assert "AV_VIRUS" in findings(detector, ctx, attachments=(attachment("m.bin", b"a marker"),))
    assert findings(detector, ctx, attachments=(attachment("m.bin", b"clean"),)) == {}


def test_unreachable_clamd_raises_so_the_engine_fails_closed(tmp_path: Path) -> None:
    detector = YaraDetector(YaraDetector.Settings(clamd_socket=str(tmp_path / "none.sock")))
    assert YaraDetector.fail_closed
    with pytest.raises(ClamdError):
        findings(detector, attachments=(attachment("a.txt", b"hello\n"),))


def test_clamd_reply_parsing() -> None:
    assert parse_clamd_reply("stream: Win.Test.X FOUND") == "Win.Test.X"
    assert parse_clamd_reply("stream: OK") is None
    with pytest.raises(ClamdError):
        parse_clamd_reply("INSTREAM size limit exceeded. ERROR")


def test_clamd_over_tcp(tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve_once() -> None:
        conn, _ = server.accept()
        with conn:
            stream = conn.makefile("rb")
            stream.read(10)
            while struct.unpack(">I", stream.read(4))[0]:
                pass
            conn.sendall(b"stream: OK\0")

    thread = threading.Thread(target=serve_once, daemon=True)
    thread.start()
    assert asyncio.run(ClamdClient(host="127.0.0.1", port=port).scan(b"")) is None
    thread.join(timeout=5)
    server.close()


def test_rules_match_inside_archives(tmp_path: Path) -> None:
    import io
    import zipfile

    write_rule(tmp_path, "eicar_test", "EICAR-STANDARD-ANTIVIRUS")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("readme.txt", b"nothing to see")
        zf.writestr("inner/eicar.com", EICAR)
    found = findings(yara_detector(tmp_path), attachments=(attachment("files.zip", buf.getvalue()),))
    hit = found["YARA_MATCH"]
    assert "eicar.com" in hit.explanation or any("eicar.com" in e for e in hit.evidence)
    clean = io.BytesIO()
    with zipfile.ZipFile(clean, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("readme.txt", b"nothing to see")
    assert "YARA_MATCH" not in findings(
        yara_detector(tmp_path), attachments=(attachment("files.zip", clean.getvalue()),)
    )


def test_a_clamd_that_never_answers_is_an_error_not_a_clean_verdict(tmp_path: Path) -> None:
    path = str(tmp_path / "silent.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    try:
        with pytest.raises(ClamdError, match="did not answer"):
            asyncio.run(ClamdClient(socket_path=path, timeout=0.3).scan(b"hello"))
    finally:
        server.close()


def test_a_clamd_that_drops_the_connection_is_an_error(tmp_path: Path) -> None:
    path = str(tmp_path / "rude.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def drop() -> None:
        conn, _ = server.accept()
        conn.recv(10)
        conn.close()

    thread = threading.Thread(target=drop, daemon=True)
    thread.start()
    try:
        with pytest.raises(ClamdError):
            asyncio.run(ClamdClient(socket_path=path).scan(bytes(2_000_000)))
    finally:
        thread.join(timeout=5)
        server.close()
