"""Windows-script indicators in a file's text (WScript.Shell, encoded PowerShell, download
cradles...), for the attachment, archive and document detectors and for disarm.

Each indicator is a case-insensitive pattern, an alternation of a few alternatives. Speed, with
the same answers as searching each whole pattern over the text:

- a pattern runs only when one of its words (:data:`INDICATOR_WORDS`) is in the lower-cased
  text, so a large harmless text costs one pass of an Aho-Corasick automaton over all the
  words (``ahocorasick_rs``; a substring search for each word without it), not 13 regexes that
  each try a word boundary at every position;
- an alternative that begins with a word boundary and a literal word (``\\biex\\s*[($]``) can
  only match where that word occurs, so it is tried (``match``) only there. Those places are
  found in the lower-cased text by ``str.find``; they are the text's own places when the text
  was read as Latin-1 (one character per byte: lower-casing keeps every character one
  character, and an ASCII letter matches, ignoring case, only its two ASCII forms there: the
  other characters that fold to ASCII letters, such as the Kelvin sign or the dotless i, lie
  above U+00FF). A text read as UTF-16 is searched the plain way;
- the other alternatives are searched as they are (each alone: one that starts with "|" or "-"
  gets the regex engine's own literal search), and a label is found when any alternative is.
"""

from __future__ import annotations

import re

try:  # one pass for all the indicator words; a substring search per word without it
    import ahocorasick_rs
except ImportError:  # pragma: no cover - a declared dependency
    ahocorasick_rs = None  # type: ignore[assignment]

#: Bytes of a file read for indicators.
SCAN_BYTES = 1_048_576
#: label -> alternatives, each (regex, the words one of which it starts with, after a word
#: boundary, or () when it does not start so).
_ALTERNATIVES: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    ("WScript.Shell", ((r"\bwscript\.shell\b", ("wscript.shell",)),)),
    ("ActiveXObject", ((r"\bnew\s+ActiveXObject\s*\(", ("new",)),)),
    ("CreateObject", ((r"\bcreateobject\s*\(\s*[\"'](?:wscript|shell\.|scripting\.|msxml2\.|"
                       r"microsoft\.xmlhttp|winhttp|adodb\.)", ("createobject",)),)),
    ("WScript object", ((r"\bwscript\.(?:sleep|arguments|scriptfullname|quit|createobject)\b",
                         ("wscript.",)),)),
    ("encoded PowerShell", ((r"\bpowershell(?:\.exe)?\b[^\n]{0,80}?\s-e(?:nc?|ncodedcommand|c)?"
                             r"\s+[a-z0-9+/=]{16,}", ("powershell",)),)),
    ("PowerShell policy bypass", ((r"-(?:ep|exec|executionpolicy)\s+bypass\b", ()),)),
    ("Invoke-Expression", (
        (r"\binvoke-expression\b", ("invoke-expression",)),
        (r"\biex\s*[($]", ("iex",)),
        (r"\|\s*iex\b", ()),
    )),
    ("Start-Process", ((r"\bstart-process\b", ("start-process",)),)),
    ("download cradle", (
        (r"\bnet\.webclient\b", ("net.webclient",)),
        (r"\bdownload(?:string|file|data)\s*\(", ("download",)),
        (r"\binvoke-webrequest\b", ("invoke-webrequest",)),
        (r"\bstart-bitstransfer\b", ("start-bitstransfer",)),
    )),
    ("FromBase64String", ((r"\bfrombase64string\s*\(", ("frombase64string",)),)),
    ("ADODB.Stream", ((r"\badodb\.stream\b", ("adodb.stream",)),)),
    ("system tool abuse", (
        (r"\b(?:mshta|regsvr32|rundll32)(?:\.exe)?\s", ("mshta", "regsvr32", "rundll32")),
        (r"\bcertutil(?:\.exe)?\s+-(?:decode|urlcache)\b", ("certutil",)),
        (r"\bbitsadmin(?:\.exe)?\s+/transfer\b", ("bitsadmin",)),
    )),
    ("obfuscated eval", ((r"\beval\s*\(\s*(?:unescape|atob|string\.fromcharcode)\b", ("eval",)),)),
)  # fmt: skip
#: Each indicator's whole pattern (its alternatives joined), case-insensitive.
SCRIPT_INDICATORS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile("|".join(regex for regex, _ in alternatives), re.IGNORECASE))
    for label, alternatives in _ALTERNATIVES
)
_COMPILED: tuple[tuple[str, tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]], ...] = tuple(
    (label, tuple((re.compile(regex, re.IGNORECASE), words) for regex, words in alternatives))
    for label, alternatives in _ALTERNATIVES
)
#: Words one of which each indicator's pattern needs (lower case).
INDICATOR_WORDS: dict[str, tuple[str, ...]] = {
    "WScript.Shell": ("wscript.shell",),
    "ActiveXObject": ("activexobject",),
    "CreateObject": ("createobject",),
    "WScript object": ("wscript.",),
    "encoded PowerShell": ("powershell",),
    "PowerShell policy bypass": ("bypass",),
    "Invoke-Expression": ("invoke-expression", "iex"),
    "Start-Process": ("start-process",),
    "download cradle": ("webclient", "download", "invoke-webrequest", "start-bitstransfer"),
    "FromBase64String": ("frombase64string",),
    "ADODB.Stream": ("adodb.stream",),
    "system tool abuse": ("mshta", "regsvr32", "rundll32", "certutil", "bitsadmin"),
    "obfuscated eval": ("eval",),
}


_ALL_WORDS = sorted({word for words in INDICATOR_WORDS.values() for word in words})
_WORD_FINDER = ahocorasick_rs.AhoCorasick(_ALL_WORDS) if ahocorasick_rs is not None else None


def words_in(lowered: str) -> set[str]:
    """The indicator words that occur in ``lowered`` (as ``word in lowered`` tells)."""
    if _WORD_FINDER is None:
        return {word for word in _ALL_WORDS if word in lowered}
    return set(_WORD_FINDER.find_matches_as_strings(lowered, overlapping=True))


def text_of(content: bytes) -> tuple[str, bool]:
    """(the text of the first :data:`SCAN_BYTES` of ``content``, read as Latin-1?)."""
    head = content[:SCAN_BYTES]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return head.decode("utf-16", errors="replace"), False
    return head.decode("latin-1"), True


def _starts_at_word(
    pattern: re.Pattern[str], words: tuple[str, ...], text: str, lowered: str
) -> bool:
    """``pattern`` (which starts with a word boundary and one of ``words``) matches at one of
    the places where one of ``words`` occurs in ``lowered``, the Latin-1 ``text`` lower-cased."""
    for word in words:
        at = lowered.find(word)
        while at != -1:
            if pattern.match(text, at):
                return True
            at = lowered.find(word, at + 1)
    return False


def script_indicators(content: bytes) -> list[str]:
    """Labels of the Windows-script indicators found in ``content``, in a fixed order."""
    text, latin1 = text_of(content)
    lowered = text.lower()
    present = words_in(lowered)
    found = []
    for label, alternatives in _COMPILED:
        if present.isdisjoint(INDICATOR_WORDS[label]):
            continue
        for pattern, words in alternatives:
            if (
                _starts_at_word(pattern, words, text, lowered)
                if words and latin1
                else pattern.search(text)
            ):
                found.append(label)
                break
    return found
