"""`bhoga._record`: records behave as the frozen slotted dataclasses they replace."""

from __future__ import annotations

import copy
import inspect
import pickle
import re
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bhoga._model import ProviderStatus, QuotaWindow, RouterRecommendation
from bhoga._providers import PROVIDERS, _dotted, _hyphenated, spell
from bhoga._record import FrozenInstanceError, field, record, replace

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@record
class Point:
    """A frozen record with defaults, a field left out of equality and one left out of repr."""

    x: int
    y: int = 0
    label: str = field(default="", compare=False)
    secret: str = field(default="", repr=False)
    tags: list[str] = field(default_factory=list, compare=False)
    LIMIT: ClassVar[int] = 9

    def norm(self) -> int:
        """A method of the class survives its rebuild with slots."""
        return abs(self.x) + abs(self.y)


@record(frozen=False)
class Counter:
    """A mutable record compared by value."""

    name: str
    n: int = 0


@record(frozen=False, eq=False)
class Node:
    """A mutable record compared by identity."""

    name: str


def test_fields_defaults_and_class_vars() -> None:
    """Annotations become slots in order with their defaults; a ClassVar stays a class attribute."""
    p = Point(1)
    assert (p.x, p.y, p.label, p.secret, p.tags) == (1, 0, "", "", [])
    assert Point.__slots__ == Point.__match_args__ == ("x", "y", "label", "secret", "tags")
    assert Point.LIMIT == 9 and p.norm() == 1
    assert not hasattr(p, "__dict__")
    assert Point(1).tags is not Point(1).tags, "a default_factory is called per record"
    assert Point(2, y=3, label="a").y == 3


def test_frozen_record_refuses_changes() -> None:
    """Assigning or deleting a field (or a new attribute) raises FrozenInstanceError, an AttributeError."""
    p = Point(1)
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot delete field 'y'"):
        del p.y  # type: ignore[misc]
    with pytest.raises(AttributeError):
        p.other = 1  # type: ignore[attr-defined]
    assert p.x == 1


def test_equality_and_hash_follow_compared_fields() -> None:
    """Records of one class are equal (and hash alike) when their compared fields are; other types never are."""
    assert Point(1, 2, label="a", tags=["t"]) == Point(1, 2, label="b")
    assert hash(Point(1, 2, label="a")) == hash(Point(1, 2, label="b"))
    assert Point(1, 2) != Point(2, 1)
    assert Point(1, 2) != (1, 2)
    assert len({Point(1), Point(1), Point(2)}) == 2
    when = RouterRecommendation("p", "m", 0.5, ProviderStatus.OK, "m", 1, "r", resets_at=NOW)
    assert when == replace(when, resets_at=None), "resets_at is left out of equality, as before"


def test_mutable_records() -> None:
    """`frozen=False` records change in place; compared by value they are unhashable, with eq=False by identity."""
    c = Counter("a")
    c.n += 1
    assert c == Counter("a", 1) and c.n == 1
    with pytest.raises(TypeError):
        hash(c)
    a, b = Node("x"), Node("x")
    assert a != b and a == a and len({a, b}) == 2


def test_repr_shows_fields_but_not_hidden_ones() -> None:
    """repr names the class and every field but those declared repr=False (a secret never reaches a log)."""
    text = repr(Point(1, secret="sk-ant-TOPSECRET"))
    assert text == "Point(x=1, y=0, label='', tags=[])"
    assert "TOPSECRET" not in text
    assert repr(Counter("a")) == "Counter(name='a', n=0)"


def test_replace() -> None:
    """`replace` copies with changes; an unknown field or a non-record is a TypeError."""
    w = QuotaWindow("burst", 10.0, NOW, 300)
    w2 = replace(w, pct_used=20.0, source="header")
    assert (w2.pct_used, w2.source, w2.resets_at, w.pct_used) == (20.0, "header", NOW, 10.0)
    assert replace(w) == w and replace(w) is not w
    with pytest.raises(TypeError, match="bogus"):
        replace(w, bogus=1)
    with pytest.raises(TypeError, match="needs a record"):
        replace(NOW, year=2000)


def test_pickle_copy_and_match() -> None:
    """Records survive pickling and copying, and match positional class patterns."""
    w = QuotaWindow("weekly", 55.5, NOW, 10080, "opus", NOW, "oauth")
    assert pickle.loads(pickle.dumps(w)) == w
    assert copy.copy(w) == w and copy.deepcopy(w) == w
    match w:
        case QuotaWindow(name, pct):
            assert (name, pct) == ("weekly", 55.5)
        case _:
            pytest.fail("no match")


def test_signature_is_the_real_one_before_first_use() -> None:
    """inspect.signature sees the fields even before the class has built a record."""

    @record
    class Fresh:
        """Never built before the signature is asked."""

        a: int
        b: str = "x"

    assert str(inspect.signature(Fresh)) == "(a, b='x')"
    with pytest.raises(TypeError):
        Fresh()  # type: ignore[call-arg]


def test_record_without_fields() -> None:
    """A record with no fields builds, compares equal to its kind and copies."""

    @record
    class Empty:
        """Nothing but a kind."""

    assert Empty() == Empty() and hash(Empty()) == hash(Empty()) and replace(Empty()) == Empty()
    assert repr(Empty()) == "test_record_without_fields.<locals>.Empty()"


def test_declaration_errors() -> None:
    """A field without a default after one with a default, or a record inheriting from one, is refused."""
    with pytest.raises(TypeError, match="without a default follows"):

        @record
        class Bad:
            """Misordered."""

            a: int = 0
            b: int

    with pytest.raises(TypeError, match="cannot inherit"):

        @record
        class Sub(Point):
            """Inherits."""

            z: int = 0

    with pytest.raises(ValueError, match="both"):
        field(default=[], default_factory=list)


@given(st.text(alphabet="ab09-.٣/", max_size=12))
def test_spelling_matches_the_regular_expressions(name: str) -> None:
    """The hand-written version spellings give what the regular expressions they replace gave."""
    assert _hyphenated(name) == re.sub(r"(?<=\d)\.(?=\d)", "-", name)
    assert _dotted(name) == re.sub(r"(?<=-\d)-(?=\d{1,2}$)", ".", name)


def test_spelling_examples() -> None:
    """Anthropic gets hyphens, Copilot a dotted version, OpenRouter a vendor prefix."""
    assert spell(PROVIDERS["claude_code"].names, "claude-sonnet-4.6") == "claude-sonnet-4-6"
    assert spell(PROVIDERS["github-copilot"].names, "claude-opus-4-5") == "claude-opus-4.5"
    assert spell(PROVIDERS["github-copilot"].names, "claude-opus-4-20250514") == "claude-opus-4-20250514"
