"""The `headers` of a protocol v1 `turn`: checked, and reduced to the rate-limit allow-list before anything
stores or logs them (DESIGN §7).

A harness sends the same header names turn after turn, so what the allow-list keeps of a list of names is
decided once and kept; each turn then only checks the kept values, in C. Anything that would need cleaning
(uppercase or padded names, padded or non-printable values) goes header by header through
`bhoga._calibrate.filter_headers`, and a property test holds the two paths equal.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter

from bhoga._calibrate import _EXACT_NAMES, _MAX_VALUE, RATE_LIMIT_HEADER_PREFIXES, filter_headers
from bhoga.errors import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["MAX_HEADERS", "MAX_HEADER_VALUE", "kept_headers", "turn_headers"]

MAX_HEADER_VALUE: Final = 1024
MAX_HEADERS: Final = 128

_STR_ONLY: Final = {str}
_PICKS: dict[tuple[str, ...], tuple[tuple[str, ...], Callable[[dict[str, str]], Any]] | None] = {}
"""Per list of header names: the names the allow-list keeps and a getter for their values (None: names that
need the header-by-header filter). A harness sends the same names turn after turn, so this decides once."""
_MAX_PICKS: Final = 256


def _pick(names: tuple[str, ...]) -> tuple[tuple[str, ...], Callable[[dict[str, str]], Any]] | None:
    # Names already lowercased, stripped and printable are their own allow-list keys: keep those with a prefix.
    if not all(n == n.strip().lower() and n.isprintable() for n in names):
        return None
    keys = tuple(n for n in names if n in _EXACT_NAMES or n.startswith(RATE_LIMIT_HEADER_PREFIXES))
    if len(keys) > 1:
        return keys, itemgetter(*keys)
    return keys, lambda value: tuple(map(value.__getitem__, keys))  # itemgetter of one key gives no tuple


def kept_headers(value: dict[str, str]) -> dict[str, str] | None:
    """The allow-listed headers of a name -> string map, when its names and kept values need no cleaning
    (lowercase, stripped, printable, values at most the stored length); None when they may."""
    names = tuple(value)
    try:
        pick = _PICKS[names]
    except KeyError:
        if len(_PICKS) >= _MAX_PICKS:
            _PICKS.clear()  # anyone may send any names: the table stays small
        pick = _PICKS[names] = _pick(names)
    if pick is None:
        return None
    keys, get = pick
    if not keys:
        return {}
    texts = get(value)
    # One string for all the checks, in C: printable means the only whitespace left is the ASCII space, so a
    # value needs stripping only where a space meets a separator or an end (a "| " inside a value merely sends
    # it to the header-by-header filter); a short whole means short parts.
    joined = "|".join(texts)
    if (
        joined.isprintable()
        and " |" not in joined
        and "| " not in joined
        and joined[:1] != " "
        and joined[-1:] != " "
        and (len(joined) <= _MAX_VALUE or max(map(len, texts)) <= _MAX_VALUE)
    ):
        return dict(zip(keys, texts, strict=True))
    return None


def turn_headers(value: Any) -> dict[str, str]:
    """A turn's `headers` field reduced to the allow-list; `ProtocolError` when it is not an object of strings."""
    if value is None:
        return {}
    if type(value) is not dict:
        raise ProtocolError("field 'headers' must be an object of strings")
    if len(value) > MAX_HEADERS:
        raise ProtocolError(f"field 'headers' has more than {MAX_HEADERS} entries")
    if not value:
        return {}
    values = value.values()
    if set(map(type, values)) != _STR_ONLY or max(map(len, values)) > MAX_HEADER_VALUE:
        raise ProtocolError(f"field 'headers' must map names to strings of at most {MAX_HEADER_VALUE} characters")
    kept = kept_headers(value)
    return kept if kept is not None else _headers_slow(value)


def _headers_slow(value: dict[str, str]) -> dict[str, str]:
    """The allow-list applied header by header (names lowercased and stripped, values stripped and cut)."""
    kept = filter_headers(value)
    # Only what survives the allow-list is stored or logged, so only that has to be printable and short.
    for k, v in kept.items():
        if not (v.isprintable() and k.isprintable()):
            raise ProtocolError(f"header {k[:60]!r} has a non-printable name or value")
    return kept
