"""The routing rules of bhogad.toml (`reserve`, `margin`, `policy`, `models`, `prices`), read the same way by every
process.

`bhoga best`, `status` and `apply` without a daemon use these, and bhogad validates the same keys with the same
functions, so the CLI and the daemon never disagree about the rules (DESIGN §8.3). Other keys are the daemon's.
"""

from __future__ import annotations

from pathlib import Path

from bhoga import _files
from bhoga._paths import daemon_config_path
from bhoga._record import record
from bhoga._routing import DEFAULT_POLICY, POLICIES
from bhoga.errors import ConfigError, NotRegularFileError

__all__ = ["Policy", "fraction", "load_policy", "models", "policy_name", "prices", "read_toml"]


@record
class Policy:
    """The rules a ranking follows."""

    reserve: float = 0.10
    margin: float = 0.10
    policy: str = DEFAULT_POLICY
    models: tuple[str, ...] = ()
    prices: tuple[tuple[str, float], ...] = ()
    """Policy "value": `[prices]`, model substring → price of a turn on a metered API (over bhoga's table)."""


def fraction(path: Path, key: str, value: object) -> float:
    """0-1 as a fraction, or 1-100 as percent points ("10" and "0.1" both mean ten percent)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{path}: {key} must be a number (0-1 or 0-100), got {value!r}")
    v = float(value)
    if not 0.0 <= v <= 100.0:
        raise ConfigError(f"{path}: {key} must be between 0 and 100, got {value!r}")
    return v / 100.0 if v > 1.0 else v


def models(path: Path, value: object) -> tuple[str, ...]:
    """A model name or a list of them, de-duplicated in order."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(m, str) and m.strip() for m in value):
        raise ConfigError(f"{path}: models must be a list of model names, got {value!r}")
    return tuple(dict.fromkeys(m.strip() for m in value))


def prices(path: Path, value: object) -> tuple[tuple[str, float], ...]:
    """A `[prices]` table: model name substring → a price of one turn (any unit: only ratios matter), ≥ 0."""
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: prices must be a table of model substring = price, got {value!r:.80}")
    out = []
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < float("inf") or not k.strip():
            raise ConfigError(f"{path}: prices.{k!s:.40} must be a number ≥ 0, got {v!r:.40}")
        out.append((k.strip().lower(), float(v)))
    return tuple(out)


def policy_name(path: Path, value: object) -> str:
    """One of the routing policies."""
    if value not in POLICIES:
        raise ConfigError(f"{path}: policy must be one of {', '.join(POLICIES)}, got {value!r}")
    return str(value)


def parse_policy(data: dict[str, object], path: Path) -> Policy:
    """The routing rules in the parsed bhogad.toml `data`."""
    d = Policy()
    return Policy(
        reserve=fraction(path, "reserve", data["reserve"]) if "reserve" in data else d.reserve,
        margin=fraction(path, "margin", data["margin"]) if "margin" in data else d.margin,
        policy=policy_name(path, data.get("policy", d.policy)),
        models=models(path, data["models"]) if "models" in data else d.models,
        prices=prices(path, data["prices"]) if "prices" in data else d.prices,
    )


def load_policy(path: Path | None = None) -> Policy:
    """The rules in bhogad.toml (`path`, else `BHOGA_CONFIG`, else the platform config dir); defaults without one.

    Raises:
        ConfigError: the file exists but is unreadable, not TOML, or has an invalid value for one of these keys.
    """
    path = path or daemon_config_path()
    data = read_toml(path)
    return Policy() if data is None else parse_policy(data, path)


def read_toml(path: Path) -> dict[str, object] | None:
    """bhogad.toml at `path` parsed, or None when there is none; the one reader the CLI and the daemon share.

    Raises:
        ConfigError: the file is not a regular file, unreadable, not UTF-8 or not TOML (one line naming it).
    """
    import tomllib  # noqa: PLC0415 - only the paths that read the file pay for the parser

    try:
        raw = _files.read_bounded(path, 1024 * 1024)
    except FileNotFoundError:
        return None
    except NotRegularFileError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
