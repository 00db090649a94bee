"""`import bhoga` stays light without changing what the standard library does afterwards."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, *, no_site: bool = False) -> str:
    # -S: without site, an editable install's finder (which imports urllib.parse itself) stays out of the way
    args = [sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + textwrap.dedent(code)]
    done = subprocess.run(
        args if no_site else [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_import_bhoga_loads_neither_inspect_nor_traceback() -> None:
    """`import bhoga` (and a Router) leaves `inspect` and `traceback` unloaded: ~15 ms of a harness's start-up."""
    out = _run(
        """
        import sys, tempfile, os
        os.environ["BHOGA_OFFLINE"] = "1"
        import bhoga
        r = bhoga.Router(state_path=os.path.join(tempfile.mkdtemp(), "s.json"), eager=False, daemon=False)
        r.set_quota("claude_code", 50)
        print(r.best_for("claude-sonnet-4-6").provider_id)
        r.close()
        print(sorted(m for m in ("inspect", "traceback", "ast", "tokenize") if m in sys.modules))
        """
    )
    assert out.splitlines() == ["claude_code", "[]"]


def test_deferred_modules_load_on_first_use() -> None:
    """After `import bhoga`, logging still prints tracebacks and the standard library's dataclasses still work."""
    out = _run(
        """
        import bhoga, dataclasses, logging, sys
        @dataclasses.dataclass
        class Point:
            x: int
        print(Point.__doc__)
        try:
            1 / 0
        except ZeroDivisionError:
            logging.getLogger("t").exception("failed")
        import traceback
        print(logging.traceback is traceback)
        """
    )
    assert "Point(x: int)" in out
    assert "Traceback (most recent call last)" in out and "ZeroDivisionError" in out
    assert "True" in out


def test_import_bhoga_loads_neither_dataclasses_nor_re() -> None:
    """`import bhoga` and `from bhoga import Router` load neither `dataclasses` nor `re` (nor `typing`, `inspect`,
    `copy`, `functools`, `collections`): with them, ~16 ms of a harness's start-up."""
    heavy = ("dataclasses", "re", "typing", "inspect", "copy", "ast", "tokenize", "string", "functools", "collections")
    out = _run(
        f"""
        import sys
        import bhoga
        print(sorted(m for m in {heavy!r} if m in sys.modules))
        from bhoga import Router, QuotaWindow, ProviderQuota, RouterRecommendation, to_hermes_model
        print(to_hermes_model("claude_code", "claude-sonnet-4.6"), to_hermes_model("github-copilot", "claude-opus-4-5"))
        print(sorted(m for m in {heavy!r} if m in sys.modules))
        """,
        no_site=True,
    )
    assert out.splitlines() == ["[]", "claude-sonnet-4-6 claude-opus-4.5", "[]"]


def test_enum_works_in_full_after_import_bhoga() -> None:
    """`enum`, loaded by `import bhoga` without `functools`, still runs the Flag check that uses `functools.reduce`."""
    out = _run(
        """
        import sys
        import bhoga, enum
        print("functools" in sys.modules)
        class Color(enum.Flag):
            RED = 1
            GREEN = 2
            WHITE = 7
        try:
            enum.verify(enum.NAMED_FLAGS)(Color)
        except ValueError as e:
            print(e)
        if hasattr(enum, "reduce"):  # Python 3.11 and 3.12: the forwarder calls the real one
            print("functools" in sys.modules, enum.reduce(lambda a, b: a + b, [1, 2, 3]))
        else:
            print("no reduce")
        """,
        no_site=True,
    )
    lines = out.splitlines()
    assert lines[0] == "False"
    assert "alias WHITE is missing value 0x4" in lines[1]
    assert lines[2] == ("True 6" if sys.version_info < (3, 13) else "no reduce")  # 3.13's enum has no reduce


def test_import_bhoga_loads_neither_logging_nor_urllib_nor_copy() -> None:
    """`import bhoga` leaves `logging`, `urllib.parse` and `copy` unloaded; each works on first use afterwards."""
    out = _run(
        """
        import sys
        import bhoga
        print(sorted(m for m in ("logging", "urllib.parse", "copy", "string") if m in sys.modules))
        import dataclasses, pathlib
        print(pathlib.PurePosixPath("/tmp/a b").as_uri())
        @dataclasses.dataclass
        class Box:
            items: list
        box = Box([[1]])
        print(dataclasses.asdict(box)["items"] is not box.items, dataclasses.astuple(box))
        from bhoga import _state
        import logging
        logging.basicConfig(format="%(name)s %(levelname)s %(message)s")
        _state.log.warning("via the %s logger", "deferred")
        """,
        no_site=True,
    )
    assert out.splitlines()[0] == "[]"
    assert "file:///tmp/a%20b" in out
    assert "True ([[1]],)" in out
    assert "bhoga._state WARNING via the deferred logger" in out


def test_router_edges_load_when_a_router_is_built() -> None:
    """`from bhoga import Router` leaves the state file's, history's and threads' modules unloaded; a Router
    built afterwards loads them (without `urllib.parse`) and routes."""
    out = _run(
        """
        import os, sys, tempfile
        os.environ["BHOGA_OFFLINE"] = "1"
        edges = ("json", "threading", "pathlib", "contextlib", "bhoga._state", "bhoga._history", "bhoga._paths",
                 "bhoga._turncount", "urllib.parse")
        from bhoga import Router
        print(sorted(m for m in edges if m in sys.modules))
        r = Router(state_path=os.path.join(tempfile.mkdtemp(), "s.json"), eager=False, daemon=False)
        r.set_quota("claude_code", 50)
        print(r.best_for("claude-sonnet-4-6").provider_id)
        r.close()
        print(sorted(m for m in edges if m in sys.modules))
        """,
        no_site=True,
    )
    assert out.splitlines() == [
        "[]",
        "claude_code",
        "['bhoga._history', 'bhoga._paths', 'bhoga._state', 'bhoga._turncount', 'contextlib', 'json', 'pathlib', "
        "'threading']",
    ]


def test_records_are_declared_with_record() -> None:
    """No module of bhoga or bhogad uses `dataclasses`: records are `bhoga._record`'s (one style, and `dataclasses`
    would load `re`, `inspect` and `copy`, ~10 ms on `bhoga status`'s path among others)."""
    import ast

    found = []
    for path in sorted([*(ROOT / "bhoga").rglob("*.py"), *(ROOT / "bhogad").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n.split(".")[0] == "dataclasses" for n in names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
