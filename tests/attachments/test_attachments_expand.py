"""expand(): listing, reading, nesting, streams, images, encryption and names, in memory."""

from __future__ import annotations

import gzip
import hashlib
import os
import random
from pathlib import Path

import pytest
from helpers_archives import (
    LNK_BYTES,
    MB,
    PDF_BYTES,
    POWERSHELL,
    WINDOWS_JS,
    build,
    pe_bytes,
    zipped,
)

from mailward.attachments import ArchiveLimits, display_name, expand, read_plan


def test_zip_members_are_listed_with_chain_size_hash_type_and_bytes() -> None:
    result = expand(zipped(("run.js", WINDOWS_JS), ("notes.txt", b"hello")), "invoice.zip")
    assert result.is_archive and result.limit_hit is None and result.errors == ()
    js, notes = result.members
    assert js.chain == ("invoice.zip", "run.js")
    assert js.display == "invoice.zip > run.js"
    assert js.size == len(WINDOWS_JS)
    assert js.sha256 == hashlib.sha256(WINDOWS_JS).hexdigest()
    assert js.content == WINDOWS_JS and not js.truncated
    assert js.detected_type.startswith("text/")
    assert js.depth == 1
    assert notes.content == b"hello"
    assert result.archives == ("invoice.zip",) and result.max_nesting == 1


def test_non_archive_content_is_not_expanded() -> None:
    result = expand(PDF_BYTES, "report.pdf")
    assert not result.is_archive
    assert result.members == () and result.errors == ()


def test_text_named_zip_is_not_an_archive_and_not_an_error() -> None:
    # only the name says "zip": libmagic sees text, so the name is not believed
    result = expand(b"just some words\n", "fake.zip")
    assert not result.is_archive and result.errors == ()


def test_damaged_zip_by_content_is_reported_as_an_error() -> None:
    damaged = zipped(("a.txt", b"hello" * 100))[:60]
    result = expand(damaged, "broken.zip")
    assert result.errors and result.errors[0][0] == "broken.zip"
    assert result.limit_hit is None


def test_nested_archives_are_expanded_depth_first_with_the_chain() -> None:
    inner = zipped(("setup.exe", pe_bytes()))
    result = expand(zipped(("inner.zip", inner), ("readme.txt", b"hi")), "outer.zip")
    chains = [m.display for m in result.members]
    assert chains == ["outer.zip > inner.zip", "outer.zip > readme.txt",
                      "outer.zip > inner.zip > setup.exe"]  # fmt: skip
    exe = result.members[-1]
    assert exe.depth == 2 and exe.content == pe_bytes()
    assert result.archives == ("outer.zip", "outer.zip > inner.zip")
    assert result.max_nesting == 2


def test_tar_gz_is_one_archive_level() -> None:
    tgz = build("ustar", [("tools/update.ps1", POWERSHELL)], "gzip")
    result = expand(tgz, "tools.tar.gz")
    assert [m.display for m in result.members] == ["tools.tar.gz > tools/update.ps1"]
    assert result.members[0].content == POWERSHELL
    assert result.max_nesting == 1


@pytest.mark.parametrize(("name", "inner"), [("notes.txt.gz", "notes.txt"), ("blob.gz", "blob")])
def test_plain_gzip_stream_is_one_member_named_from_the_file(name: str, inner: str) -> None:
    result = expand(gzip.compress(b"hello world"), name)
    assert [(m.name, m.content) for m in result.members] == [(inner, b"hello world")]


def test_gzip_holding_a_zip_expands_the_zip() -> None:
    result = expand(gzip.compress(zipped(("a.js", WINDOWS_JS))), "bundle.zip.gz")
    assert result.members[-1].display == "bundle.zip.gz > bundle.zip > a.js"
    assert result.max_nesting == 2


def test_iso_image_is_listed_and_flagged_as_image() -> None:
    iso = build("iso9660", [("open.lnk", LNK_BYTES), ("readme.txt", b"x")])
    result = expand(iso, "scan.iso")
    assert result.images == ("scan.iso",)
    assert sorted(m.name for m in result.members) == ["open.lnk", "readme.txt"]


def test_iso_inside_zip_is_an_image_too_with_its_chain() -> None:
    iso = build("iso9660", [("run.lnk", LNK_BYTES)])
    result = expand(zipped(("inner.iso", iso)), "invoice.zip")
    assert result.images == ("invoice.zip > inner.iso",)
    assert result.members[-1].display == "invoice.zip > inner.iso > run.lnk"


