"""`bhogad install --hermes-plugin` and `bhogad uninstall`: the Hermes plugin goes in and out with the service.

The plugin reports Hermes' calls to this daemon; without the daemon it has nobody to talk to, so uninstall
removes it whenever bhoga's own plugin files or its `plugins.enabled` entry are there.
"""

from __future__ import annotations

from bhoga.errors import BhogaError

from .service._base import fail, say

__all__ = ["install_plugin", "remove_plugin"]


def install_plugin(*, dry_run: bool = False) -> int:
    """Write the plugin files and enable the plugin in Hermes' config; 0 on success, 1 with one line."""
    from bhoga.hermes import _plugin_files as plugin  # noqa: PLC0415 - YAML machinery only when asked

    try:
        state = plugin.plugin_state()
        if dry_run:
            say(f"would write {state.directory}/ (plugin.yaml, __init__.py) and add bhoga to plugins.enabled "
                f"in {state.config}")  # fmt: skip
            return 0
        files, config = plugin.enable()
    except BhogaError as exc:
        fail(f"Hermes plugin not installed: {exc}")
        return 1
    say(f"{'wrote' if files else 'kept'} the Hermes plugin in {state.directory}/")
    say(f"{state.config}: {'added' if config else 'already has'} bhoga in plugins.enabled")
    return 0


def remove_plugin() -> int:
    """Disable the plugin and remove its files when bhoga put them there; 0 when there was nothing to do."""
    from bhoga.hermes import _plugin_files as plugin  # noqa: PLC0415

    try:
        state = plugin.plugin_state()
        if state.files not in ("current", "outdated") and not state.enabled:
            return 0
        files, config = plugin.disable()
    except BhogaError as exc:
        fail(f"Hermes plugin not removed: {exc}")
        return 1
    if config:
        say(f"{state.config}: removed bhoga from plugins.enabled")
    if files:
        say(f"removed the Hermes plugin from {state.directory}/")
    return 0
