"""Office documents (OLE2, OOXML, RTF, SYLK): macros, remote templates, DDE, encryption.

Everything is read in memory: olevba gets the bytes (``VBA_Parser(label, data=...)``), msodde
gets an in-memory file, OOXML relationship parts are read with :mod:`zipfile` from a BytesIO.
Nothing is written to disk.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
import zipfile

import msoffcrypto

from mailward.attachments import windows_type
from mailward.detectors._documents_base import LIBRARY_LABEL, DocHit, shorten

with warnings.catch_warnings():
    # oletools calls pyparsing APIs that newer pyparsing marks deprecated, at import time.
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools import msodde, oleobj, olevba

log = logging.getLogger(__name__)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAX_PART = 4 * 1024 * 1024  # bytes read from one OOXML part
_MAX_PARTS = 2000
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
#: Relationship types that fetch and run or render remote content when the document opens.
_REMOTE_TYPES = ("attachedtemplate", "oleobject", "frame", "subdocument")
_RTF_TEMPLATE = re.compile(rb"\\\*\\template\s+([^}\s]+)", re.IGNORECASE)
_NOT_SUSPICIOUS = frozenset({"XLM macro", "VBA Stomping"})


def office_kind(content: bytes) -> str | None:
    """The Office container kind ("ole", "ooxml", "rtf", "slk") from the bytes, or None."""
    if content[:8] == OLE_MAGIC:
        return "ole"
    if content[:4] == b"PK\x03\x04" and _has_part(content, "[content_types].xml"):
        return "ooxml"
    if content[:4] == b"{\\rt":
        return "rtf"
    if content[:3] == b"ID;":
        return "slk"
    return None


def analyse_office(content: bytes) -> list[DocHit]:
    """Every documents hit for one Office file; [] for anything else."""
    kind = office_kind(content)
    if kind is None:
        return []
    hits: list[DocHit] = []
    if kind in ("ole", "ooxml") and _is_encrypted(content):
        hits.append(DocHit("DOC_ENCRYPTED", "is a password-protected Office document, which "
                           "hides its content from scanning"))  # fmt: skip
    if kind != "rtf":
        hits.extend(_macros(content, kind == "ooxml" and _has_part(content, "xl/macrosheets/")))
    if kind == "ooxml":
        hits.extend(_remote_relationships(content))
    if kind == "rtf":
        templates = [m.decode("latin-1") for m in _RTF_TEMPLATE.findall(content[:_MAX_PART])]
        remote = [t for t in templates if "://" in t or t.startswith("\\\\")]
        if remote:
            hits.append(_remote_hit("RTF template", remote))
    hits.extend(_dde(content, kind))
    if kind in ("ole", "ooxml"):
        hits.extend(_embedded_programs(content))
    return hits


_MAX_EMBEDDED = 50  # OLE objects looked at in one document


def embedded_packages(content: bytes) -> list[tuple[str, bytes]]:
    """(file name, bytes) of the files embedded as OLE Packages ("Ole10Native" streams) in an
    OLE2 or OOXML document, found by oletools' oleobj (``find_ole`` opens the document and the
    OLE objects in an OOXML one's parts; ``OleNativeStream`` reads the package)."""
    out: list[tuple[str, bytes]] = []
    try:
        for count, ole in enumerate(oleobj.find_ole("document", content)):
            if ole is None or count >= _MAX_EMBEDDED:
                continue
            try:
                for path in ole.listdir():
                    if path and path[-1] == "\x01Ole10Native":
                        native = oleobj.OleNativeStream(ole.openstream(path).read())
                        name = native.filename or native.src_path or native.temp_path or ""
                        out.append((str(name), bytes(native.data or b"")))
            finally:
                ole.close()
    except Exception as exc:  # a broken object is no finding; log what the library said
        log.debug("embedded objects unreadable: %s", exc)
    return out


def _embedded_programs(content: bytes) -> list[DocHit]:
    """DOC_EMBEDDED_EXECUTABLE for packages that Windows runs or opens as code on a double
    click: a program, script, shortcut... by content or by name (the Windows file-type table)."""
    found = []
    for name, data in embedded_packages(content):
        match = windows_type(name, data[:1_048_576])
        if match is not None and match.type.windows_does in ("runs_code", "shell_handler"):
            found.append(f"{shorten(name or '(unnamed)')}: {match.kind}")
    if not found:
        return []
    return [DocHit("DOC_EMBEDDED_EXECUTABLE", "embeds a file Windows runs when it is "
                   f"double-clicked in the document ({found[0]})", tuple(found[:10]))]  # fmt: skip


def _is_encrypted(content: bytes) -> bool:
    try:
        return bool(msoffcrypto.OfficeFile(io.BytesIO(content)).is_encrypted())
    except Exception:  # not an Office container msoffcrypto knows
        return False


