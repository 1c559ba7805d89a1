"""One HTML body -> its visible text and its links, read the way a browser reads it.

The markup is parsed by lexbor (through ``selectolax.lexbor``), an HTML5 parser in C that
builds the same tree a browser builds: unclosed tags, unquoted attributes, upper-case names,
misnested and stray tags, NUL bytes and entity-encoded attribute values all come out as a
browser would see them, so a message cannot show one thing to the reader and another to the
scanner. The tree is then walked once in Python, without recursion (any nesting depth).

- Not rendered, so neither text nor links: ``<head>``, script/style/title/template,
  iframe/noembed/noframes content, comments. Mail clients run no scripts, so ``<noscript>``
  is read as ordinary markup (scripting-disabled parsing), as they show it.
- Outlook conditional comments (``<!--[if mso]>...<![endif]-->``) are the exception among
  comments: Outlook shows their content, so it is parsed and read in place (nesting bounded).
- Links are ``<a href>`` (SVG ``xlink:href`` too), ``<area href>`` and ``<form action>``
  (``<img src>`` is not a link), each with the document's base URL (the first
  ``<base href>``, which a browser applies to every link, before or after it). Anchor text is
  the visible text inside ``<a>``, whitespace collapsed.
- Visible text keeps a line break at block boundaries; other whitespace runs become a space.

HTML5 tree building costs time quadratic in nesting depth, so :func:`check_nesting` refuses
(LimitExceeded) markup whose estimated cost is far beyond any real message's, before parsing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from mailward.errors import LimitExceeded

_BLOCK_TAGS = (
    "address article aside blockquote br caption center dd details dialog div dl dt fieldset"
    " figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr legend li main menu"
    " nav ol p pre section summary table td th tr ul"
)
_UNSEEN_TAGS = "head iframe noembed noframes script style template title"
_UNSEEN_CUSTOM = frozenset({"xml"})  # Office data islands: neither Outlook nor IE shows them
_TOKEN = re.compile(r"<(/?)([A-Za-z][^\t\n\f\r />]*)")
# Elements that never stay open under a sibling of their own name, or cannot hold anything.
_FLAT_TAG_NAMES = (
    "area base basefont bgsound body br caption col colgroup dd dt embed frame head hr html"
    " image img input isindex keygen li link meta option optgroup p param rb rp rt rtc source"
    " tbody td tfoot th thead tr track wbr"
)
_FLAT_TAGS = frozenset(_FLAT_TAG_NAMES.split())
_START_NAME = re.compile(r"<([A-Za-z][^\t\n\f\r />]*)")
# Tree-building steps a document may cost (open elements summed over start tags); legitimate
# mail stays under 200_000, a 5000-deep <div> nest costs 12.5 million.
_MAX_NESTING_WORK = 20_000_000
_FORMATTING_NAMES = "a b big code em font i nobr s small strike strong tt u"
_FORMATTING = frozenset(_FORMATTING_NAMES.split())
_SCOPE_NAMES = "applet desc foreignobject marquee math object svg table template"
_SCOPE_TAGS = frozenset(_SCOPE_NAMES.split())
_END_TAG_REACH = 64  # how far down the modelled stack an end tag looks for its element
_UNCHECKED_TAGS = 6000  # 6000 start tags cost at most 6000 * 6001 / 2 < the limit
_KNOWN_IDS = 1 << 16  # lexbor numbers the tags it knows from 1; other names get large ids
_TARGET = {"a": "href", "area": "href", "form": "action"}
_CONDITIONAL = re.compile(r"\[if[^\]]{0,200}\]>(.*)<!\[endif\]\Z", re.IGNORECASE | re.DOTALL)
_CONDITIONAL_START = re.compile(r"<!--\[if", re.IGNORECASE)
_LINK_START = re.compile(r"<(?:a|area|form)[\t\n\f\r />]", re.IGNORECASE)
_LINK_QUERY = "a, area, form"
_MAX_CONDITIONAL_DEPTH = 3  # a conditional comment inside a conditional comment, and so on
_ANCHOR_PIECES = 256  # text pieces read into one anchor text (bounds nested-anchor chains)
_BASE_START = re.compile(r"<base[\t\n\f\r />]", re.IGNORECASE)
_BREAK = "\x1e"  # marks a block boundary until the text is tidied


def _tag_ids() -> tuple[int, int, frozenset[int], frozenset[int], dict[int, str]]:
    """Lexbor's numeric tag ids (known names have fixed ids; comparing ints is cheap)."""
    probe = LexborHTMLParser("<p>t<!--c-->")
    paragraph = probe.css_first("p")
    assert paragraph is not None and paragraph.first_child is not None
    text = paragraph.first_child
    comment = text.next
    assert comment is not None

    def ids(names: str) -> frozenset[int]:
        return frozenset(probe.create_node(name).tag_id for name in names.split())

    targets = {probe.create_node(tag).tag_id: tag for tag in _TARGET}
    return text.tag_id, comment.tag_id, ids(_BLOCK_TAGS), ids(_UNSEEN_TAGS), targets


