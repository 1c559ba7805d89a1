"""MIME ambiguity: a message that mail programs may read in different ways.

The parser (:mod:`mailward.mime`) finds the ambiguities and scans every reading; this detector
reports what it found, from ``ParsedMessage.ambiguities``.

Detects
  - duplicate Content-Type, Content-Transfer-Encoding or Content-Disposition headers, or a
    repeated boundary parameter, with different values;
  - file names that disagree (RFC 2231 ``filename*`` against ``filename``, ``name`` against
    ``filename``); boundaries whose quoting reads several ways or that prefix one another;
  - junk or data after the padding in base64; MIME hidden in a preamble or an epilogue;
    an encoding declared on a multipart or an attached message; no closing delimiter;
    a lone CR ending a header or delimiter line; a header line that is not header syntax;
  - the quirks only a lenient mail program repairs (an unknown transfer encoding, a
    Content-Type that is not type/subtype syntax, a "--line" followed by headers that no
    boundary delimits, headers without a blank line after them or hidden in a fold, a
    uuencoded/yEnc/BinHex file in a text body, base64 of odd length, invalid quoted-printable):
    every such message is also read by the lenient reading (:mod:`mailward.mime._salvage`);
  - content (an attachment or a link) that another reading shows and the plain reading does
    not: someone built the message to show a scanner one thing and the reader another;
  - readings that could not all be built (too many, too large, unparseable): content may be
    hidden from the scan, so the message is held (DESIGN: "when the readings cannot all be
    built, quarantine as ambiguous").

Symbols (default weight, group "mime")
  MIME_AMBIGUOUS       3  the message can be read in several ways; factor by the strongest
                          ambiguity (1.0 for conflicting headers or names, 0.3 for a missing
                          closing delimiter)
  MIME_HIDDEN_CONTENT  7  another reading shows an attachment or a link the plain one hides
  MIME_READINGS_INCOMPLETE
                       0  not every reading could be built; forced to quarantine by the
                          default ``[policy] force``

Settings ``[detectors.mime_ambiguity]``
  ignore  ambiguity codes never reported (e.g. ["no_close_boundary"]); see
          :mod:`mailward.mime._ambiguity` for the codes. Default none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from mailward.engine.contract import DetectorSettings, ScanContext, SymbolSpec
from mailward.mime._ambiguity import SEVERITY
from mailward.model import Finding, ParsedMessage

_GROUP = "mime"
_HIDDEN = ("hidden_attachment", "hidden_link")
_INCOMPLETE = "readings_incomplete"


class MimeAmbiguitySettings(DetectorSettings):
    """Options of the MIME ambiguity detector."""

    ignore: tuple[str, ...] = ()


class MimeAmbiguityDetector:
    """Reports messages whose MIME structure has several readings."""

    name: ClassVar[str] = "mime_ambiguity"
    symbols: ClassVar[Mapping[str, SymbolSpec]] = {
        "MIME_AMBIGUOUS": SymbolSpec(
            3.0, _GROUP, "The message's MIME structure can be read in several ways."
        ),
        "MIME_HIDDEN_CONTENT": SymbolSpec(
            7.0, _GROUP, "Another reading of the message shows content the plain reading hides."
        ),
        "MIME_READINGS_INCOMPLETE": SymbolSpec(
            0.0, _GROUP, "Not every reading of an ambiguous message could be built and scanned."
        ),
    }
    timeout: ClassVar[float] = 1.0
    fail_closed: ClassVar[bool] = False
    Settings: ClassVar[type[MimeAmbiguitySettings]] = MimeAmbiguitySettings

    def __init__(self, settings: MimeAmbiguitySettings) -> None:
        self.settings = settings

    async def check(self, msg: ParsedMessage, ctx: ScanContext) -> Sequence[Finding]:
        found = [_split(note) for note in msg.ambiguities]
        found = [(code, text) for code, text in found if code not in self.settings.ignore]
        shapes = [(c, t) for c, t in found if c not in (*_HIDDEN, _INCOMPLETE)]
        hidden = [(c, t) for c, t in found if c in _HIDDEN]
        incomplete = [t for c, t in found if c == _INCOMPLETE]
        findings: list[Finding] = []
        if shapes:
            factor = max(SEVERITY.get(code, 1.0) for code, _ in shapes)
            findings.append(
                Finding(
                    symbol="MIME_AMBIGUOUS",
                    explanation=shapes[0][1]
                    + (f" ({len(shapes) - 1} more ambiguities.)" if len(shapes) > 1 else ""),
                    evidence=tuple(code for code, _ in shapes),
                    factor=factor,
                )
            )
        if hidden:
            findings.append(
                Finding(
                    symbol="MIME_HIDDEN_CONTENT",
                    explanation=hidden[0][1][0].upper() + hidden[0][1][1:]
                    + "; the message was built to show a scanner and a reader different things.",
                    evidence=tuple(text for _, text in hidden[:10]),
                )
            )
        if incomplete:
            findings.append(
                Finding(
                    symbol="MIME_READINGS_INCOMPLETE",
                    explanation=incomplete[0][0].upper() + incomplete[0][1:],
                    evidence=(_INCOMPLETE,),
                )
            )
        return findings


def _split(note: str) -> tuple[str, str]:
    code, _, text = note.partition(": ")
    return code.strip(), text.strip() or code.strip()
