"""What a `bhoga` command loads: only what answers it (a command bhogad answers loads no local machinery)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli.test_cli import bhoga

# Loaded only on the local path (no daemon): the Router's edges, the Hermes writer, logging, inspect.
LOCAL_ONLY = (
    "logging",
    "inspect",
    "bhoga._state",
    "bhoga._history",
    "bhoga.hermes._apply",
    "bhoga.hermes._yamldoc",
    "bhoga.discovery",
)
# Never loaded when bhogad answers on the socket a private XDG_RUNTIME_DIR names: finding the socket and the state
# file needs no platformdirs (nor the tempfile it imports), the terminal width no shutil (argparse's included), and
# annotations no `typing` (imported only for type checkers), and one question no sender thread (`threading`).
ANSWERED_NEVER = ("platformdirs", "tempfile", "shutil", "typing", "threading")


def _run_cli(*args: str) -> tuple[str, list[str]]:
    """Run `bhoga args` as the console script does, in a child; (its stdout, the watched modules loaded)."""
    code = f"""
        import json, sys
        sys.argv = ["bhoga", *{list(args)!r}]
        from bhoga.cli import main
        code = main()
        print("LOADED", json.dumps(sorted(m for m in {LOCAL_ONLY + ANSWERED_NEVER!r} if m in sys.modules)))
        sys.exit(code)
        """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert done.returncode == 0, done.stderr
    out, _, loaded = done.stdout.rpartition("LOADED ")
    return out, json.loads(loaded)


def test_commands_bhogad_answers_load_no_local_machinery(server: Path) -> None:
    """With bhogad answering, `set-quota`, `status`, `best`, `pause` and `resume` load neither the Router's state
    file nor the Hermes writer, discovery, `logging`, `inspect`, platformdirs, tempfile, shutil, typing or threading."""
    for args in (
        ("set-quota", "claude_code", "50"),
        ("status",),
        ("status", "--json"),
        ("best", "claude-sonnet-4"),
        ("pause",),
        ("resume",),
    ):
        out, loaded = _run_cli(*args)
        assert out.strip(), args
        assert loaded == [], (args, loaded)


def test_without_bhogad_the_local_path_loads_and_logs_one_line(home: Path) -> None:
    """Without bhogad, `status` works locally, and a warning of the library (a corrupt state file) is still one
    `bhoga: ...` line on stderr although `logging` is set up only when something first loads it."""
    state = home / ".cache" / "bhoga" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text("{not json")
    out, loaded = _run_cli("status")
    assert "PROVIDER" in out
    assert {"logging", "bhoga._state"} <= set(loaded)
    state.write_text("{not json")  # the first run moved it aside
    r = bhoga("status")
    assert r.returncode == 0
    lines = [line for line in r.stderr.splitlines() if "state file" in line]
    assert len(lines) == 1 and lines[0].startswith("bhoga: state file "), r.stderr


def test_terminal_columns_is_shutils_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """`terminal_columns()` (what help text and tables wrap at) equals `shutil.get_terminal_size((80, 24)).columns`
    for COLUMNS set, unset, zero, negative and not a number."""
    import shutil

    from bhoga.cli._term import terminal_columns

    for value in ("123", None, "0", "-5", "wide"):
        if value is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", value)
        assert terminal_columns() == shutil.get_terminal_size((80, 24)).columns, value


def test_one_subcommand_parser_parses_helps_and_refuses_as_the_whole_one(capsys: pytest.CaptureFixture[str]) -> None:
    """`build_parser(COMMAND)` (what `main` builds for `bhoga COMMAND ...`) gives every subcommand the same help,
    the same usage error and the same parsed values as the whole parser; an unknown word builds the whole one."""
    from bhoga.cli import _subcommands, build_parser

    def outcome(command: str | None, argv: list[str]) -> tuple[object, str, str]:
        try:
            result: object = vars(build_parser(command).parse_args(argv))
        except SystemExit as exc:
            result = exc.code
        out, err = capsys.readouterr()
        return result, out, err

    names = [name for name, _, _ in _subcommands()]
    assert len(names) > 10
    samples = {"best": ["claude-sonnet-4"], "set-quota": ["claude_code", "50"], "hermes-plugin": ["status"]}
    for name in names:
        for argv in ([name, "-h"], [name, "--bogus"], [name, *samples.get(name, [])]):
            assert outcome(name, argv) == outcome(None, argv), argv
    assert "set-quota" in outcome("bogus", ["-h"])[1]
    assert outcome("bogus", ["bogus"]) == outcome(None, ["bogus"])


def test_wrap_is_textwraps_answer() -> None:
    """The status screen's `_wrap` (which skips textwrap for a short plain line) gives textwrap's lines for short,
    long, empty, blank-edged, tabbed, multi-line and non-ASCII-spaced texts at every width."""
    import textwrap

    from bhoga.cli._render import _wrap

    texts = ("", " ", "a", "plain reason", "  lead", "trail ", "two  spaces", "tab\there", "line\nbreak", "nb\u00a0sp",
             "a-very-long-hyphenated-word " * 4, "x" * 90, "word " * 30, "é" * 40)  # fmt: skip
    for text in texts:
        for width in (10, 29, 30, 31, 60, 200):
            want = textwrap.wrap(text, width=max(width - 9, 20), break_on_hyphens=False) or [""]
            assert _wrap(text, width, 9) == want, (text, width)
