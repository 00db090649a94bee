"""What a person sees: the status screen (80 columns, colour, staleness), versions, and the CLI's messages."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bhoga import __version__
from bhoga._paths import daemon_config_path
from bhoga.cli._render import render_status
from bhoga.cli._term import Style, strip_ansi
from tests.fixtures_daemon import DaemonProc, write_hermes

BIN = Path(sys.executable).parent
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def run(*args: str, env: dict[str, str] | None = None, prog: str = "bhoga") -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [str(BIN / prog), *args], capture_output=True, text=True, timeout=60, env=env or dict(os.environ)
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r


def in_pty(*args: str, env: dict[str, str] | None = None, cols: int = 80) -> str:
    """Run `bhoga ARGS` on a real pseudo-terminal of `cols` columns and return everything it drew."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, cols, 0, 0))
    proc = subprocess.Popen(
        [str(BIN / "bhoga"), *args], stdin=slave, stdout=slave, stderr=slave, env=env or dict(os.environ)
    )
    os.close(slave)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        proc.wait(30)
        os.close(master)
    return out.decode("utf-8", "replace").replace("\r\n", "\n")


def _window(name: str, used: float, *, resets_in: float | None, seen_ago: float, source: str = "oauth") -> dict:
    return {
        "name": name,
        "pct_used": used,
        "resets_at": (NOW + timedelta(seconds=resets_in)).isoformat() if resets_in is not None else None,
        "window_min": 300 if name == "burst" else 10080,
        "scope": "*",
        "observed_at": (NOW - timedelta(seconds=seen_ago)).isoformat(),
        "source": source,
    }


def _quota(pid: str, windows: list[dict], status: str = "ok", note: str = "") -> dict:
    return {"provider_id": pid, "model": "*", "windows": windows, "throttled_until": None, "credential": True,
            "updated_at": NOW.isoformat(), "note": note, "extra": {}, "quota_pct": 0.5, "status": status}  # fmt: skip


def test_a_three_hour_old_reading_is_shown_as_stale_not_ok() -> None:
    """A subscription reading older than STALE_AFTER says "stale 3h" in the status column, never "ok"."""
    answer = {
        "quotas": [
            _quota("claude_code", [_window("burst", 20, resets_in=3600, seen_ago=3 * 3600)]),
            _quota("openai-codex", [_window("burst", 20, resets_in=3600, seen_ago=60)]),
            _quota("github-copilot", [_window("monthly", 20, resets_in=None, seen_ago=5 * 3600, source="set_quota")]),
        ],
        "hermes": None,
        "routes": [],
    }
    out = render_status(answer, from_daemon=False, now=NOW)
    rows = {line.split()[0]: line for line in out.splitlines() if line and line.split()[0] in
            ("claude_code", "openai-codex", "github-copilot")}  # fmt: skip
    assert re.match(r"claude_code\s+stale 3h\s+5h", rows["claude_code"]), out
    assert re.match(r"openai-codex\s+ok\s+5h\s+\S{10}\s+80%\s+1h$", rows["openai-codex"]), out
    assert re.match(r"github-copilot\s+ok\s", rows["github-copilot"]), out  # the user's own word does not age


def test_the_first_line_names_the_policy_the_answer_was_ranked_under() -> None:
    """The status screen's first line says which policy ranked it, from bhogad or computed here; an answer from a
    bhogad that sends no policy says nothing about it."""
    daemon = {"version": "0.2.0", "pid": 42, "started_at": NOW.isoformat()}
    for answer, from_daemon, first in (
        ({"policy": "value", "daemon": daemon}, True, "bhogad 0.2.0 · pid 42 · up 0s · policy value"),
        ({"policy": "headroom"}, False, "bhogad not running · local view: saved state + discovery · policy headroom"),
        ({"daemon": daemon}, True, "bhogad 0.2.0 · pid 42 · up 0s"),
    ):
        out = render_status({"quotas": [], "hermes": None, "routes": [], **answer}, from_daemon=from_daemon, now=NOW)
        assert out.splitlines()[0] == first, out


def test_status_json_carries_the_policy_of_bhogad_toml(home: Path) -> None:
    """`bhoga status --json` without a daemon says the policy it ranked under: bhogad.toml's, else the default."""
    assert json.loads(run("status", "--json").stdout)["policy"] == "value"
    config = daemon_config_path()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('policy = "headroom"\n')
    assert json.loads(run("status", "--json").stdout)["policy"] == "headroom"


