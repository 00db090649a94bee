"""`import bhoga` stays light without changing what the standard library does afterwards."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=False
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
    """After `import bhoga`, logging still prints tracebacks and a dataclass without a docstring still gets one."""
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
        import inspect, traceback
        print(dataclasses.inspect is inspect, logging.traceback is traceback)
        """
    )
    assert "Point(x: int)" in out
    assert "Traceback (most recent call last)" in out and "ZeroDivisionError" in out
    assert "True True" in out


def test_dataclasses_loaded_first_is_left_alone() -> None:
    """When the harness imported `inspect` itself, bhoga touches nothing."""
    out = _run(
        """
        import inspect, dataclasses
        import bhoga
        print(dataclasses.inspect is inspect)
        """
    )
    assert out.strip() == "True"