@pytest.mark.parametrize("name", ["disk.vhd", "disk.vhdx", "photos.img"])
def test_disk_images_libarchive_cannot_read_are_flagged_by_name(name: str) -> None:
    result = expand(bytes(4096), name)
    assert result.images == (name,)
    assert result.errors == ()  # by name only: not reading it is not an error


def test_vhd_is_recognised_by_content_whatever_its_name() -> None:
    assert expand(b"conectix" + bytes(600), "data.bin").images == ("data.bin",)


def test_plain_zip_is_not_an_image() -> None:
    assert expand(zipped(("a.txt", b"a")), "a.zip").images == ()


@pytest.mark.parametrize("method", ["zipcrypt", "aes256"])
def test_encrypted_zip_without_password_is_flagged_with_names_visible(method: str) -> None:
    locked = build("zip", [("pay.js", WINDOWS_JS)], options=f"zip:encryption={method}",
                   passphrase="Tr0ub4dor")  # fmt: skip
    result = expand(locked, "secure.zip", passwords=["wrong", "guess"])
    assert result.encrypted == ("secure.zip > pay.js",)
    assert result.passwords == ()
    (member,) = result.members
    assert member.encrypted and member.content == b"" and member.name == "pay.js"


@pytest.mark.parametrize("method", ["zipcrypt", "aes256"])
def test_encrypted_zip_is_opened_by_the_right_password(method: str) -> None:
    locked = build("zip", [("pay.js", WINDOWS_JS), ("b.txt", b"ok")],
                   options=f"zip:encryption={method}", passphrase="Tr0ub4dor")  # fmt: skip
    result = expand(locked, "secure.zip", passwords=["wrong", "Tr0ub4dor"])
    assert result.passwords == (("secure.zip", "Tr0ub4dor"),)
    assert result.encrypted == ()
    assert [(m.name, m.content) for m in result.members] == [
        ("pay.js", WINDOWS_JS),
        ("b.txt", b"ok"),
    ]


def test_big_plain_member_keeps_a_prefix_but_hashes_everything() -> None:
    alphabet = b"abcdefgh \n"
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    text = random.Random(7).randbytes(3 * MB).translate(table)
    result = expand(zipped(("log.txt", text)), "logs.zip", ArchiveLimits(keep_bytes=MB))
    (member,) = result.members
    assert member.size == len(text) and member.truncated
    assert len(member.content) == MB and member.content == text[:MB]
    assert member.sha256 == hashlib.sha256(text).hexdigest()


def test_nested_container_is_kept_whole_to_be_expanded() -> None:
    noise = random.Random(3).randbytes(2 * MB)
    inner = build("zip", [("noise.bin", noise), ("z.exe", pe_bytes())],
                  options="zip:compression=store")  # fmt: skip
    result = expand(zipped(("inner.zip", inner)), "o.zip", ArchiveLimits(keep_bytes=MB))
    assert result.members[0].content == inner
    assert result.members[-1].display == "o.zip > inner.zip > z.exe"


def test_member_names_are_data_sanitised_for_display_and_never_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    names = ["../../escape.txt", "/etc/cron.d/job", "doc\u202etxt.exe", "bell\x07.txt"]
    result = expand(zipped(*[(n, b"x") for n in names]), "names.zip")
    shown = [m.name for m in result.members]
    assert "../../escape.txt" in shown
    assert "doc<U+202E>txt.exe" in shown and "bell<U+0007>.txt" in shown
    assert os.listdir(tmp_path) == []
    assert not (tmp_path.parent.parent / "escape.txt").exists()


def test_display_name_limits_length_and_handles_bytes_and_none() -> None:
    assert display_name(None) == "(unnamed)"
    assert display_name(b"caf\xe9.txt") == "caf\ufffd.txt"
    assert len(display_name("a" * 500)) == 120


def test_read_plan_prefers_content_over_name() -> None:
    assert read_plan("application/zip", "x.pdf") is not None
    assert read_plan("application/pdf", "x.zip") is None
    by_name = read_plan("application/octet-stream", "x.7z")
    assert by_name is not None and not by_name.by_content


def test_seven_zip_is_read() -> None:
    result = expand(build("7zip", [("tool.exe", pe_bytes())]), "tools.7z")
    assert [(m.display, m.content) for m in result.members] == [("tools.7z > tool.exe", pe_bytes())]


def test_an_unexpected_error_is_recorded_never_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("mailward.attachments._expand.libarchive.memory_reader", broken)
    result = expand(zipped(("a.txt", b"x")), "a.zip")
    assert result.errors == (("a.zip", "RuntimeError: boom"),)
    assert result.limit_hit is None and result.members == ()
