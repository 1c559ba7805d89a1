"""PDF documents: JavaScript, launch actions, embedded files, link-only lures.

pypdf (``strict=False``) reads the catalog, name trees, pages and annotations. A raw scan of
the bytes (like pdfid: names counted after ``#xx`` hex escapes are decoded) backs it up: when
pypdf cannot parse the file, which is common for attack PDFs, the tokens alone still hit.

pypdf's cost grows with the number of objects (about 3 s of CPU for 200,000), so the objects
are counted first in the raw bytes ("obj" keywords that are not "endobj", plus the /N of
every object stream); above ``max_objects`` pypdf is skipped and the raw token scan alone
decides, and the finding says so.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections import Counter
from typing import Any

from pypdf import PasswordType, PdfReader
from pypdf.generic import DictionaryObject

from mailward.detectors._documents_base import DocHit, runnable_kind, shorten

log = logging.getLogger(__name__)
#: pypdf logs a warning for every malformed structure it reads past ("EOF marker not found",
#: "incorrect startxref pointer"): in attack PDFs that is normal, and on a gateway it would put
#: attacker-chosen noise in the operator's log (and on `mailward eval`'s screen). Its errors
#: still show; what the detector finds is in its findings.
logging.getLogger("pypdf").setLevel(logging.ERROR)

_NAME = re.compile(rb"/([A-Za-z0-9#_.\-]{1,64})")
_HEX = re.compile(rb"#([0-9A-Fa-f]{2})")
_TOKENS = ("JS", "JavaScript", "OpenAction", "AA", "Launch", "EmbeddedFile", "EmbeddedFiles")
_TOKEN_BYTES = {token.encode("latin-1"): token for token in _TOKENS}
#: token_counts reads the names of this many bytes at a time.
_NAME_WINDOW = 256 * 1024
_MAX_ANNOTS = 500
_MAX_EMBEDDED = 20
_OBJSTM_N = re.compile(rb"/N\s+(\d{1,9})")
#: Above this many objects pypdf is not run (a setting of the documents detector).
DEFAULT_MAX_OBJECTS = 50_000
LURE_TEXT_LIMIT = 300


def is_pdf(content: bytes) -> bool:
    """A PDF by its header (within the first KB, as readers accept)."""
    return b"%PDF-" in content[:1024]


def token_counts(content: bytes) -> Counter[str]:
    """How often each telling PDF name occurs in the raw bytes, hex escapes decoded."""
    counts: Counter[str] = Counter()
    start = 0
    while start < len(content):
        # a name holds no "/" but its first, so none crosses a cut made at a "/"; the cuts
        # bound the names held at once (each distinct one is decoded once per window)
        end = content.find(b"/", start + _NAME_WINDOW)
        end = len(content) if end < 0 else end
        for raw, seen in Counter(_NAME.findall(content, start, end)).items():
            name = _HEX.sub(_unescape, raw) if b"#" in raw else raw
            token = _TOKEN_BYTES.get(name)
            if token is not None:
                counts[token] += seen
        start = end
    return counts


def _unescape(match: re.Match[bytes]) -> bytes:
    return bytes([int(match.group(1), 16)])


def object_count(content: bytes) -> int:
    """About how many objects the PDF has, from its raw bytes (cheap: no parsing)."""
    count = content.count(b"obj") - content.count(b"endobj")
    start = content.find(b"/ObjStm")
    while start != -1:  # objects packed in object streams carry no "obj" keyword
        window = content[max(0, start - 200) : start + 200]
        count += sum(int(n) for n in _OBJSTM_N.findall(window)[:1])
        start = content.find(b"/ObjStm", start + 7)
    return count


def analyse_pdf(content: bytes, max_objects: int = DEFAULT_MAX_OBJECTS) -> list[DocHit]:
    """Every documents hit for one PDF; [] for anything else."""
    if not is_pdf(content):
        return []
    counts = token_counts(content)
    objects = object_count(content)
    if objects > max_objects:
        log.debug("PDF with %d objects: raw token scan only", objects)
        note = (
            f" (found by a raw scan of the bytes: with about {objects} objects the file "
            "is too large to parse)"
        )
        return _from_tokens(counts, parsed=False, note=note)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _parsed(PdfReader(io.BytesIO(content), strict=False), counts)
    except Exception:  # malformed PDFs are common in attacks: fall back to the raw tokens
        log.debug("pypdf could not read the PDF; using the raw token scan", exc_info=True)
        return _from_tokens(counts, parsed=False)


def _from_tokens(counts: Counter[str], parsed: bool, note: str = "") -> list[DocHit]:
    """Hits from raw tokens; weaker when pypdf read the file and found no such action."""
    why = "has" if not parsed else "carries unreferenced"
    factor = 1.0 if not parsed else 0.5
    if not (parsed or note):
        note = " (the file is malformed, which hides it from some scanners)"
    hits: list[DocHit] = []
    if counts["JS"] or counts["JavaScript"]:
        auto = () if parsed else tuple(f"/{t}" for t in ("OpenAction", "AA") if counts[t])
        when = " that may run when the file is opened or used" if auto else ""
        hits.append(DocHit("PDF_JAVASCRIPT", f"{why} JavaScript{when}{note}",
                           ("/JavaScript", *auto), factor))  # fmt: skip
    if counts["Launch"]:
        hits.append(DocHit("PDF_LAUNCH", f"{why} a Launch action that starts a program{note}",
                           ("/Launch",), factor))  # fmt: skip
    if counts["EmbeddedFile"] or counts["EmbeddedFiles"]:
        hits.append(DocHit("PDF_EMBEDDED_FILE", f"{why} embedded files{note}",
                           ("/EmbeddedFile",), factor * 0.8))  # fmt: skip
    return hits


def _parsed(reader: PdfReader, counts: Counter[str]) -> list[DocHit]:
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        # Only an owner password (printing/copying limits) opens with "": that is no hiding.
        hidden = DocHit("PDF_ENCRYPTED", "needs a password to open, which hides its content "
                        "from scanning")  # fmt: skip
        return [hidden, *_from_tokens(counts, parsed=False)]
    catalog = _resolve(reader.trailer["/Root"])
    if not isinstance(catalog, DictionaryObject):
        raise ValueError("the PDF has no catalog")
    actions = _actions_of(catalog)
    annots = _annotations(reader)
    for annot in annots:
        actions.extend(_actions_of(annot))
    hits = _action_hits(actions, _document_javascript(catalog))
    hits.extend(_embedded(reader, catalog, annots))
    symbols = {h.symbol for h in hits}
    hits.extend(h for h in _from_tokens(counts, parsed=True) if h.symbol not in symbols)
    lure = _link_lure(reader, annots)
    if lure is not None:
        hits.append(lure)
    return hits


def _resolve(value: Any) -> Any:
    return value.get_object() if hasattr(value, "get_object") else value


def _actions_of(holder: Any) -> list[DictionaryObject]:
    """The action dictionaries of an object's /A, /OpenAction and /AA entries, /Next followed."""
    holder = _resolve(holder)
    if not isinstance(holder, DictionaryObject):
        return []
    found: list[Any] = [holder.get("/A"), holder.get("/OpenAction")]
    extra = _resolve(holder.get("/AA"))
    if isinstance(extra, DictionaryObject):
        found.extend(extra.values())
    out: list[DictionaryObject] = []
    queue = [_resolve(a) for a in found]
    while queue and len(out) < 100:
        action = _resolve(queue.pop())
        if isinstance(action, DictionaryObject):
            out.append(action)
            nxt = _resolve(action.get("/Next"))
            queue.extend(nxt if isinstance(nxt, list) else [nxt])
    return out


