"""Keep `import bhoga` light: it is on a harness's start-up path.

`pathlib` imports `urllib.parse` (with `ipaddress`: ~3 ms) only for `Path.as_uri`, and `enum` (Python 3.11 and
3.12) imports `functools` (with `collections`: ~3 ms) only for a `Flag` check bhoga never makes. Each is imported with a
placeholder in the place of the module it defers, and then given a stand-in that imports the real module on
first use. Nothing else ever sees a placeholder: the interpreter's import lock is held meanwhile,
so no other thread can import anything until the placeholder has left `sys.modules`, and a module loaded along
the way that bound it gets the stand-in too. When a module is already loaded, nothing is done for it.

`logging` (~4 ms with `string`, `warnings` and `traceback`) is not imported at all: the modules `import bhoga`
loads take their logger from `logger()`, which loads `logging` at the first message.

(`dataclasses`, which loads `re`, `inspect` and `copy`, is not imported at all: records are `bhoga._record`'s.)

This runs when the module is imported, which `bhoga/__init__.py` does before anything else.
"""

from __future__ import annotations

import sys
from types import ModuleType

__all__ = ["import_deferring", "logger"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging


class _Deferred:
    """Stands in for module `name` inside the modules that bound it, until one of them uses it."""

    def __init__(self, name: str, owners: list[ModuleType]) -> None:
        self._name = name
        self._owners = owners

    def __getattr__(self, attr: str) -> object:
        import importlib  # noqa: PLC0415 - loaded already; here to keep this module's own import free

        real = importlib.import_module(self._name)
        for owner in self._owners:
            for key, value in list(vars(owner).items()):
                if value is self:
                    setattr(owner, key, real)
        return getattr(real, attr)


def _forwarder(module: str, attr: str) -> object:
    """A function that calls `module.attr`, importing `module` on its first call (for `from module import attr`)."""

    def forward(*args: object, **kwargs: object) -> object:
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module(module), attr)(*args, **kwargs)

    forward.__name__ = forward.__qualname__ = attr
    return forward


def _placeholder_getattr(module: str) -> object:
    def getattr_(attr: str) -> object:
        if attr.startswith("__"):  # the import system probing (`__path__`, ...): a plain module
            raise AttributeError(attr)
        return _forwarder(module, attr)

    return getattr_


def import_deferring(name: str, *deferred: str) -> None:
    """Import module `name` without loading the modules `deferred`, which it imports but needs only later.

    `import d` binds a stand-in module; `from d import f` binds a function that calls the real `d.f`."""
    deferred = tuple(d for d in deferred if d not in sys.modules)
    if name in sys.modules or not deferred:
        return
    import _imp  # noqa: PLC0415

    placeholders = {d: type(sys)(d) for d in deferred}
    for d, placeholder in placeholders.items():
        setattr(placeholder, "__getattr__", _placeholder_getattr(d))  # noqa: B010 - a module-level __getattr__
    _imp.acquire_lock()
    try:
        before = set(sys.modules)
        sys.modules.update(placeholders)
        try:
            __import__(name)
        finally:
            for d, placeholder in placeholders.items():
                if sys.modules.get(d) is placeholder:
                    del sys.modules[d]
        owners = [m for key in set(sys.modules) - before if (m := sys.modules[key]) is not None]
        for d, placeholder in placeholders.items():
            stand_in = _Deferred(d, owners)
            for module in owners:
                for key, value in list(vars(module).items()):
                    if value is placeholder:
                        setattr(module, key, stand_in)
    finally:
        _imp.release_lock()


class _Logger:
    """`logging.getLogger(name)`, looked up (and `logging` imported) at the first message."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: logging.Logger | None = None

    def __getattr__(self, attr: str) -> object:
        if self._logger is None:
            import logging  # noqa: PLC0415

            self._logger = logging.getLogger(self._name)
        return getattr(self._logger, attr)


def logger(name: str) -> logging.Logger:
    """The logger called `name`, without importing `logging` before it is first used."""
    return _Logger(name)  # type: ignore[return-value]


def import_pathlib() -> None:
    """Import `pathlib` without `urllib.parse`: call before the first `pathlib` import a light path may make."""
    import_deferring("pathlib", "urllib.parse")


import_deferring("enum", "functools")