_TEXT, _COMMENT, _BLOCK, _UNSEEN, _LINK_TAGS = _tag_ids()
_A = next(tag_id for tag_id, tag in _LINK_TAGS.items() if tag == "a")


@dataclass(slots=True)
class HtmlLink:
    """A link as written: the tag it came from, the raw target, its anchor text."""

    tag: str
    target: str
    anchor_text: str
    base: str | None


@dataclass(slots=True)
class HtmlScan:
    """What one HTML body gave: visible text (when asked for) and links."""

    text: str
    links: list[HtmlLink] = field(default_factory=list)


@dataclass(slots=True)
class _Reader:
    """One pass over a parsed tree: text pieces in ``out``, links in ``links``."""

    base: str | None
    want_text: bool
    out: list[str] = field(default_factory=list)
    links: list[HtmlLink] = field(default_factory=list)
    anchors: list[tuple[HtmlLink | None, int]] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)  # link elements read, by lexbor node id
    depth: int = 0

    def read(self, node: LexborNode | None, siblings: bool = True) -> None:
        """Read ``node`` (and its following siblings), depth first, with an explicit stack.

        The hot loop of this module (one step per node), so kept in one function.
        """
        stack: list[LexborNode] = []
        out, anchors, want_text = self.out, self.anchors, self.want_text
        text_id, comment_id, unseen, block, link_tags = _TEXT, _COMMENT, _UNSEEN, _BLOCK, _LINK_TAGS
        while node is not None:
            tag_id = node.tag_id
            if tag_id == text_id:
                if want_text or anchors:
                    out.append(node.text_content or "")
            elif tag_id == comment_id:
                self._comment(node)
            elif tag_id not in unseen and (tag_id < _KNOWN_IDS or node.tag not in _UNSEEN_CUSTOM):
                if tag_id in block:
                    out.append(_BREAK)
                if tag_id in link_tags:
                    self._open_link(node, link_tags[tag_id])
                child = node.first_child
                if child is not None:
                    stack.append(node)
                    node = child
                    continue
                self._close(tag_id)
            following = node.next if siblings or stack else None
            while following is None and stack:
                node = stack.pop()
                self._close(node.tag_id)
                following = node.next if siblings or stack else None
            node = following

    def _close(self, tag_id: int) -> None:
        if tag_id in _BLOCK:
            self.out.append(_BREAK)
        elif tag_id == _A and self.anchors:
            link, start = self.anchors.pop()
            if link is not None:
                pieces = self.out[start : start + _ANCHOR_PIECES]
                link.anchor_text = " ".join("".join(pieces).split())

    def _open_link(self, node: LexborNode, tag: str) -> None:
        link = self._link(node, tag)
        if tag == "a":
            self.anchors.append((link, len(self.out)))

    def _link(self, node: LexborNode, tag: str) -> HtmlLink | None:
        attrs = node.attributes
        target = attrs.get(_TARGET[tag])
        if target is None and tag == "a":
            target = attrs.get("xlink:href")
        if target is None:
            return None
        link = HtmlLink(tag, target, "", self.base)
        self.links.append(link)
        self.seen.add(node.mem_id)
        return link

    def _comment(self, node: LexborNode) -> None:
        """Read an Outlook conditional comment's content in place, as Outlook shows it."""
        if self.depth >= _MAX_CONDITIONAL_DEPTH:
            return
        match = _CONDITIONAL.match(node.comment_content or "")
        if match is None or not match[1].strip():
            return
        inner = _parse(match[1])
        self.depth += 1
        self.read(_document_children(inner))
        self.depth -= 1


def _parse(html: str) -> LexborHTMLParser:
    # Mail clients run no scripts: <noscript> content is markup they show (scripting=False).
    return LexborHTMLParser(html.encode("utf-8", "replace"), scripting=False)