def test_a_window_whose_reset_passed_shows_unknown_not_its_old_number() -> None:
    """After its reset time a window's old percentage means nothing: "?" and "passed", shown as stale."""
    answer = {"quotas": [_quota("claude_code", [_window("burst", 97, resets_in=-60, seen_ago=600)])]}
    row = next(line for line in render_status(answer, from_daemon=False, now=NOW).splitlines() if "claude" in line)
    assert re.match(r"claude_code\s+stale 10m\s+5h\s+\S{10}\s+\?\s+passed", row), row
    assert "97" not in row and "3%" not in row


def test_every_line_fits_80_columns_even_with_huge_names_and_notes() -> None:
    """Long model names, notes and reasons are cut or wrapped: no line is wider than the terminal."""
    long = "claude-opus-" + "x" * 100_000
    answer = {
        "quotas": [_quota("claude_code", [_window("burst", 50, resets_in=9000, seen_ago=10)], note="n " * 500)],
        "hermes": {"path": "/home/u/.hermes/config.yaml", "provider": "anthropic", "model": long},
        "routes": [{"model": long, "recommendation": {"provider_id": "claude_code", "reason": "why " * 200}}],
        "daemon": {"pid": 7, "version": "0.2.0", "started_at": (NOW - timedelta(hours=2)).isoformat()},
        "paused": True,
    }
    for style in (Style(), Style(color=True)):
        out = render_status(answer, from_daemon=True, style=style, now=NOW)
        widths = [len(strip_ansi(line)) for line in out.splitlines()]
        assert max(widths) <= 80, out
        assert "x" * 100 not in out


def test_pace_column_says_when_a_window_runs_out_before_its_reset() -> None:
    """A window whose pace says it runs out before its reset shows "out in ..."; a calm one its rate."""
    hot = _window("burst", 60, resets_in=4 * 3600, seen_ago=30)
    hot["pace"] = {"pct_per_hour": 30.0, "runs_out_at": (NOW + timedelta(minutes=80)).isoformat()}
    calm = _window("weekly", 10, resets_in=4 * 86400, seen_ago=30)
    calm["pace"] = {"pct_per_hour": 1.0, "runs_out_at": None}
    answer = {"quotas": [_quota("claude_code", [hot]), _quota("openai-codex", [calm])]}
    out = render_status(answer, from_daemon=False, now=NOW)
    assert re.search(r"claude_code .* out in 1h 20m$", out, re.M), out
    assert re.search(r"openai-codex .* 1%/h, lasts$", out, re.M), out


def test_status_is_coloured_on_a_terminal_only_and_no_color_wins(home: Path) -> None:
    """Under a pty `status` uses ANSI colour; NO_COLOR, --no-color and a pipe print none."""
    run("set-quota", "claude_code", "64", "--weekly", "30")
    coloured = in_pty("status")
    assert "\x1b[" in coloured and "claude_code" in coloured
    assert max(len(strip_ansi(line)) for line in coloured.splitlines()) <= 80
    assert "\x1b[" not in in_pty("status", "--no-color")
    assert "\x1b[" not in in_pty("status", env={**os.environ, "NO_COLOR": "1"})
    piped = run("status")
    assert "\x1b[" not in piped.stdout and "claude_code" in piped.stdout
    assert "\x1b[" not in run("status", "--json").stdout


def test_version_on_both_commands() -> None:
    """`bhoga --version` and `bhogad --version` print the package version and exit 0."""
    assert run("--version").stdout.strip() == f"bhoga {__version__}"
    assert run("--version", prog="bhogad").stdout.strip() == f"bhogad {__version__}"


def test_best_on_a_nonsense_model_says_unknown_model_and_json_carries_error() -> None:
    """`best` on a name no vendor uses says "unknown model" (exit 1); `--json` with ok:false has `error`."""
    r = run("best", "frobnicator-9000")
    assert r.returncode == 1 and r.stdout.startswith("unknown model 'frobnicator-9000'"), r.stdout
    j = json.loads(run("best", "frobnicator-9000", "--json").stdout)
    assert j["ok"] is False and "unknown model" in j["error"]
    plain = json.loads(run("best", "claude-opus-4", "--json").stdout)
    assert plain["ok"] is False and "no provider can serve claude-opus-4" in plain["error"]


