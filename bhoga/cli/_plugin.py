"""`bhoga hermes-plugin enable | disable | status` (DESIGN §8.6)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from bhoga._responses import StatusAnswer

__all__ = ["run"]


def _hermes_turns(status: Callable[[], StatusAnswer | None]) -> str:
    answer = status()
    if answer is None or answer.daemon is None:
        return "bhogad is not running: Hermes' calls are dropped until it is (`bhogad install` starts it)"
    turns = answer.daemon.turns_by_source.get("hermes", 0)
    last = answer.daemon.last_turn_at.get("hermes")
    if not turns:
        return "bhogad is running and has heard no call from Hermes since it started"
    return f"bhogad has heard {turns} call(s) from Hermes since it started, the last at {last}"


def run(args: argparse.Namespace, status: Callable[[], StatusAnswer | None]) -> int:
    """Run one action; `status` asks bhogad for its status (None when it does not answer)."""
    from bhoga.hermes import _plugin_files as plugin  # noqa: PLC0415 - the YAML machinery loads only when needed

    if args.action == "enable":
        files, config = plugin.enable()
        state = plugin.plugin_state()
        print(f"{'wrote' if files else 'kept'} {state.directory}/ (plugin.yaml, __init__.py)")
        print(f"{state.config}: {'added' if config else 'already has'} bhoga in plugins.enabled")
        print("new Hermes sessions (and the gateway, at its next start) report every model call to bhogad")
        return 0
    if args.action == "disable":
        files, config = plugin.disable()
        state = plugin.plugin_state()
        print(f"{state.config}: {'removed bhoga from' if config else 'no bhoga in'} plugins.enabled")
        print(f"{'removed' if files else 'no plugin files in'} {state.directory}/")
        return 0
    state = plugin.plugin_state()
    report = _hermes_turns(status)
    if getattr(args, "json", False):
        out = {
            "directory": str(state.directory),
            "config": str(state.config),
            "files": state.files,
            "enabled": state.enabled,
            "disabled": state.disabled,
            "daemon": report,
        }
        print(json.dumps(out, indent=2))
        return 0
    shown = {
        "current": "installed",
        "outdated": "installed by another bhoga version (run `bhoga hermes-plugin enable` to update)",
        "absent": "not installed",
        "foreign": "a plugin named bhoga that bhoga did not write",
    }[state.files]
    print(f"plugin files: {shown} ({state.directory})")
    print(f"plugins.enabled: {'has bhoga' if state.enabled else 'does not have bhoga'} ({state.config})")
    if state.disabled:
        print("plugins.disabled has bhoga: Hermes will not load it; remove it from plugins.disabled")
    print(report)
    if state.files != "current" or not state.enabled:
        print("to turn it on: bhoga hermes-plugin enable")
    return 0