def _document_children(tree: LexborHTMLParser) -> LexborNode | None:
    """The first child of the document node (comments before ``<html>`` live there)."""
    root = tree.root
    document = root.parent if root is not None else None
    return document.first_child if document is not None else root


def _base(html: str, tree: LexborHTMLParser) -> str | None:
    """The first ``<base href>`` (only looked for when the source has a ``<base`` tag)."""
    if not _BASE_START.search(html):
        return None
    node = tree.css_first("base[href]")
    return node.attributes.get("href") if node is not None else None


def _tidy(pieces: list[str]) -> str:
    """Pieces -> text: whitespace runs become one space, block boundaries one line break."""
    lines = (" ".join(line.split()) for line in "".join(pieces).split(_BREAK))
    return "\n".join(line for line in lines if line)


def _conditional_links(html: str) -> bool:
    """Whether some Outlook conditional comment may hold a link (never a false no).

    A comment's content ends at the first ``-->`` or ``--!>`` (or the end of input), and a
    link element needs its tag name followed by whitespace, ``/`` or ``>``.
    """
    for match in _CONDITIONAL_START.finditer(html):
        start = match.end()
        end = html.find("-->", start)
        end = len(html) if end < 0 else end
        bang = html.find("--!>", start, end)
        if _LINK_START.search(html, start, end if bang < 0 else bang):
            return True
    return False


def _links_only(tree: LexborHTMLParser, base: str | None) -> list[HtmlLink]:
    """The links, reading only link elements (and what is inside anchors)."""
    reader = _Reader(base, want_text=False)
    for node in tree.css(_LINK_QUERY):
        if node.mem_id not in reader.seen:
            reader.read(node, siblings=False)
    return reader.links


def check_nesting(html: str) -> None:
    """Raise LimitExceeded when ``html`` would cost the tree builder too much.

    HTML5 tree building walks the stack of open elements (and the list of active formatting
    elements) at many start tags, so deep nesting costs time quadratic in its depth. The cost
    is estimated from the tags in the source with a rough model of that stack that errs on the
    deep side; below 6000 start tags of elements that can nest no document can reach the limit, so
    most are not looked at.
    """
    # start tags are at most the "<" less the "</": a text of fewer characters, or with fewer
    # "<", than the bound needs neither count of "</"
    if len(html) <= _UNCHECKED_TAGS:
        return
    opening = html.count("<")
    if opening <= _UNCHECKED_TAGS or opening - html.count("</") <= _UNCHECKED_TAGS:
        return
    names = Counter(_START_NAME.findall(html))
    if sum(n for name, n in names.items() if name.lower() not in _FLAT_TAGS) <= _UNCHECKED_TAGS:
        return  # only start tags of elements that can nest count towards the cost
    stack: list[str] = []
    work = 0
    for closing, tag in _TOKEN.findall(html):
        name = tag.lower()
        if name in _FLAT_TAGS:
            continue
        if not closing:
            stack.append(name)
            work += len(stack)
            continue
        for index in range(len(stack) - 1, max(len(stack) - _END_TAG_REACH, 0) - 1, -1):
            if stack[index] == name:
                # A formatting end tag leaves the blocks opened inside it open (adoption agency).
                del stack[index : index + 1 if name in _FORMATTING else len(stack)]
                break
            if stack[index] in _SCOPE_TAGS:
                break  # not in scope: the parser ignores this end tag
    if work > _MAX_NESTING_WORK:
        raise LimitExceeded("HTML nesting work", work, _MAX_NESTING_WORK)


def scan_html(html: str, want_text: bool = True) -> HtmlScan:
    """Visible text (when ``want_text``) and links of ``html``.

    Bad markup never raises; markup nested so deep that parsing it would take too long raises
    LimitExceeded (see :func:`check_nesting`).

    For links alone the whole tree is read only when an Outlook conditional comment may hold
    a link; otherwise the link elements are found by a CSS query in C, which is faster.
    """
    if not want_text and not _LINK_START.search(html):
        return HtmlScan("")  # no link element can come out of markup without a link tag
    check_nesting(html)
    tree = _parse(html)
    base = _base(html, tree)
    if not want_text and not _conditional_links(html):
        return HtmlScan("", _links_only(tree, base))
    reader = _Reader(base, want_text)
    reader.read(_document_children(tree))
    return HtmlScan(_tidy(reader.out) if want_text else "", reader.links)
