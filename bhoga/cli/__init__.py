"""The `bhoga` command (DESIGN §6): status, best, set-quota, apply, turn, hermes-plugin, doctor, pause, resume.

Each command asks bhogad when it answers on its socket, so every harness sees one view, and works on this
machine's state file otherwise. Exit codes: 0 success, 1 operational failure (one line on stderr), 2 usage.
Imports are deferred to the command that needs them so `bhoga status` stays quick.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bhoga.cli._args import _subcommands
from bhoga.errors import BhogaError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__all__ = ["HANDLER", "build_parser", "main"]

HANDLER = "bhoga-cli"
"""The name of the stderr handler the console script logs through (see `_configure_logging`)."""


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter at the width it picks itself, without it importing shutil (~3 ms) to find it."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        from bhoga.cli._term import terminal_columns  # noqa: PLC0415

        super().__init__(prog, indent_increment, max_help_position, terminal_columns() - 2 if width is None else width)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser (also used by the tests to check the documented options exist).

    Given a subcommand's name, only that subcommand is added: it parses (and helps, and refuses) `bhoga COMMAND ...`
    exactly as the whole parser does, without argparse building the others (~3 ms of `bhoga status`).
    """
    from bhoga import __version__  # noqa: PLC0415

    p = argparse.ArgumentParser(
        prog="bhoga",
        description="Keep AI harnesses on the provider with the most quota left.",
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"bhoga {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    subcommands = _subcommands()
    if command is not None:
        subcommands = tuple(s for s in subcommands if s[0] == command) or subcommands
    for name, help_text, arguments in subcommands:
        parser = sub.add_parser(name, help=help_text, formatter_class=_Formatter)
        for names, options in arguments:
            parser.add_argument(*names, **options)
    return p


def _configure_logging() -> None:
    """Log records as single `bhoga: ...` lines on stderr: a person never sees a traceback."""
    import logging  # noqa: PLC0415

    class OneLine(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f": {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            return "bhoga: " + " ".join(text.split())

    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER)  # the one handler whose discovery warnings `bhoga.cli._failures` may hold back
    handler.setFormatter(OneLine())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


class _ThenConfigure:
    """The loader of `logging`, which configures it (`_configure_logging`) as soon as it has been executed."""

    def __init__(self, loader: Loader) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _configure_logging()

    def __getattr__(self, name: str) -> object:  # get_source, get_filename, ...: the real loader's
        return getattr(self._loader, name)


class _WhenLoggingLoads:
    """A finder in `sys.meta_path` until `logging` is first imported, whose loader it then wraps."""

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = find(name, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _ThenConfigure(spec.loader)  # type: ignore[assignment]  # a loader by duck typing
                return spec
        return None


def _setup_logging() -> None:
    # Commands that bhogad answers never log, and `logging` (with `traceback`, `string`, `weakref`) is ~7 ms of
    # `bhoga status`: it is set up when something first imports it, before any record can be made.
    if "logging" in sys.modules:
        _configure_logging()
    elif not any(isinstance(f, _WhenLoggingLoads) for f in sys.meta_path):
        sys.meta_path.insert(0, _WhenLoggingLoads())


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (the console script exits with it)."""
    words = sys.argv[1:] if argv is None else argv
    args = build_parser(words[0] if words else None).parse_args(argv)
    if argv is None:  # the console script; a caller passing argv keeps its own logging setup
        _setup_logging()
    from bhoga.cli import _commands as commands  # noqa: PLC0415 - keep `--help` and usage errors instant

    try:
        return commands.run(args)
    except BhogaError as exc:
        _fail(str(exc))
    except ValueError as exc:  # the Router's own validation of a value the parser let through
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted")
    except BrokenPipeError:
        return 0  # `bhoga status | head`: the reader left, nothing is wrong
    except Exception as exc:  # never a traceback for a person; the type says where to look
        _fail(f"internal error: {type(exc).__name__}: {exc}")
    return 1


def _fail(message: str) -> None:
    print(f"bhoga: {' '.join(message.split())}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
