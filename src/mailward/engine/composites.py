"""Composite symbol expressions: ``A & (B | !C)`` over symbol names, parsed without eval.

Grammar (lowest precedence first)::

    expr   := term ('|' term)*
    term   := factor ('&' factor)*
    factor := '!' factor | '(' expr ')' | SYMBOL
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(?:([A-Z][A-Z0-9_]*)|(.))")

Predicate = Callable[[frozenset[str]], bool]


@dataclass(frozen=True, slots=True)
class CompositeExpression:
    """A parsed expression: ``matches(symbols)`` and the symbols it names."""

    source: str
    members: frozenset[str]
    positive_members: frozenset[str]
    _predicate: Predicate
    #: What the expression says of a set holding none of its members (the predicate reads
    #: nothing but whether each member is in the set, so that is its answer for every such set).
    _without_members: bool = False

    def matches(self, symbols: frozenset[str]) -> bool:
        if self.members.isdisjoint(symbols):  # the usual case: a set test in C, no predicate
            return self._without_members
        return self._predicate(symbols)


def parse_composite(source: str) -> CompositeExpression:
    """Parse ``source``; raise ValueError naming the position of a syntax error."""
    tokens = _tokenise(source)
    parser = _Parser(tokens, source)
    predicate = parser.expr()
    if parser.pos != len(tokens):
        raise ValueError(f"unexpected {tokens[parser.pos]!r} in composite {source!r}")
    return CompositeExpression(
        source=source,
        members=frozenset(parser.names),
        positive_members=frozenset(parser.positive),
        _predicate=predicate,
        _without_members=predicate(frozenset()),
    )


def _tokenise(source: str) -> list[str]:
    tokens: list[str] = []
    for match in _TOKEN.finditer(source):
        name, other = match.groups()
        if name:
            tokens.append(name)
        elif other and not other.isspace():
            if other not in "&|!()":
                raise ValueError(f"unexpected character {other!r} in composite {source!r}")
            tokens.append(other)
    if not tokens:
        raise ValueError("empty composite expression")
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], source: str) -> None:
        self.tokens = tokens
        self.source = source
        self.pos = 0
        self.names: set[str] = set()
        self.positive: set[str] = set()
        self._negated = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise ValueError(f"composite {self.source!r} ends too early")
        self.pos += 1
        return token

    def expr(self) -> Predicate:
        parts = [self.term()]
        while self._peek() == "|":
            self._take()
            parts.append(self.term())
        if len(parts) == 1:
            return parts[0]
        return lambda syms: any(p(syms) for p in parts)

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self._peek() == "&":
            self._take()
            parts.append(self.factor())
        if len(parts) == 1:
            return parts[0]
        return lambda syms: all(p(syms) for p in parts)

    def factor(self) -> Predicate:
        item = self._take()
        if item == "!":
            self._negated += 1
            inner = self.factor()
            self._negated -= 1
            return lambda syms: not inner(syms)
        if item == "(":
            inner = self.expr()
            if self._take() != ")":
                raise ValueError(f"missing ')' in composite {self.source!r}")
            return inner
        if item in "&|)":
            raise ValueError(f"unexpected {item!r} in composite {self.source!r}")
        self.names.add(item)
        if not self._negated:
            self.positive.add(item)
        return lambda syms: item in syms
