"""`bhogad install` / `uninstall` file handling and manager commands, with recording stand-ins for the
external `systemctl` and `launchctl` programs (the real user manager is exercised in test_service_e2e.py)."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

import bhogad.service as service
from bhogad.service import LaunchdService, SystemdService

REPO = Path(__file__).resolve().parents[2]

# A stand-in manager CLI: logs its arguments, fails when they contain $FAKE_FAIL (a substring), and exits 0
# for `is-active` only when $FAKE_ACTIVE is set.
_FAKE = """#!/bin/sh
echo "$(basename "$0") $*" >> "$FAKE_LOG"
case "$*" in
  *is-active*) [ -n "$FAKE_ACTIVE" ] && exit 0; exit 3 ;;
esac
if [ -n "$FAKE_FAIL" ]; then
  case "$*" in *"$FAKE_FAIL"*)
    echo "Created symlink /x/bhogad.service -> /y/bhogad.service." >&2
    echo "Failed to connect to bus: No medium found" >&2
    exit 1 ;;
  esac
fi
exit 0
"""


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """systemctl and launchctl stand-ins first on PATH; returns the log file they append to."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    for name in ("systemctl", "launchctl"):
        p = bin_dir / name
        p.write_text(_FAKE)
        p.chmod(0o755)
    log = tmp_path / "calls.log"
    log.write_text("")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.delenv("FAKE_FAIL", raising=False)
    monkeypatch.delenv("FAKE_ACTIVE", raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return log


@pytest.fixture
def program(tmp_path: Path) -> list[str]:
    """An installed-looking bhogad: an executable script in a venv's bin directory."""
    p = tmp_path / "venv" / "bin" / "bhogad"
    p.parent.mkdir(parents=True)
    p.write_text("#!/bin/sh\nexit 0\n")
    p.chmod(0o755)
    return [str(p)]


def _calls(log: Path) -> list[str]:
    lines = log.read_text().splitlines()
    log.write_text("")
    return lines


def test_install_writes_units_and_enables_them(
    home: Path, fake_tools: Path, program: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """First install writes both units in the user unit dir, reloads, enables+starts, and mentions linger."""
    assert SystemdService(program=program).install() == 0
    unit_dir = home / ".config" / "systemd" / "user"
    service_text = (unit_dir / "bhogad.service").read_text()
    assert f"ExecStart={program[0]}\n" in service_text
    assert "ListenStream=%t/bhoga/bhogad.sock" in (unit_dir / "bhogad.socket").read_text()
    assert _calls(fake_tools) == [
        "systemctl --user daemon-reload",
        "systemctl --user is-active --quiet bhogad.service",
        "systemctl --user enable --now bhogad.socket bhogad.service",
    ]
    out = capsys.readouterr()
    assert "loginctl enable-linger" in out.out
    assert out.err == ""


def test_reinstall_rewrites_only_changed_content(
    home: Path, fake_tools: Path, program: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An identical render leaves the files (inode, mtime) alone and skips daemon-reload; a new path restarts."""
    svc = SystemdService(program=program)
    assert svc.install() == 0
    path = svc.main_file()
    before = path.stat()
    _calls(fake_tools)
    assert svc.install() == 0
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert "systemctl --user daemon-reload" not in _calls(fake_tools)

    moved = tmp_path / "other venv" / "bin" / "bhogad"
    moved.parent.mkdir(parents=True)
    moved.write_text("#!/bin/sh\n")
    moved.chmod(0o755)
    monkeypatch.setenv("FAKE_ACTIVE", "1")
    assert SystemdService(program=[str(moved)]).install() == 0
    assert f'ExecStart="{moved}"' in path.read_text()
    calls = _calls(fake_tools)
    assert calls[0] == "systemctl --user daemon-reload"
    assert calls[-1] == "systemctl --user try-restart bhogad.service"


def test_no_enable_writes_and_reloads_only(home: Path, fake_tools: Path, program: list[str]) -> None:
    """--no-enable: files written and the manager reloaded, nothing enabled or started."""
    assert SystemdService(program=program).install(enable=False) == 0
    assert _calls(fake_tools) == ["systemctl --user daemon-reload"]
    assert (home / ".config/systemd/user/bhogad.service").is_file()


def test_dry_run_prints_and_changes_nothing(
    home: Path, fake_tools: Path, program: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run prints the rendered units with their destinations and neither writes nor calls systemctl."""
    assert service.install(dry_run=True, program=program) == 0
    out = capsys.readouterr().out
    assert f"# {home}/.config/systemd/user/bhogad.service" in out
    assert f"ExecStart={program[0]}" in out
    assert "ListenStream=%t/bhoga/bhogad.sock" in out
    assert not (home / ".config/systemd").exists()
    assert _calls(fake_tools) == []


def test_unreachable_manager_is_one_line_and_exit_1(
    fake_tools: Path,
    program: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A failing systemctl gives exit 1 and one stderr line naming the fix; --no-enable tolerates it."""
    monkeypatch.setenv("FAKE_FAIL", "daemon-reload")
    assert SystemdService(program=program).install() == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("bhogad: ") and "systemctl --user enable --now bhogad" in err[0]
    assert "Failed to connect to bus" in err[0]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "fresh-config"))
    assert SystemdService(program=program).install(enable=False) == 0
    assert "not reachable" in capsys.readouterr().out


def test_enable_failure_is_reported(
    fake_tools: Path, program: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """systemctl enable failing (e.g. the daemon never signalled READY) gives exit 1 with its message."""
    monkeypatch.setenv("FAKE_FAIL", "enable")
    assert SystemdService(program=program).install() == 1
    err = capsys.readouterr().err
    assert "enable --now bhogad failed: Failed to connect to bus" in err
    assert "Traceback" not in err


def test_missing_systemctl(
    tmp_path: Path, program: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without systemctl on PATH install reports it in one line (exit 1) instead of a traceback."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert SystemdService(program=program).install() == 1
    assert "systemctl not found" in capsys.readouterr().err


def test_unwritable_unit_dir(
    home: Path, fake_tools: Path, program: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A unit directory that cannot be created is one error line and exit 1, nothing else attempted."""
    (home / ".config").write_text("not a directory")
    assert SystemdService(program=program).install() == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bhogad: cannot write")
    assert _calls(fake_tools) == []


def test_uninstall_reverses_install(
    home: Path, fake_tools: Path, program: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """uninstall disables and stops, removes the units and their *.wants links, and reloads; twice is fine."""
    svc = SystemdService(program=program)
    assert svc.install() == 0
    unit_dir = home / ".config/systemd/user"
    wants = unit_dir / "default.target.wants"
    wants.mkdir()
    (wants / "bhogad.service").symlink_to(unit_dir / "bhogad.service")
    _calls(fake_tools)
    assert _installed_here(svc)
    assert svc.uninstall() == 0
    assert sorted(p.name for p in unit_dir.rglob("*") if not p.is_dir()) == []
    assert not (wants / "bhogad.service").is_symlink()
    assert _calls(fake_tools) == [
        "systemctl --user disable --now bhogad.service bhogad.socket",
        "systemctl --user daemon-reload",
        "systemctl --user reset-failed bhogad.service bhogad.socket",
    ]
    capsys.readouterr()
    assert svc.uninstall() == 0
    assert "no systemd user service installed" in capsys.readouterr().out
    assert _calls(fake_tools) == []


def _installed_here(svc: SystemdService) -> bool:
    """The public helper agrees with the backend on Linux."""
    if sys.platform.startswith("linux"):
        assert service.service_installed() is True
        assert service.service_file_path() == svc.main_file()
    return svc.installed()


def test_socket_override_reaches_both_units(
    home: Path, fake_tools: Path, program: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BHOGA_SOCKET at install time becomes ListenStream= and the daemon's BHOGA_SOCKET."""
    sock = tmp_path / "s" / "b.sock"
    monkeypatch.setenv("BHOGA_SOCKET", str(sock))
    assert SystemdService(program=program).install(enable=False) == 0
    unit_dir = home / ".config/systemd/user"
    assert f"ListenStream={sock}\n" in (unit_dir / "bhogad.socket").read_text()
    assert f'"BHOGA_SOCKET={sock}"' in (unit_dir / "bhogad.service").read_text()
    monkeypatch.setenv("BHOGA_SOCKET", "relative.sock")
    assert SystemdService(program=program).install(enable=False) == 1


def test_launchd_install_and_uninstall(
    home: Path, fake_tools: Path, program: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The LaunchAgent is written, its log dir created, bootstrapped in gui/UID, and booted out on uninstall."""
    agent = LaunchdService(program=program)
    assert agent.install() == 0
    plist = home / "Library/LaunchAgents/io.bhoga.bhogad.plist"
    data = plistlib.loads(plist.read_bytes())
    assert data["ProgramArguments"] == program
    assert (home / "Library/Logs/bhoga").is_dir()
    uid = os.getuid()
    # The stand-in's `print` succeeds, so the job counts as loaded; a fresh file is booted out and in again.
    assert _calls(fake_tools) == [
        f"launchctl print gui/{uid}/io.bhoga.bhogad",
        f"launchctl bootout gui/{uid}/io.bhoga.bhogad",
        f"launchctl bootstrap gui/{uid} {plist}",
    ]
    assert agent.install() == 0
    assert _calls(fake_tools) == [f"launchctl print gui/{uid}/io.bhoga.bhogad"]
    assert agent.uninstall() == 0
    assert not plist.exists()
    assert _calls(fake_tools) == [
        f"launchctl print gui/{uid}/io.bhoga.bhogad",
        f"launchctl bootout gui/{uid}/io.bhoga.bhogad",
    ]
    assert capsys.readouterr().err == ""


def test_program_is_the_bhogad_script_we_run_as(tmp_path: Path) -> None:
    """Run as a `bhogad` script, the unit's ExecStart is that script's absolute path."""
    script = tmp_path / "pipx venv" / "bin" / "bhogad"
    script.parent.mkdir(parents=True)
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\n"
        "from bhogad.service import program_argv\nprint(program_argv())\n"
    )
    script.chmod(0o755)
    out = subprocess.run([str(script)], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == repr([str(script)])


def test_program_for_python_m_is_the_venv_script() -> None:
    """Run as `python -m`, the unit points at the bhogad beside the interpreter (the venv's bin)."""
    code = "from bhogad.service import program_argv; print(program_argv()[0])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    expected = Path(sys.executable).parent / "bhogad"
    if expected.is_file():
        assert out.stdout.strip() == str(expected)
    else:
        assert Path(out.stdout.strip()).is_absolute()


def test_path_variables_are_carried_and_secrets_are_not(
    home: Path, fake_tools: Path, program: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """HERMES_HOME & co. set at install time reach the unit and the plist; API keys never do."""
    secret = "sk-ant-api03-FAKE-SECRET-do-not-store"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    monkeypatch.setenv("OPENROUTER_API_KEY", secret)
    monkeypatch.setenv("HERMES_HOME", str(home / "hermes profile"))
    monkeypatch.setenv("CODEX_HOME", "~/codex")
    assert SystemdService(program=program).install(enable=False) == 0
    assert LaunchdService(program=program).install(enable=False) == 0
    unit = (home / ".config/systemd/user/bhogad.service").read_text()
    assert f'"HERMES_HOME={home}/hermes profile"' in unit
    assert f'"CODEX_HOME={home}/codex"' in unit
    plist = home / "Library/LaunchAgents/io.bhoga.bhogad.plist"
    env = plistlib.loads(plist.read_bytes())["EnvironmentVariables"]
    assert env["HERMES_HOME"] == f"{home}/hermes profile"
    for path in [*home.rglob("*")]:
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


def test_relative_path_variable_is_a_one_line_error(
    fake_tools: Path, program: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A relative HERMES_HOME cannot mean anything to the service: exit 1 with one line naming it."""
    monkeypatch.setenv("HERMES_HOME", "hermes")
    assert SystemdService(program=program).install() == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "HERMES_HOME must be an absolute path" in err[0]
    assert _calls(fake_tools) == []
