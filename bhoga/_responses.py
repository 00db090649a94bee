"""Socket protocol v1 answers as types (DESIGN §7, §8): one encoder for the daemon, one decoder for its clients.

The daemon's handler returns one of these records; `encode_response` (`bhoga._responses_encode`) is the only place an
answer becomes a line, and `decode_response` (`bhoga._responses_decode`) the only place a client turns a line back into
a record, so a field added to an answer is added to these three modules once. Quotas in `status` stay the JSON objects
of `quota_to_json` (they carry derived fields such as paces and credential states that a `ProviderQuota` does not hold);
`quota_from_json` reads one.
"""

from __future__ import annotations

from bhoga._model import RouterRecommendation
from bhoga._record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final, TypeAlias

__all__ = [
    "OK",
    "ApplyAnswer",
    "BestAnswer",
    "DaemonInfo",
    "Discovered",
    "Failure",
    "HermesView",
    "LastPass",
    "Ok",
    "PassAnswer",
    "PausedAnswer",
    "PingAnswer",
    "Response",
    "RouteView",
    "StatusAnswer",
    "Subscribed",
]


@record
class Ok:
    """`{"ok":true}`: the request was taken (turn, set_quota, pin, unpin)."""


OK: Final = Ok()
OK_LINE: Final = b'{"ok":true}\n'


@record
class Failure:
    """`{"ok":false,"error":...}`: the request was refused, for the one-line reason given."""

    error: str


@record
class PingAnswer:
    """bhogad's answer to `ping`: its process id and version."""

    pid: int
    version: str


@record
class BestAnswer:
    """The pick for a model (None: no candidate) and every candidate, best first (the pick is `ranked[0]`)."""

    recommendation: RouterRecommendation | None
    ranked: tuple[RouterRecommendation, ...] = ()
    errors: tuple[str, ...] = ()
    """What bhogad's discoveries last failed at and has not got through since (`discovery failed: <pid>: <why>`)."""


@record
class PausedAnswer:
    """Whether Hermes writes are paused after a `pause` or `resume`."""

    paused: bool


@record
class ApplyAnswer:
    """What `apply` did (DESIGN §8.2): `diff` only for a dry run, `route` only for a real one."""

    changed: bool
    provider: str | None
    reason: str
    path: str
    diff: str | None = None
    route: str | None = None


@record
class Subscribed:
    """The answer to `subscribe`; status pushes follow on the same connection."""


@record
class LastPass:
    """How bhogad's last pass over Hermes' config ended, and its one-line message."""

    outcome: str
    message: str


@record
class HermesView:
    """Hermes' route as bhoga last saw it, whether bhoga may change it, and why it is unknown if it is."""

    path: str | None
    provider: str | None
    model: str | None
    pinned: bool = False
    pinned_since: str | None = None
    problem: str | None = None
    last_pass: LastPass | None = None


@record
class RouteView:
    """The ranking for one routed model: the pick and every candidate, best first."""

    model: str
    ranked: tuple[RouterRecommendation, ...]

    @property
    def recommendation(self) -> RouterRecommendation | None:
        return self.ranked[0] if self.ranked else None


@record
class DaemonInfo:
    """bhogad's own facts in `status`; `received_turns` = `processed_turns` + queued, `dropped_turns` lost."""

    pid: int
    version: str
    started_at: str
    interval: float
    config: str | None
    watching: tuple[str, ...] = ()
    dropped_turns: int = 0
    turns_by_source: dict[str, int] = field(default_factory=dict)
    last_turn_at: dict[str, str] = field(default_factory=dict)
    received_turns: int = 0
    processed_turns: int = 0


@record
class StatusAnswer:
    """Everything known: quotas (the `quota_to_json` objects), Hermes' route, the routed models' rankings, and
    the daemon's own facts (None when the CLI computed the answer itself, without a daemon)."""

    quotas: tuple[dict[str, Any], ...]
    hermes: HermesView
    routes: tuple[RouteView, ...]
    paused: bool
    daemon: DaemonInfo | None = None
    policy: str | None = None
    """The routing policy the answer was ranked under (None from a bhogad older than this field)."""
    errors: tuple[str, ...] = ()
    """Discovery failures, `discovery failed: <pid>: <why>` each: bhogad's last ones per provider (until that
    provider gets through), or the CLI's own discovery's; empty from a bhogad older than this field."""


@record
class Discovered:
    """One quota as a `pass` left it: headroom 0.0-1.0 (-1.0 unknown), status, and discovery's note (which says
    when a usage endpoint was not called, and why)."""

    provider_id: str
    model: str
    quota_pct: float
    status: str
    note: str = ""


@record
class PassAnswer:
    """What a `pass` did (DESIGN §8.2): the quotas after its discovery, how its Hermes pass ended (`outcome` as in
    `status`'s `last_pass`; `changed` when it rewrote the config), and anything that failed on the way.

    `joined` says the request arrived while a pass was running and got that pass's answer."""

    pid: int
    joined: bool
    started_at: str
    discovered: tuple[Discovered, ...]
    outcome: str
    changed: bool
    message: str
    path: str | None = None
    provider: str | None = None
    model: str | None = None
    errors: tuple[str, ...] = ()


Response: TypeAlias = (
    Ok | Failure | PingAnswer | BestAnswer | PausedAnswer | ApplyAnswer | Subscribed | StatusAnswer | PassAnswer
)