def _document_javascript(catalog: DictionaryObject) -> bool:
    """Whether the catalog's name dictionary holds document-level JavaScript (runs on open)."""
    names = _resolve(catalog.get("/Names"))
    return isinstance(names, DictionaryObject) and "/JavaScript" in names


def _annotations(reader: PdfReader) -> list[DictionaryObject]:
    out: list[DictionaryObject] = []
    for page in list(reader.pages)[:50]:
        if "/AA" in page:
            out.append(page)
        for item in _resolve(page.get("/Annots")) or []:
            annot = _resolve(item)
            if isinstance(annot, DictionaryObject):
                out.append(annot)
            if len(out) >= _MAX_ANNOTS:
                return out
    return out


def _action_hits(actions: list[DictionaryObject], document_js: bool) -> list[DocHit]:
    hits: list[DocHit] = []
    kinds = {str(a.get("/S", "")) for a in actions} | {"/JavaScript" for a in actions if "/JS" in a}
    if "/JavaScript" in kinds or document_js:
        hits.append(DocHit("PDF_JAVASCRIPT", "runs JavaScript when opened or when a page or "
                           "field is used", ("/JavaScript",)))  # fmt: skip
    launch = [a for a in actions if str(a.get("/S", "")) == "/Launch"]
    if launch:
        target = _launch_target(launch[0])
        hits.append(DocHit("PDF_LAUNCH", f"has a Launch action that starts a program ({target})",
                           (target,)))  # fmt: skip
    return hits


