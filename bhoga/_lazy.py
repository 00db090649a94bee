"""Load `dataclasses` without `inspect`, and `logging` without `traceback`: `import bhoga` is on a harness's
start-up path.

`dataclasses` imports `inspect` (with `ast`, `dis` and `tokenize`: ~12 ms, over a third of `import bhoga`) but
calls it only to invent a docstring for a dataclass that has none; `logging` imports `traceback` (with
`linecache`, `tokenize` and `textwrap`: ~3 ms) but uses it only to format an exception or a stack. Each is
imported with a placeholder in the place of the module it defers, and then given a stand-in that imports the
real module on first use. Nothing else ever sees a placeholder: the interpreter's import lock is held meanwhile,
so no other thread can import anything until the placeholder has left `sys.modules`, and a module loaded along
the way that bound it gets the stand-in too. When either module is already loaded, nothing is done for it.

This runs when the module is imported, which `bhoga/__init__.py` does before anything else. Every dataclass
`import bhoga` defines has a docstring, so `inspect` stays unloaded until something else needs it.
"""

from __future__ import annotations

import sys
from types import ModuleType

__all__ = ["import_deferring"]


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


def import_deferring(name: str, deferred: str) -> None:
    """Import module `name` without loading module `deferred`, which it imports but needs only later."""
    if name in sys.modules or deferred in sys.modules:
        return
    import _imp  # noqa: PLC0415

    placeholder = type(sys)(deferred)
    _imp.acquire_lock()
    try:
        before = set(sys.modules)
        sys.modules[deferred] = placeholder
        try:
            __import__(name)
        finally:
            if sys.modules.get(deferred) is placeholder:
                del sys.modules[deferred]
        owners = [m for key in set(sys.modules) - before if (m := sys.modules[key]) is not None]
        stand_in = _Deferred(deferred, owners)
        for module in owners:
            for key, value in list(vars(module).items()):
                if value is placeholder:
                    setattr(module, key, stand_in)
    finally:
        _imp.release_lock()


import_deferring("dataclasses", "inspect")
import_deferring("logging", "traceback")
