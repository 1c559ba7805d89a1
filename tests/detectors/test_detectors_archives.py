"""ArchiveDetector: programs in archives and images, encryption, disk images, bombs, nesting.

Every sample is built at run time (tests/attachments/helpers_archives.py): nothing that could
run is committed, and the "programs" are headers only.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pydantic
import pytest
from helpers_detectors import attachment, by_symbol, make_message, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "attachments"))
from helpers_archives import (
    LNK_BYTES,
    MB,
    PDF_BYTES,
    POWERSHELL,
    WINDOWS_JS,
    build,
    gzip_of_zeros,
    nested_zips,
    pe_bytes,
    zipped,
)

from mailward.detectors import BUILTIN_DETECTORS
from mailward.detectors.archives import ArchiveDetector as Detector
from mailward.model import Attachment, Finding

PASSWORD = "Plum-4471"


def findings(*atts: Attachment, text: str = "Hello Bob", **settings: Any) -> dict[str, Finding]:
    detector = Detector(Detector.Settings(**settings))
    return by_symbol(run(detector, make_message(attachments=atts, text=text)))


def locked_zip(*files: tuple[str, bytes]) -> bytes:
    return build("zip", files, options="zip:encryption=zipcrypt", passphrase=PASSWORD)


# --- ATT_ARCHIVE_EXECUTABLE -------------------------------------------------------------------


def test_zip_holding_windows_script_hits() -> None:
    found = findings(attachment("invoice.zip", zipped(("invoice.js", WINDOWS_JS))))
    hit = found["ATT_ARCHIVE_EXECUTABLE"]
    assert hit.evidence == ("invoice.zip > invoice.js",)
    assert "Windows script code" in hit.explanation and "WScript.Shell" in hit.explanation
    assert hit.factor == 1.0 and hit.detector == "archives"


def test_harmless_zip_of_text_and_pdf_misses_everything() -> None:
    harmless = zipped(("minutes.txt", b"Minutes of the meeting\n"), ("report.pdf", PDF_BYTES))
    assert findings(attachment("docs.zip", harmless)) == {}


def test_nested_zip_holding_a_program_hits_with_the_chain() -> None:
    inner = zipped(("setup.exe", pe_bytes()))
    found = findings(attachment("outer.zip", zipped(("inner.zip", inner))))
    hit = found["ATT_ARCHIVE_EXECUTABLE"]
    assert hit.evidence == ("outer.zip > inner.zip > setup.exe",)
    assert "Windows program (PE executable)" in hit.explanation


def test_program_under_a_harmless_name_is_found_by_content() -> None:
    found = findings(attachment("photos.zip", zipped(("holiday.jpg", pe_bytes()))))
    assert found["ATT_ARCHIVE_EXECUTABLE"].evidence == ("photos.zip > holiday.jpg",)


def test_tar_gz_holding_powershell_hits() -> None:
    tgz = build("ustar", [("tools/update.ps1", POWERSHELL)], "gzip")
    found = findings(attachment("tools.tar.gz", tgz))
    assert found["ATT_ARCHIVE_EXECUTABLE"].evidence == ("tools.tar.gz > tools/update.ps1",)
    assert "ATT_ARCHIVE_NESTED" not in found  # gzip around tar is one archive


def test_iso_holding_a_shortcut_hits_and_is_a_disk_image() -> None:
    iso = build("iso9660", [("open.lnk", LNK_BYTES), ("readme.txt", b"read me")])
    found = findings(attachment("scan.iso", iso))
    assert found["ATT_ARCHIVE_EXECUTABLE"].evidence == ("scan.iso > open.lnk",)
    assert found["ATT_CONTAINER_IMAGE"].evidence == ("scan.iso",)


def test_zip_in_iso_chain_is_shown_whole() -> None:
    iso = build("iso9660", [("run.lnk", LNK_BYTES)])
    found = findings(attachment("invoice.zip", zipped(("inner.iso", iso))))
    assert found["ATT_ARCHIVE_EXECUTABLE"].evidence == ("invoice.zip > inner.iso > run.lnk",)
    assert found["ATT_CONTAINER_IMAGE"].evidence == ("invoice.zip > inner.iso",)


def test_dangerous_extensions_follow_settings() -> None:
    sample = attachment("a.zip", zipped(("notes.hta", b"<html>hello</html>")))
    assert "ATT_ARCHIVE_EXECUTABLE" in findings(sample)
    assert findings(sample, dangerous_extensions=("exe",)) == {}


def test_non_archive_attachments_are_left_to_other_detectors() -> None:
    assert findings(attachment("setup.exe", pe_bytes()), attachment("r.pdf", PDF_BYTES)) == {}


# --- ATT_ARCHIVE_ENCRYPTED ---------------------------------------------------------------------


def test_password_in_the_body_unlocks_and_the_contents_are_scanned() -> None:
    sample = attachment("secure.zip", locked_zip(("statement.js", WINDOWS_JS)))
    found = findings(sample, text=f"Your statement is attached. Password: {PASSWORD}")
    enc = found["ATT_ARCHIVE_ENCRYPTED"]
    assert enc.factor == 0.5
    assert PASSWORD in enc.explanation and "scanned too" in enc.explanation
    assert "Windows script code" in found["ATT_ARCHIVE_EXECUTABLE"].explanation


def test_without_the_password_the_archive_stays_locked() -> None:
    sample = attachment("secure.zip", locked_zip(("statement.txt", b"harmless words")))
    found = findings(sample, text="Your statement is attached.")
    enc = found["ATT_ARCHIVE_ENCRYPTED"]
    assert enc.factor == 1.0
    assert enc.evidence == ("secure.zip > statement.txt",)
    assert "could not be scanned" in enc.explanation
    assert "ATT_ARCHIVE_EXECUTABLE" not in found


def test_locked_member_with_a_dangerous_name_still_hits_by_extension() -> None:
    sample = attachment("secure.zip", locked_zip(("statement.js", WINDOWS_JS)))
    found = findings(sample)
    assert found["ATT_ARCHIVE_EXECUTABLE"].evidence == ("secure.zip > statement.js",)
    assert '".js"' in found["ATT_ARCHIVE_EXECUTABLE"].explanation


def test_body_passwords_can_be_switched_off() -> None:
    sample = attachment("secure.zip", locked_zip(("statement.txt", b"harmless")))
    found = findings(sample, text=f"Password: {PASSWORD}", try_body_passwords=False)
    assert found["ATT_ARCHIVE_ENCRYPTED"].factor == 1.0


def test_unencrypted_zip_is_not_flagged_encrypted() -> None:
    found = findings(attachment("a.zip", zipped(("a.txt", b"x"))), text=f"Password: {PASSWORD}")
    assert "ATT_ARCHIVE_ENCRYPTED" not in found


# --- ATT_CONTAINER_IMAGE -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["disk.vhd", "disk.vhdx", "backup.img"])
def test_disk_images_are_flagged_even_when_unreadable(name: str) -> None:
    found = findings(attachment(name, bytes(4096)))
    assert found["ATT_CONTAINER_IMAGE"].evidence == (name,)
    assert "Mark-of-the-Web" in found["ATT_CONTAINER_IMAGE"].explanation
    assert "ATT_ARCHIVE_TOO_COMPLEX" not in found


def test_plain_zip_is_no_disk_image() -> None:
    assert "ATT_CONTAINER_IMAGE" not in findings(attachment("a.zip", zipped(("a.txt", b"x"))))


# --- ATT_ARCHIVE_TOO_COMPLEX -------------------------------------------------------------------


def test_gzip_bomb_is_too_complex_and_says_which_limit() -> None:
    started = time.monotonic()
    found = findings(attachment("zeros.gz", gzip_of_zeros(256 * MB)))
    assert time.monotonic() - started < 5.0 + 1.5
    hit = found["ATT_ARCHIVE_TOO_COMPLEX"]
    assert hit.evidence == ("zeros.gz",)
    assert "max_ratio" in hit.explanation and "compression ratio" in hit.explanation
    assert Detector.symbols["ATT_ARCHIVE_TOO_COMPLEX"].weight == 0.0


def test_deep_nesting_is_too_complex() -> None:
    found = findings(attachment("nest.zip", nested_zips(20, ("a.txt", b"x"))))
    assert "max_depth" in found["ATT_ARCHIVE_TOO_COMPLEX"].explanation


def test_damaged_archive_is_too_complex() -> None:
    damaged = zipped(("a.txt", b"hello" * 100))[:60]
    found = findings(attachment("broken.zip", damaged))
    assert "could not be read" in found["ATT_ARCHIVE_TOO_COMPLEX"].explanation


def test_time_limit_is_shared_by_all_attachments() -> None:
    bomb = gzip_of_zeros(256 * MB)
    settings = {"max_seconds": 0.2, "max_member_bytes": 2**31, "max_total_bytes": 2**31,
                "max_ratio": 1e6}  # fmt: skip
    started = time.monotonic()
    found = findings(attachment("a.gz", bomb), attachment("b.gz", bomb), **settings)
    assert time.monotonic() - started < 0.2 + 1.5
    hit = found["ATT_ARCHIVE_TOO_COMPLEX"]
    assert hit.evidence == ("a.gz", "b.gz")
    assert "max_seconds" in hit.explanation


def test_ordinary_archive_is_not_too_complex() -> None:
    assert "ATT_ARCHIVE_TOO_COMPLEX" not in findings(attachment("a.zip", zipped(("a.txt", b"x"))))


# --- ATT_ARCHIVE_NESTED ------------------------------------------------------------------------


def test_zip_in_a_zip_is_nested() -> None:
    found = findings(attachment("outer.zip", zipped(("inner.zip", zipped(("a.txt", b"x"))))))
    hit = found["ATT_ARCHIVE_NESTED"]
    assert hit.evidence == ("outer.zip > inner.zip",)
    assert "2 levels" in hit.explanation


def test_nesting_threshold_follows_settings() -> None:
    sample = attachment("outer.zip", zipped(("inner.zip", zipped(("a.txt", b"x")))))
    assert "ATT_ARCHIVE_NESTED" not in findings(sample, nested_levels=3)


# --- contract ----------------------------------------------------------------------------------


def test_detector_is_registered_and_fails_closed() -> None:
    assert Detector in BUILTIN_DETECTORS
    assert Detector.fail_closed and Detector.timeout == 10.0 and Detector.name == "archives"
    assert {spec.group for spec in Detector.symbols.values()} == {"attachments"}


@pytest.mark.parametrize("bad", [{"max_depth": 0}, {"nested_levels": 1}, {"no_such_key": 1}])
def test_settings_are_validated(bad: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        Detector.Settings(**bad)


def test_settings_build_the_limits() -> None:
    limits = Detector.Settings(max_entries=7, max_seconds=1.5).limits()
    assert limits.max_entries == 7 and limits.max_seconds == 1.5