def _launch_target(action: DictionaryObject) -> str:
    for key in ("/F", "/Win"):
        value = _resolve(action.get(key))
        if isinstance(value, DictionaryObject):
            value = _resolve(value.get("/F") or value.get("/UF"))
        if value:
            return shorten(str(value))
    return "unknown target"


def _embedded(reader: PdfReader, catalog: DictionaryObject, annots: list[Any]) -> list[DocHit]:
    names = _resolve(catalog.get("/Names"))
    tree = isinstance(names, DictionaryObject) and "/EmbeddedFiles" in names
    attached = any(str(a.get("/Subtype", "")) == "/FileAttachment" for a in annots)
    if not (tree or attached):
        return []
    files: list[tuple[str, bytes]] = []
    try:
        for name, contents in list(reader.attachments.items())[:_MAX_EMBEDDED]:
            files.extend((name, data) for data in contents)
    except Exception:  # a broken name tree still means an embedded file
        log.debug("could not read the PDF's embedded files", exc_info=True)
    shown = tuple(shorten(n, 100) for n, _ in files) or ("embedded file",)
    for name, data in files:
        kind = runnable_kind(data)
        if kind is not None:
            return [DocHit("PDF_EMBEDDED_FILE", f'carries an embedded file "{shorten(name, 100)}" '
                           f"that is {kind}", shown, 1.0)]  # fmt: skip
    return [DocHit("PDF_EMBEDDED_FILE", f"carries embedded files ({', '.join(shown[:3])})",
                   shown, 0.5)]  # fmt: skip


def _link_lure(reader: PdfReader, annots: list[Any]) -> DocHit | None:
    if len(reader.pages) != 1:
        return None
    uris: list[str] = []
    for annot in annots:
        action = _resolve(annot.get("/A"))
        if str(annot.get("/Subtype", "")) == "/Link" and isinstance(action, DictionaryObject):
            uri = str(_resolve(action.get("/URI")) or "")
            if uri.lower().startswith(("http://", "https://")):
                uris.append(uri)
    if not uris:
        return None
    text = reader.pages[0].extract_text() or ""
    if len(text.strip()) >= LURE_TEXT_LIMIT:
        return None
    shown = tuple(dict.fromkeys(shorten(u) for u in uris))
    return DocHit("PDF_LINK_LURE", "is a one-page PDF with little text whose point is a link "
                  f"({shown[0]})", shown)  # fmt: skip