def _macros(content: bytes, macrosheet: bool) -> list[DocHit]:
    try:
        parser = olevba.VBA_Parser(LIBRARY_LABEL, data=content, relaxed=True, disable_pcode=True)
    except olevba.FileOpenError:
        return []
    except Exception:  # a container olevba cannot read: other probes (DDE, templates) still run
        log.info("olevba could not read an Office attachment", exc_info=True)
        return []
    try:
        return _macro_hits(parser, macrosheet)
    except Exception:
        log.info("olevba failed while analysing macros", exc_info=True)
        return [DocHit("DOC_MACRO", "seems to contain macros that could not be analysed")]
    finally:
        parser.close()


def _macro_hits(parser: olevba.VBA_Parser, macrosheet: bool) -> list[DocHit]:
    hits: list[DocHit] = []
    vba = bool(parser.detect_vba_macros())
    xlm = macrosheet or bool(parser.contains_xlm_macros) or _xlm(parser)
    if not (vba or xlm):
        return hits
    results = parser.analyze_macros() or []
    auto = sorted({str(kw) for kind, kw, _ in results if kind == "AutoExec"})
    suspicious = sorted(
        {str(kw) for kind, kw, _ in results if kind == "Suspicious" and kw not in _NOT_SUSPICIOUS}
    )
    if vba:
        hits.append(DocHit("DOC_MACRO", "contains VBA macros"))
    if xlm:
        hits.append(DocHit("DOC_XLM_MACRO", "contains Excel 4.0 (XLM) macros, a favourite of "
                           "malware droppers"))  # fmt: skip
    if auto:
        reason = f"has a macro that runs by itself on open or close ({', '.join(auto[:5])})"
        hits.append(DocHit("DOC_MACRO_AUTOEXEC", reason, tuple(auto)))
    if suspicious:
        hits.append(DocHit("DOC_MACRO_SUSPICIOUS", "has macro code that can run programs, "
                           f"download or write files ({', '.join(suspicious[:6])})",
                           tuple(suspicious)))  # fmt: skip
    return hits


def _xlm(parser: olevba.VBA_Parser) -> bool:
    try:
        return bool(parser.detect_xlm_macros())
    except Exception:  # olevba's BIFF plugin fails on odd workbooks; VBA results still count
        log.debug("XLM detection failed", exc_info=True)
        return False


def _zip_parts(content: bytes, suffix: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of the OOXML parts whose name ends in ``suffix``, size-limited."""
    out: list[tuple[str, bytes]] = []
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for info in archive.infolist()[:_MAX_PARTS]:
                if info.filename.lower().endswith(suffix) and info.file_size <= _MAX_PART:
                    out.append((info.filename, archive.read(info)))
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError):
        return out
    return out


def _external_targets(rels: bytes) -> list[tuple[str, str]]:
    """(relationship type tail, target) of each external relationship in a .rels part."""
    found: list[tuple[str, str]] = []
    for tag in _RELATIONSHIP.findall(rels):
        attrs = {k.lower(): (a or b) for k, a, b in _ATTRIBUTE.findall(tag)}
        if attrs.get(b"targetmode", b"").lower() != b"external":
            continue
        kind = attrs.get(b"type", b"").decode("latin-1").rsplit("/", 1)[-1].lower()
        found.append((kind, attrs.get(b"target", b"").decode("utf-8", "replace")))
    return found


def _remote_relationships(content: bytes) -> list[DocHit]:
    remote: list[str] = []
    kinds: set[str] = set()
    for _, rels in _zip_parts(content, ".rels"):
        for kind, target in _external_targets(rels):
            if kind in _REMOTE_TYPES and target:
                kinds.add(kind)
                remote.append(target)
    if not remote:
        return []
    return [_remote_hit("external " + "/".join(sorted(kinds)), remote)]


def _remote_hit(what: str, targets: list[str]) -> DocHit:
    shown = tuple(dict.fromkeys(shorten(t) for t in targets))
    return DocHit(
        "DOC_REMOTE_TEMPLATE",
        f"loads a remote template or object when opened ({what}: {shown[0]})",
        shown,
    )


def _dde(content: bytes, kind: str) -> list[DocHit]:
    try:
        links = _dde_links(content, kind)
    except Exception:  # msodde raises many kinds of errors on odd files; macros still count
        log.debug("DDE scan failed", exc_info=True)
        return []
    fields = [line.strip() for line in links.splitlines() if line.strip()]
    if not fields:
        return []
    shown = tuple(shorten(f) for f in fields[:5])
    return [DocHit("DOC_DDE", f"has a DDE field that can run a command ({shown[0]})", shown)]


def _dde_links(content: bytes, kind: str) -> str:
    dde_only = msodde.FIELD_FILTER_DDE
    if kind == "ole":
        return str(msodde.process_file(content, dde_only))  # olefile reads bytes in memory
    if kind == "rtf":
        return str(msodde.process_rtf(io.BytesIO(content), dde_only))
    if kind == "ooxml":
        if _has_part(content, "xl/workbook"):
            return str(msodde.process_xlsx(io.BytesIO(content)))
        return str(msodde.process_docx(io.BytesIO(content), dde_only))
    return ""


def _has_part(content: bytes, prefix: str) -> bool:
    """Whether the OOXML package has a part whose name starts with ``prefix``."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return any(n.lower().startswith(prefix) for n in archive.namelist()[:_MAX_PARTS])
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError):
        return False
