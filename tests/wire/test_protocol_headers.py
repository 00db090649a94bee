"""The socket's quick header filter keeps exactly what the allow-list keeps, for any headers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bhoga._protocol_headers import _headers_slow
from bhoga._protocol_headers import turn_headers as _headers
from bhoga.errors import ProtocolError

_NAMES = [
    "anthropic-ratelimit-unified-5h-utilization",
    "x-ratelimit-remaining-tokens",
    "x-codex-primary-used-percent",
    "ratelimit-reset",
    "retry-after",
    "retry-after-ms",
    "x-should-retry",
    "x-should-retry-after",
    "content-type",
    "request-id",
    "foo-ratelimit-x",
    "x-codex-ratelimit-y",
    "date",
]
_name = st.sampled_from(_NAMES) | st.text(max_size=30)
_variant = st.tuples(_name, st.sampled_from(["", " ", "\t"]), st.sampled_from(["", " "]), st.booleans()).map(
    lambda t: t[1] + (t[0].upper() if t[3] else t[0]) + t[2]
)
_value = st.sampled_from(["0.37", "allowed", "1795645163", " 12 ", "a\tb", "x" * 300, "\x00", "é"]) | st.text(
    max_size=40
)


def _outcome(fn: object, headers: dict[str, str]) -> object:
    try:
        return fn(headers)  # type: ignore[operator]
    except ProtocolError as exc:
        return ("error", str(exc))


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(_variant | _name, _value, max_size=20))
def test_quick_filter_equals_the_allow_list(headers: dict[str, str]) -> None:
    """Whatever the names and values (case, spaces, exact names, non-printables, long values), the quick path
    answers what the header-by-header allow-list answers, keys in the same order."""
    quick = _outcome(_headers, headers)
    slow = _outcome(_headers_slow, headers)
    if isinstance(slow, dict) and any(len(v) > 1024 for v in headers.values()):
        return  # too long a value is refused before either filter runs
    assert quick == slow
    if isinstance(quick, dict) and isinstance(slow, dict):
        assert list(quick) == list(slow)
