"""ClamdClient and YaraDetector against a real clamd (tests/clamdserver) with a signature the test
writes for a sample it generates: found over the unix socket and over TCP, with the signature's
name, in attachments and inside archives; clean data is not."""

from __future__ import annotations

import asyncio
import io
import secrets
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_detectors import attachment, by_symbol, make_message, run

from mailward.detectors.yara_scan import ClamdClient, ClamdError, YaraDetector

sys.path.insert(0, str(Path(__file__).parents[1] / "clamdserver"))
from clamd_server import Clamd, generated_sample, reported_name, require_clamd

pytestmark = pytest.mark.slow

SIGNATURE = "Mailward.Test.GeneratedSample"
MARKER, SAMPLE = generated_sample()


@pytest.fixture(scope="module")
def clamd() -> Iterator[Clamd]:
    require_clamd()
    with Clamd({SIGNATURE: MARKER}) as server:
        yield server


def clean_bytes() -> bytes:
    return secrets.token_bytes(len(SAMPLE))


def test_the_sample_is_found_over_the_unix_socket_and_clean_data_is_not(clamd: Clamd) -> None:
    client = ClamdClient(socket_path=str(clamd.socket_path))
    assert asyncio.run(client.scan(SAMPLE)) == reported_name(SIGNATURE)
    assert asyncio.run(client.scan(clean_bytes())) is None
    assert asyncio.run(client.scan(b"Quarterly numbers attached.\n")) is None


def test_the_sample_is_found_over_tcp(clamd: Clamd) -> None:
    client = ClamdClient(host="127.0.0.1", port=clamd.port)
    assert asyncio.run(client.scan(SAMPLE)) == reported_name(SIGNATURE)
    assert asyncio.run(client.scan(clean_bytes())) is None


def test_a_sample_spanning_many_instream_chunks_is_found(clamd: Clamd) -> None:
    big = secrets.token_bytes(300_000) + SAMPLE + secrets.token_bytes(300_000)
    client = ClamdClient(socket_path=str(clamd.socket_path))
    assert asyncio.run(client.scan(big)) == reported_name(SIGNATURE)


def test_detector_raises_av_virus_naming_the_signature_and_the_attachment(clamd: Clamd) -> None:
    detector = YaraDetector(YaraDetector.Settings(clamd_socket=str(clamd.socket_path)))
    msg = make_message(attachments=(attachment("notes.txt", b"agenda\n"),
                                    attachment("report.dat", SAMPLE)))  # fmt: skip
    hit = by_symbol(run(detector, msg))["AV_VIRUS"]
    assert hit.evidence == (reported_name(SIGNATURE),)
    assert reported_name(SIGNATURE) in hit.explanation and '"report.dat"' in hit.explanation


def test_detector_finds_the_sample_inside_a_zip_over_tcp(clamd: Clamd) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("readme.txt", b"nothing to see")
        zf.writestr("data/report.dat", SAMPLE)
    detector = YaraDetector(YaraDetector.Settings(clamd_host="127.0.0.1", clamd_port=clamd.port))
    msg = make_message(attachments=(attachment("files.zip", buf.getvalue()),))
    hit = by_symbol(run(detector, msg))["AV_VIRUS"]
    assert hit.evidence == (reported_name(SIGNATURE),)


def test_detector_passes_a_clean_message(clamd: Clamd) -> None:
    detector = YaraDetector(YaraDetector.Settings(clamd_socket=str(clamd.socket_path)))
    msg = make_message(text="Hi, the notes are attached.",
                       attachments=(attachment("notes.dat", clean_bytes()),))  # fmt: skip
    assert by_symbol(run(detector, msg)) == {}


def test_a_stopped_clamd_is_an_error_not_a_clean_verdict() -> None:
    require_clamd()
    with Clamd({SIGNATURE: MARKER}) as server:
        server.stop()
        for client in (ClamdClient(socket_path=str(server.socket_path)),
                       ClamdClient(host="127.0.0.1", port=server.port)):  # fmt: skip
            with pytest.raises(ClamdError):
                asyncio.run(client.scan(SAMPLE))
        server.start()
        client = ClamdClient(socket_path=str(server.socket_path))
        assert asyncio.run(client.scan(SAMPLE)) == reported_name(SIGNATURE)


def test_a_stream_over_clamds_size_limit_is_an_error_not_a_clean_verdict() -> None:
    require_clamd()
    with Clamd({SIGNATURE: MARKER}, extra_conf="StreamMaxLength 64K\n") as server:
        client = ClamdClient(socket_path=str(server.socket_path))
        assert asyncio.run(client.scan(SAMPLE)) == reported_name(SIGNATURE)
        with pytest.raises(ClamdError):
            asyncio.run(client.scan(secrets.token_bytes(1_000_000)))
        detector = YaraDetector(YaraDetector.Settings(clamd_socket=str(server.socket_path)))
        big = make_message(attachments=(attachment("big.dat", secrets.token_bytes(200_000)),))
        with pytest.raises(ClamdError):  # the engine makes this ENGINE_FAIL_CLOSED
            run(detector, big)
