"""bhogad.toml: the daemon's optional settings (DESIGN §5).

Every key is optional; a missing file means the defaults. A file that cannot be used raises `ConfigError` with
one line naming the file and the key, so `bhogad` can refuse to start (exit 2) and SIGHUP can keep the old
settings.
"""

from __future__ import annotations

from pathlib import Path

from bhoga._paths import daemon_config_path
from bhoga._record import field, record
from bhoga._routing import DEFAULT_POLICY
from bhoga._settings import fraction as _fraction
from bhoga._settings import models as _models
from bhoga._settings import policy_name, read_toml
from bhoga._settings import prices as _prices
from bhoga.errors import ConfigError

__all__ = ["DEFAULT_NOTIFY", "MIN_INTERVAL", "NOTIFY_EVENTS", "DaemonConfig", "load_config", "parse_config"]

MIN_INTERVAL = 60.0
"""Seconds; the Claude usage endpoint answers 429 when polled faster than about once a minute."""

_KNOWN = (
    "models",
    "reserve",
    "margin",
    "policy",
    "prices",
    "interval",
    "write_auxiliary",
    "write_fallbacks",
    "paused",
    "notify",
    "notify_command",
    "notify_desktop",
)
NOTIFY_EVENTS = ("flip", "low", "exhausted", "restored", "pinned_throttled")
DEFAULT_NOTIFY = ("flip", "exhausted", "pinned_throttled")


@record
class DaemonConfig:
    """The daemon's settings after validation.

    Attributes:
        models: models to route; empty means "whatever Hermes' own model.default says". The first one is the
            model written to Hermes, the others are ranked for `status` only (Hermes has one main model).
        reserve: fraction 0-1 of a subscription window kept back before it is ranked below metered APIs.
        margin: fraction 0-1 by which a new best must beat the current provider before Hermes is rewritten.
        policy: "value" (the default), "headroom", "drain-soonest" or "pace".
        prices: policy "value": model substring → price of a turn on a metered API, over bhoga's own table.
        interval: seconds between scheduled discoveries (plus up to 10 % jitter), at least `MIN_INTERVAL`.
        write_auxiliary / write_fallbacks: passed to the Hermes writer.
        paused: no Hermes writes at all (the `paused` marker file does the same at run time).
        notify: the events that notify (DESIGN §8.8), out of `NOTIFY_EVENTS`.
        notify_command: a program and its arguments run (no shell) for each notification, or empty.
        notify_desktop: also show desktop notifications where a session bus or macOS is there.
        path: the file these came from, or None for the defaults.
    """

    models: tuple[str, ...] = ()
    reserve: float = 0.10
    margin: float = 0.10
    policy: str = DEFAULT_POLICY
    prices: tuple[tuple[str, float], ...] = ()
    interval: float = 300.0
    write_auxiliary: bool = False
    write_fallbacks: bool = False
    paused: bool = False
    notify: tuple[str, ...] = DEFAULT_NOTIFY
    notify_command: tuple[str, ...] = ()
    notify_desktop: bool = True
    path: Path | None = field(default=None, compare=False)


def _bool(path: Path, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: {key} must be true or false, got {value!r}")
    return value


def _notify(path: Path, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
        raise ConfigError(f"{path}: notify must be a list out of {', '.join(NOTIFY_EVENTS)}, got {value!r:.80}")
    for e in value:
        if e not in NOTIFY_EVENTS:
            raise ConfigError(f"{path}: notify: unknown event {e!r:.40} (known: {', '.join(NOTIFY_EVENTS)})")
    return tuple(dict.fromkeys(value))


def _command(path: Path, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ConfigError(
            f"{path}: notify_command must be a list [program, arg, ...] (it runs without a shell), got a string"
        )
    if not isinstance(value, list) or not all(isinstance(a, str) and "\0" not in a for a in value):
        raise ConfigError(f"{path}: notify_command must be a list of strings, got {value!r:.80}")
    if value and not value[0].strip():
        raise ConfigError(f"{path}: notify_command: the program name is empty")
    return tuple(value)


def _interval(path: Path, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{path}: interval must be a number of seconds, got {value!r}")
    if value < MIN_INTERVAL:
        raise ConfigError(f"{path}: interval must be at least {MIN_INTERVAL:.0f} seconds, got {value!r}")
    return float(value)


def parse_config(data: dict[str, object], path: Path) -> DaemonConfig:
    """Validate the parsed TOML table `data` read from `path`."""
    unknown = sorted(set(data) - set(_KNOWN))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(_KNOWN)})")
    d = DaemonConfig()
    policy = data.get("policy", d.policy)
    policy = policy_name(path, policy)
    return DaemonConfig(
        models=_models(path, data["models"]) if "models" in data else d.models,
        reserve=_fraction(path, "reserve", data["reserve"]) if "reserve" in data else d.reserve,
        margin=_fraction(path, "margin", data["margin"]) if "margin" in data else d.margin,
        policy=str(policy),
        prices=_prices(path, data["prices"]) if "prices" in data else d.prices,
        interval=_interval(path, data["interval"]) if "interval" in data else d.interval,
        write_auxiliary=_bool(path, "write_auxiliary", data.get("write_auxiliary", d.write_auxiliary)),
        write_fallbacks=_bool(path, "write_fallbacks", data.get("write_fallbacks", d.write_fallbacks)),
        paused=_bool(path, "paused", data.get("paused", d.paused)),
        notify=_notify(path, data["notify"]) if "notify" in data else d.notify,
        notify_command=_command(path, data["notify_command"]) if "notify_command" in data else d.notify_command,
        notify_desktop=_bool(path, "notify_desktop", data.get("notify_desktop", d.notify_desktop)),
        path=path,
    )


def load_config(path: Path | None = None) -> DaemonConfig:
    """Read bhogad.toml (`path`, else `BHOGA_CONFIG`, else the platform config dir); defaults if it is absent.

    Raises:
        ConfigError: the file exists but is unreadable, not TOML, or has an invalid or unknown key.
    """
    if path is None:
        path = daemon_config_path()
    data = read_toml(path)
    if data is None:
        return DaemonConfig(path=None)
    return parse_config(data, path)
