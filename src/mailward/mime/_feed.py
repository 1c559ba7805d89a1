"""The stdlib's email parser (``email.feedparser``), for a message that is all there at once.

:class:`email.feedparser.FeedParser` is written for data arriving in pieces: every line goes
through a Python generator, and every line of a part nested in a multipart is tested against
the boundary pattern of each enclosing multipart (compiled once per multipart), one line at a
time. Here the message's text is whole, so a part's body is found by searching the text for
the next line that starts with ``--`` and testing only those lines; header lines, a
multipart's preamble and its delimiter lines are still read one at a time.

The parse is the stdlib's, step for step: the same lines (ends ``\\r\\n``, ``\\r`` or ``\\n``),
the same header and boundary tests, the same defects, preambles, epilogues and trailing line
ends, the same message objects built through the same calls (the policy's
``header_source_parse`` and ``handle_defect``, ``set_raw``, ``attach``, ``set_payload``).
``tests/mime/test_mime_feed.py`` compares the trees on crafted and random messages. Two things
fall back to the stdlib parser: a message nested deeper than :data:`MAX_NESTING` (the stdlib
recurses there and may raise RecursionError; this parser must not differ on that), and a
``message/delivery-status`` part (its blank-line rule is kept only in the stdlib's code); so
does any message on which this parser raises (the stdlib parser then raises, or not, itself).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from email import errors
from email.message import Message
from email.parser import BytesParser
from email.policy import Compat32

from mailward.mime._rawscan import RawScan

#: ``email.feedparser.headerRE``: a header line, a continuation line or a Unix "From " line.
HEADER_LINE = re.compile(r"^(From |[\041-\071\073-\176]*:|[\t ])")

#: A run of lines that :data:`HEADER_LINE` each matches, from where the match starts, in a
#: text whose lines all end at a LF (or at its end).
_HEADER_RUN = re.compile(r"(?:(?:From |[\041-\071\073-\176]*:|[\t ])[^\n]*(?:\n|\Z))*")
#: A header of such a run that starts with a name and a colon (below, :data:`_ODD_LINE`): its
#: name, and its value from the first non-blank after the colon through its continuation
#: lines (what Compat32's ``header_source_parse`` keeps, before the line end is stripped).
_HEADER = re.compile(r"([^:\n]*):[ \t]*([^\n]*\n?(?:[ \t][^\n]*\n?)*)")
#: Lines of a header run that :meth:`_Parser._parse_headers` treats apart (a Unix "From "
#: line, a line with no name before its colon) or that may be a boundary's delimiter line.
_ODD_LINE = re.compile(r"\n(?:From |:|--)")
#: The same at the first line, or a first line that continues nothing.
_ODD_FIRST = ("From ", ":", "--", " ", "\t")

#: Deeper nesting than this is left to the stdlib parser.
MAX_NESTING = 100

_IDENTITY_CTE = ("7bit", "8bit", "binary")
_LINE_ENDS = ("\r", "\n")


class _Fallback(Exception):
    """This message is left to the stdlib parser."""


def parse_bytes(raw: bytes, policy: Compat32, scan: RawScan | None = None) -> Message:
    """``BytesParser(policy=policy).parsebytes(raw)``, the same tree, faster. ``scan``: the
    facts about ``raw`` found already (its lines that start with "--", its bare CRs)."""
    text = raw.decode("ascii", "surrogateescape")
    try:
        return _Parser(text, policy, scan).parse()
    except MemoryError:
        raise
    except Exception:  # _Fallback, or whatever the stdlib parser is to say itself
        return BytesParser(policy=policy).parsebytes(raw)


def _boundary_match(line: str, sep: str) -> tuple[bool, str | None] | None:
    """What ``(?P<sep>SEP)(?P<end>--)?(?P<ws>[ \\t]*)(?P<linesep>\\r\\n|\\r|\\n)?$`` matches in a
    line: None, or (the "--" of a closing delimiter is there, the line end or None)."""
    if not line.startswith(sep):
        return None
    rest = line[len(sep) :]
    linesep: str | None = None
    if rest.endswith("\r\n"):
        rest, linesep = rest[:-2], "\r\n"
    elif rest.endswith(("\r", "\n")):
        rest, linesep = rest[:-1], rest[-1]
    end = rest.startswith("--")
    if rest[2 if end else 0 :].strip(" \t"):
        return None
    return end, linesep


class _Parser:
    """FeedParser's state (message stack, current and last message, false-EOF stack) over the
    whole text: ``pos`` is where the next line starts, ``pushed`` the lines pushed back."""

    def __init__(self, text: str, policy: Compat32, scan: RawScan | None = None) -> None:
        self.text = text
        self.pos = 0
        self.pushed: list[str] = []
        self.eofs: list[str] = []  # the "--boundary" of each enclosing multipart, outermost first
        self.policy = policy
        self.stack: list[Message] = []
        self.cur: Message | None = None
        self.last: Message | None = None
        # every line ends after a LF (or at the end of the text): no CR without a LF after it
        self.lf_lines = scan is not None and not scan.bare_cr
        factory = policy.message_factory or Message
        self.plain_store = (
            type(policy).header_source_parse is Compat32.header_source_parse
            and getattr(factory, "set_raw", None) is Message.set_raw
        )
        self.after_lf: Callable[[int], int] = (
            _Finder(text, "\n--") if scan is None else _DashLines(scan.dash_lines)
        )
        # "\r--" holds a CR not followed by LF: without one, there is nothing to look for
        self.after_cr: Callable[[int], int] = (
            _Finder(text, "\r--") if scan is None or scan.bare_cr else _nowhere
        )

    # -- BufferedSubFile --------------------------------------------------------------------

    def _is_eof(self, line: str) -> bool:
        if line[:2] != "--":
            return False
        return any(_boundary_match(line, sep) is not None for sep in self.eofs)

    def readline(self) -> str:
        if self.pushed:
            line = self.pushed.pop()
            if line and self._is_eof(line):
                self.pushed.append(line)
                return ""
            return line
        if self.pos >= len(self.text):
            return ""
        end = _line_end(self.text, self.pos)
        line = self.text[self.pos : end]
        if self.eofs and self._is_eof(line):
            return ""
        self.pos = end
        return line

    def unreadline(self, line: str) -> None:
        self.pushed.append(line)

    def rest(self) -> str:
        """Every line up to the (false) end of file, read and joined (``for line in input``)."""
        if self.pushed:
            lines = []
            while line := self.readline():
                lines.append(line)
                if not self.pushed:
                    lines.append(self._rest_of_text())
                    break
            return "".join(lines)
        return self._rest_of_text()

    def _rest_of_text(self) -> str:
        start, text = self.pos, self.text
        stop = len(text)
        if self.eofs:
            at = start if text.startswith("--", start) else self._next_dash_line(start)
            while at >= 0:
                if self._is_eof(text[at : _line_end(text, at)]):
                    stop = at
                    break
                at = self._next_dash_line(at)
        self.pos = stop
        return text[start:stop]

    def _next_dash_line(self, pos: int) -> int:
        """Where the first line after ``pos`` that starts with "--" starts, or -1 (a "--" after
        a LF, or after a CR, which then ends a line since a "-" follows it)."""
        found = [f for f in (self.after_lf(pos), self.after_cr(pos)) if f >= 0]
        return min(found) + 1 if found else -1

    # -- FeedParser -------------------------------------------------------------------------

    def parse(self) -> Message:
        self._parsegen(0)
        root = self._pop_message()
        if root.get_content_maintype() == "multipart" and not root.is_multipart():
            self.policy.handle_defect(root, errors.MultipartInvariantViolationDefect())
        return root

    def _new_message(self) -> None:
        msg = (self.policy.message_factory or Message)(policy=self.policy)
        if self.cur is not None and self.cur.get_content_type() == "multipart/digest":
            msg.set_default_type("message/rfc822")
        if self.stack:
            self.stack[-1].attach(msg)
        self.stack.append(msg)
        self.cur = msg
        self.last = msg

    def _pop_message(self) -> Message:
        msg = self.stack.pop()
        self.cur = self.stack[-1] if self.stack else None
        return msg

    def _parsegen(self, depth: int) -> None:  # noqa: PLR0915 (FeedParser._parsegen, whole)
        if depth > MAX_NESTING:
            raise _Fallback
        self._new_message()
        cur = self.cur
        assert cur is not None
        self._read_headers(cur)
        ctype = cur.get_content_type()
        if ctype == "message/delivery-status":
            raise _Fallback
        maintype = ctype.split("/")[0]  # get_content_maintype()
        if maintype == "message":
            self._parsegen(depth + 1)
            self._pop_message()
            return
        if maintype != "multipart":
            cur.set_payload(self.rest())
            return
        boundary = cur.get_boundary()
        if boundary is None:
            self.policy.handle_defect(cur, errors.NoBoundaryInMultipartDefect())
            cur.set_payload(self.rest())
            return
        if str(cur.get("content-transfer-encoding", "8bit")).lower() not in _IDENTITY_CTE:
            self.policy.handle_defect(cur, errors.InvalidMultipartContentTransferEncodingDefect())
        separator = "--" + boundary
        capturing_preamble = True
        preamble: list[str] = []
        linesep: str | None = None
        close_boundary_seen = False
        while line := self.readline():
            mo = _boundary_match(line, separator)
            if mo is None:
                if not capturing_preamble:
                    raise AssertionError  # as FeedParser's assert
                preamble.append(line)
                continue
            if mo[0]:
                close_boundary_seen = True
                linesep = mo[1]
                break
            if capturing_preamble:
                if preamble:
                    size = _line_end_size(preamble[-1])
                    if size:
                        preamble[-1] = preamble[-1][:-size]
                    cur.preamble = "".join(preamble)
                capturing_preamble = False
                self.unreadline(line)
                continue
            while True:  # repeated delimiter lines open no part
                line = self.readline()
                if _boundary_match(line, separator) is None:
                    self.unreadline(line)
                    break
            self.eofs.append(separator)
            self._parsegen(depth + 1)
            self._trim_last()
            self.eofs.pop()
            self._pop_message()
            self.last = self.cur
        if capturing_preamble:
            self.policy.handle_defect(cur, errors.StartBoundaryNotFoundDefect())
            cur.set_payload("".join(preamble))
            self.rest()
            cur.epilogue = ""
            return
        if not close_boundary_seen:
            self.policy.handle_defect(cur, errors.CloseBoundaryNotFoundDefect())
            return
        # everything to the end is the epilogue; without a line end after the close delimiter,
        # a line end at its start belongs to the delimiter
        epilogue = self.rest()
        if not linesep and epilogue[:1] in _LINE_ENDS:  # NLCRE_bol.match(epilogue)
            epilogue = epilogue[2:] if epilogue.startswith("\r\n") else epilogue[1:]
        cur.epilogue = epilogue

    def _trim_last(self) -> None:
        """The line end before a delimiter belongs to the delimiter (RFC 2046)."""
        last = self.last
        assert last is not None
        if last.get_content_maintype() == "multipart":
            epilogue = last.epilogue
            if epilogue == "":
                last.epilogue = None
            elif epilogue is not None:
                size = _line_end_size(epilogue)
                if size:
                    last.epilogue = epilogue[:-size]
        else:
            payload = last._payload  # type: ignore[attr-defined]
            if isinstance(payload, str):
                size = _line_end_size(payload)
                if size:
                    last._payload = payload[:-size]  # type: ignore[attr-defined]

    def _read_headers(self, cur: Message) -> None:
        """``self._parse_headers(self._header_lines(cur))``: the part's header lines read and
        its headers stored.

        The usual block (every line ends at a LF, none is pushed back, Compat32's header
        store, no line read apart by :data:`_ODD_LINE`/:data:`_ODD_FIRST`) is read by two
        patterns: the run of header lines by :data:`_HEADER_RUN`, each header's name and
        value by :data:`_HEADER`, instead of a Python step per line; the line after the run
        is then read by :meth:`_header_lines` as before (it ends the block). Any other block
        is read line by line.
        """
        if self.plain_store and self.lf_lines and not self.pushed:
            text, start = self.text, self.pos
            run = _HEADER_RUN.match(text, start)
            end = start if run is None else run.end()
            if not (text.startswith(_ODD_FIRST, start) or _ODD_LINE.search(text, start, end)):
                self.pos = end
                if self._header_lines(cur):  # cannot be: the run stopped before a non-header
                    raise AssertionError("header lines after a header run")
                cur._headers.extend(  # type: ignore[attr-defined]
                    [(m[1], m[2].rstrip("\r\n")) for m in _HEADER.finditer(text, start, end)]
                )
                return
        self._parse_headers(self._header_lines(cur))

    def _header_lines(self, cur: Message) -> list[str]:
        """The header lines of the part that starts here; the line that ends them is read
        too (a blank line) or pushed back (MissingHeaderBodySeparatorDefect)."""
        if self.pushed or not self.lf_lines:
            return self._header_lines_read(cur)
        # readline's steps, inline: without a bare CR in the text, each line ends after a LF
        text, pos, stop, eofs = self.text, self.pos, len(self.text), self.eofs
        headers: list[str] = []
        while pos < stop:
            lf = text.find("\n", pos)
            end = stop if lf < 0 else lf + 1
            line = text[pos:end]
            if eofs and self._is_eof(line):
                break  # a (false) end of file: readline gives "" and stays
            pos = end
            if not HEADER_LINE.match(line):
                self.pos = pos
                if line[:1] not in _LINE_ENDS:  # not NLCRE.match(line)
                    self.policy.handle_defect(cur, errors.MissingHeaderBodySeparatorDefect())
                    self.unreadline(line)
                return headers
            headers.append(line)
        self.pos = pos
        return headers

    def _header_lines_read(self, cur: Message) -> list[str]:
        """:meth:`_header_lines` a line at a time through :meth:`readline`."""
        headers: list[str] = []
        while line := self.readline():
            if not HEADER_LINE.match(line):
                if line[:1] not in _LINE_ENDS:  # not NLCRE.match(line)
                    self.policy.handle_defect(cur, errors.MissingHeaderBodySeparatorDefect())
                    self.unreadline(line)
                break
            headers.append(line)
        return headers

    def _parse_headers(self, lines: list[str]) -> None:
        cur = self.cur
        assert cur is not None
        # each header's lines, stored once all are read (FeedParser stores each header as the
        # next line starts; nothing reads the headers in between, so the message is the same)
        entries: list[list[str]] = []
        current: list[str] | None = None
        for lineno, line in enumerate(lines):
            if line[0] in " \t":
                if current is None:
                    defect = errors.FirstHeaderLineIsContinuationDefect(line)
                    self.policy.handle_defect(cur, defect)
                    continue
                current.append(line)
                continue
            current = None
            if line.startswith("From "):
                if lineno == 0:
                    size = _line_end_size(line)
                    cur.set_unixfrom(line[:-size] if size else line)
                    continue
                if lineno == len(lines) - 1:
                    self.unreadline(line)
                    break
                cur.defects.append(errors.MisplacedEnvelopeHeaderDefect(line))
                continue
            i = line.find(":")
            if i == 0:
                cur.defects.append(errors.InvalidHeaderDefect("Missing header name."))
                continue
            if i < 0:
                raise AssertionError("_parse_headers fed line with no : and no leading WS")
            current = [line]
            entries.append(current)
        self._store_headers(cur, entries)

    def _store_headers(self, cur: Message, entries: list[list[str]]) -> None:
        """``cur.set_raw(*policy.header_source_parse(lines))`` for each header's lines, inline
        where the policy and message classes do not override those two (Compat32's)."""
        if not self.plain_store:
            for lines in entries:
                cur.set_raw(*self.policy.header_source_parse(lines))
            return
        append = cur._headers.append  # type: ignore[attr-defined]
        for lines in entries:
            name, value = lines[0].split(":", 1)
            value = value.lstrip(" \t") + "".join(lines[1:])
            append((name, value.rstrip("\r\n")))


class _DashLines:
    """``text.find("\\n--", pos)`` from the lines known to start with "--" (a RawScan's):
    the LF before the first of them that starts after ``pos``."""

    def __init__(self, lines: list[tuple[int, int]]) -> None:
        self.starts = [start for start, _ in lines]

    def __call__(self, pos: int) -> int:
        i = bisect.bisect_left(self.starts, pos + 1)
        return self.starts[i] - 1 if i < len(self.starts) else -1


def _nowhere(pos: int) -> int:
    """A search that finds nothing."""
    return -1


class _Finder:
    """``text.find(needle, pos)`` for growing ``pos``, searching again only when needed."""

    def __init__(self, text: str, needle: str) -> None:
        self.text = text
        self.needle = needle
        self.since = -1  # the last search started here...
        self.found = -1  # ...and found this (-1: nothing after it)

    def __call__(self, pos: int) -> int:
        if self.since < 0 or pos < self.since or 0 <= self.found < pos:
            self.since, self.found = pos, self.text.find(self.needle, pos)
        return self.found


def _line_end(text: str, pos: int) -> int:
    """Where the line that starts at ``pos`` ends, after its "\\r\\n", "\\r" or "\\n" (or
    the end of the text): as ``re.search(r"\\r\\n|\\r|\\n", text, pos).end()``."""
    lf = text.find("\n", pos)
    stop = lf if lf >= 0 else len(text)
    cr = text.find("\r", pos, stop)
    if cr < 0:
        return stop + 1 if lf >= 0 else stop
    return cr + 2 if cr + 1 == lf else cr + 1


def _line_end_size(line: str) -> int:
    """The size of the line end at the end of ``line``: as ``NLCRE_eol.search`` (which tries
    the pattern at every position of the string, so it is slow on a large body)."""
    if line.endswith("\r\n"):
        return 2
    return 1 if line.endswith(("\r", "\n")) else 0
