"""Composite expressions: precedence, negation, parentheses, syntax errors, members."""

from __future__ import annotations

import pytest

from mailward.engine.composites import parse_composite


def _m(expr: str, *symbols: str) -> bool:
    return parse_composite(expr).matches(frozenset(symbols))


def test_single_symbol() -> None:
    assert _m("A_X", "A_X")
    assert not _m("A_X", "B_X")


def test_and_needs_both() -> None:
    assert _m("A & B", "A", "B")
    assert not _m("A & B", "A")
    assert not _m("A & B", "B")


def test_or_needs_either() -> None:
    assert _m("A | B", "B")
    assert not _m("A | B", "C")


def test_and_binds_tighter_than_or() -> None:
    # A | B & C  ==  A | (B & C)
    assert _m("A | B & C", "A")
    assert not _m("A | B & C", "B")
    assert _m("A | B & C", "B", "C")
    # A & B | C  ==  (A & B) | C
    assert _m("A & B | C", "C")
    assert not _m("A & B | C", "A")


def test_parentheses_override_precedence() -> None:
    assert not _m("(A | B) & C", "A")
    assert _m("(A | B) & C", "A", "C")
    assert _m("(A | B) & C", "B", "C")


def test_negation() -> None:
    assert _m("A & !B", "A")
    assert not _m("A & !B", "A", "B")
    assert _m("!A", "B")
    assert not _m("!A", "A")


def test_negation_binds_tighter_than_and() -> None:
    # !A & B == (!A) & B, not !(A & B)
    assert not _m("!A & B", "A")
    assert _m("!(A & B)", "A")


def test_double_negation() -> None:
    assert _m("!!A", "A")
    assert not _m("!!A")


def test_whitespace_is_optional() -> None:
    assert _m("A&(B|!C)", "A", "B", "C")
    assert not _m("A&(B|!C)", "A", "C")


@pytest.mark.parametrize(
    "source",
    [
        "",
        "   ",
        "A &",
        "& A",
        "A | | B",
        "(A",
        "A)",
        "A B",
        "!",
        "()",
        "a_lower",
        "A + B",
        "A && B",
    ],
)
def test_syntax_errors_raise_value_error(source: str) -> None:
    with pytest.raises(ValueError):
        parse_composite(source)


def test_error_names_the_expression() -> None:
    with pytest.raises(ValueError, match=r"'A \+ B'"):
        parse_composite("A + B")


def test_members_and_positive_members() -> None:
    expr = parse_composite("A & !B & (C | !(D & E))")
    assert expr.members == frozenset({"A", "B", "C", "D", "E"})
    assert expr.positive_members == frozenset({"A", "C"})
    assert expr.source == "A & !B & (C | !(D & E))"


def test_symbol_both_negated_and_positive_is_positive() -> None:
    expr = parse_composite("A | !A")
    assert expr.positive_members == frozenset({"A"})



@pytest.mark.parametrize(
    ("expr", "without_members"),
    [("A", False), ("!A", True), ("A & B", False), ("A | !B", True), ("!(A & B)", True),
     ("!A & !B", True), ("A & (B | !C)", False), ("!!A | C", False)],
)
def test_the_shortcut_for_sets_without_members_is_the_predicates_answer(
    expr: str, without_members: bool
) -> None:
    """matches() answers a set holding none of the members without the predicate: the same
    answer the predicate gives, on every subset of the members with and without others."""
    comp = parse_composite(expr)
    names = sorted(comp.members)
    for mask in range(1 << len(names)):
        chosen = {n for i, n in enumerate(names) if mask >> i & 1}
        for extra in (set(), {"OTHER_SYMBOL"}):
            symbols = frozenset(chosen | extra)
            assert comp.matches(symbols) == comp._predicate(symbols)
    assert comp.matches(frozenset({"OTHER_SYMBOL"})) is without_members
    assert comp.matches(frozenset()) is without_members
