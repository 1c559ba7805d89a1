"""Candidate archive passwords from the text of a message.

Senders of encrypted archives put the password in the body ("Password: 4471", "senha: abc",
'use "x9k2" to open'). The candidates are the word after a password keyword (skipping "is",
":", "for the file"...), then short quoted tokens; at most ``limit`` of them, in that order.
"""

from __future__ import annotations

import re

_KEYWORDS = re.compile(
    r"(?<![\w])(?:password|passwort|passwd|kennwort|wachtwoord|senha|contrase[ñn]a|clave"
    r"|mot\s+de\s+passe|pwd|pass|pw)(?![\w])",
    re.IGNORECASE,
)
_FILLER = frozenset(
    ("is", "ist", "es", "est", "é", "será", "sera", "to", "for", "of", "the", "this", "that",
     "file", "files", "archive", "zip", "rar", "attachment", "attached", "document", "documento",
     "do", "da", "del", "de", "du", "le", "la", "el", "o", "a", "an", "des", "arquivo", "archivo",
     "fichier", "datei", "die", "der", "das", "für", "zum", "zur", "lautet", "und", "and",
     "please", "use", "it", "open", "opening")
)  # fmt: skip
_QUOTES = "\"'`\u2018\u2019\u201c\u201d\u00ab\u00bb"
_QUOTED = re.compile(f"[{_QUOTES}]([^\\s{_QUOTES}]{{3,32}})[{_QUOTES}]")
_EDGE = ".,;:!?()[]{}<>*=-" + _QUOTES
_MAX_TOKEN = 64


def _after_keyword(text: str, start: int) -> str | None:
    """The first token after a keyword that is not a filler word or separator."""
    for token in text[start : start + 120].split()[:8]:
        cleaned = token.strip(_EDGE)
        if not cleaned or cleaned.lower() in _FILLER:
            continue
        return cleaned if len(cleaned) <= _MAX_TOKEN else None
    return None


def find_passwords(text: str, limit: int = 10) -> list[str]:
    """Up to ``limit`` distinct candidate passwords found in ``text``, likeliest first."""
    found: dict[str, None] = {}
    for match in _KEYWORDS.finditer(text):
        candidate = _after_keyword(text, match.end())
        if candidate:
            found.setdefault(candidate)
        if len(found) >= limit:
            return list(found)[:limit]
    for match in _QUOTED.finditer(text):
        found.setdefault(match.group(1))
        if len(found) >= limit:
            break
    return list(found)[:limit]