def test_best_shows_the_same_percentage_as_its_reason(home: Path) -> None:
    """The headline and the reason round one number the same way (no "0%" beside "1% < reserve")."""
    run("set-quota", "claude_code", "0.6%")
    out = run("best", "claude-opus-4").stdout
    assert "(1% left, low)" in out and "5h window 1% < reserve 10%" in out, out
    assert not re.search(r"\b0%", out)


def test_set_quota_refuses_an_ambiguous_fraction_and_takes_explicit_percent(home: Path) -> None:
    """PCT is percent 0-100: a bare 0.5 is refused as ambiguous (exit 2), "0.5%" means half a percent."""
    r = run("set-quota", "claude_code", "0.5")
    assert r.returncode == 2 and "ambiguous" in r.stderr and "write 50" in r.stderr
    ok = run("set-quota", "claude_code", "0.5%")
    assert ok.returncode == 0 and "0.5% left" in ok.stdout
    quota = next(q for q in json.loads(run("status", "--json").stdout)["quotas"] if q["provider_id"] == "claude_code")
    assert quota["windows"][0]["pct_used"] == 99.5
    assert run("set-quota", "claude_code", "0").returncode == 0  # 0 and 1 are whole percents, not fractions


def test_a_huge_argument_is_not_echoed_back_whole() -> None:
    """A 100 KB model name or number gets a short error, not 100 KB of stderr."""
    for args in (("best", "m" * 100_000), ("set-quota", "claude_code", "9" * 100_000)):
        r = run(*args)
        assert r.returncode == 2 and len(r.stderr) < 600, len(r.stderr)
        assert "100000 characters" in r.stderr


def test_apply_without_model_routes_hermes_current_model(home: Path) -> None:
    """`apply` with no MODEL routes the model Hermes' model.default names; `--aux` says what it did."""
    write_hermes(home, "openai-codex", "gpt-5.4", codex_login=False)
    env = {**os.environ, "OPENROUTER_API_KEY": "sk-or-v1-PLANTED"}
    run("set-quota", "openai_api", "90", env=env)
    r = run("apply", "--dry-run", env=env)
    assert r.returncode == 0, r.stderr
    assert "openrouter" in r.stdout and "openai/gpt-5.4" in r.stdout, r.stdout
    aux = run("apply", "--aux", env=env)
    assert aux.returncode == 0, aux.stderr
    assert "--aux" in aux.stderr and "no auxiliary tasks besides compression" in aux.stderr
    (home / ".hermes" / "config.yaml").unlink()
    none = run("apply")
    assert none.returncode == 1 and "no MODEL given" in none.stderr


def test_config_help_shows_the_real_default_path(home: Path) -> None:
    """`bhogad --help` names the bhogad.toml path it would read, not a variable name."""
    out = "".join(run("--help", prog="bhogad").stdout.split())  # argparse wraps long paths anywhere
    assert f"(default:{home}/.config/bhoga/bhogad.toml)" in out


def test_a_shell_without_xdg_runtime_dir_finds_the_running_daemon(home: Path, tmp_path: Path) -> None:
    """su/cron have no XDG_RUNTIME_DIR: the CLI still finds bhogad's socket and doctor does not say install."""
    daemon = DaemonProc(tmp_path / "bhogad.log")
    try:
        daemon.wait_ready()
        time.sleep(0.2)
        env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
        env["TMPDIR"] = str(tmp_path / "tmp")  # the fallback runtime dir, kept inside the test
        status = run("status", env=env)
        assert status.stdout.startswith(f"bhogad {__version__} · pid {daemon.proc.pid}"), status.stdout
        assert run("set-quota", "claude_code", "40", env=env).stdout.endswith("(sent to bhogad)\n")
        doctor = run("doctor", env=env)
        assert "bhogad install" not in doctor.stdout, doctor.stdout
        assert re.search(r"ok\s+bhogad running: answering on", doctor.stdout), doctor.stdout
    finally:
        assert daemon.stop() == 0
    assert not (home / ".cache" / "bhoga" / "bhogad.socket").exists()
