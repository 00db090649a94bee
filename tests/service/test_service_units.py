"""The rendered systemd units and launchd plist: verified by systemd-analyze and plistlib, not by eye."""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bhogad.service._examples import example_files
from bhogad.service._render import (
    LAUNCHD_LABEL,
    load_template,
    render_plist,
    render_service,
    render_socket,
    systemd_escape_arg,
)

REPO = Path(__file__).resolve().parents[2]

needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def _program(tmp_path: Path, dirname: str) -> Path:
    """An executable `bhogad` script in a directory with the given (possibly awkward) name."""
    d = tmp_path / dirname / "bin"
    d.mkdir(parents=True)
    p = d / "bhogad"
    p.write_text(f"#!{sys.executable}\nraise SystemExit(0)\n")
    p.chmod(0o755)
    return p


def _verify(unit_dir: Path, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "--user", "verify", "--man=no", *(str(unit_dir / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _write_units(unit_dir: Path, service: str, socket: str) -> None:
    unit_dir.mkdir(parents=True, exist_ok=True)
    (unit_dir / "bhogad.service").write_text(service)
    (unit_dir / "bhogad.socket").write_text(socket)


def _service_keys(text: str) -> dict[str, list[str]]:
    """Key → values of the [Service] section (systemd allows repeated keys such as Environment=)."""
    section = ""
    out: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


@needs_analyze
@pytest.mark.parametrize("dirname", ["venv", "my venv", "50%off", "dollar$venv"])
def test_rendered_units_pass_systemd_analyze_verify_with_empty_stderr(tmp_path: Path, dirname: str) -> None:
    """systemd-analyze --user verify accepts the rendered service and socket without one warning."""
    program = _program(tmp_path, dirname)
    unit_dir = tmp_path / "units"
    _write_units(unit_dir, render_service([str(program)]), render_socket())
    result = _verify(unit_dir, "bhogad.service", "bhogad.socket")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@needs_analyze
def test_verify_with_socket_override_and_python_m_form(tmp_path: Path) -> None:
    """A BHOGA_SOCKET path and a `python -m bhogad` command line render to units systemd accepts."""
    unit_dir = tmp_path / "units"
    sock = str(tmp_path / "sock dir" / "bhogad.sock")
    argv = [sys.executable, "-m", "bhogad", "--config", "/x y/50%$.toml"]
    env = {"BHOGA_SOCKET": sock, "HERMES_HOME": "/home/a/my hermes/50%"}
    _write_units(unit_dir, render_service(argv, environment=env), render_socket(sock))
    result = _verify(unit_dir, "bhogad.service", "bhogad.socket")
    assert (result.returncode, result.stderr) == (0, "")


@needs_analyze
def test_verify_stderr_check_catches_a_bad_value(tmp_path: Path) -> None:
    """The empty-stderr check can fail: a misspelt Restart= value exits 0 but warns on stderr."""
    program = _program(tmp_path, "venv")
    unit_dir = tmp_path / "units"
    bad = render_service([str(program)]).replace("Restart=on-failure", "Restart=onfailure")
    _write_units(unit_dir, bad, render_socket())
    result = _verify(unit_dir, "bhogad.service", "bhogad.socket")
    assert result.returncode == 0
    assert "onfailure" in result.stderr


def test_service_unit_has_the_required_settings(tmp_path: Path) -> None:
    """Type=notify, a watchdog, restart on failure, socket activation, and no MemoryDenyWriteExecute."""
    program = _program(tmp_path, "venv")
    text = render_service([str(program)])
    keys = _service_keys(text)
    assert keys["Type"] == ["notify"]
    assert keys["NotifyAccess"] == ["main"]
    assert keys["Restart"] == ["on-failure"]
    assert int(keys["WatchdogSec"][0]) >= 30  # the daemon's loop sleeps at most ~30 s between pings
    assert keys["ExecStart"] == [str(program)]
    assert "MemoryDenyWriteExecute" not in keys
    assert "ProtectHome" not in keys
    assert keys["PrivateUsers"] == ["yes"]  # without it a v252 user manager ignores or rejects the rest
    assert f'"PATH={program.parent}:%h/.local/bin:/usr/local/bin:/usr/bin:/bin"' in keys["Environment"]
    assert "Requires=bhogad.socket" in text
    assert "Also=bhogad.socket" in text
    assert "ListenStream=%t/bhoga/bhogad.sock" in render_socket()
    assert "SocketMode=0600" in render_socket()


def test_exec_start_escaping() -> None:
    """Spaces, % and $ in the program path reach ExecStart= literally."""
    assert systemd_escape_arg("/opt/bhoga/bin/bhogad") == "/opt/bhoga/bin/bhogad"
    assert systemd_escape_arg("/a b/bhogad") == '"/a b/bhogad"'
    assert systemd_escape_arg("/50%/bhogad") == "/50%%/bhogad"
    assert systemd_escape_arg("/x$y/bhogad", program=True) == "/x$y/bhogad"
    assert systemd_escape_arg("--config=$HOME") == "--config=$$HOME"
    assert systemd_escape_arg('/q"uote/bhogad') == '"/q\\"uote/bhogad"'


def test_relative_program_is_refused() -> None:
    """A relative ExecStart would depend on the manager's PATH: rendering refuses it."""
    with pytest.raises(ValueError, match="absolute"):
        render_service(["bhogad"])
    with pytest.raises(ValueError, match="absolute"):
        render_plist(["bhogad"], Path("/Users/alice"))


def test_plist_types_paths_and_label(tmp_path: Path) -> None:
    """The plist parses, every key has launchd's type, paths are absolute and the label matches the file."""
    home = Path("/Users/alice & bob <x>")
    argv = [str(home / ".local/pipx/venvs/bhoga/bin/bhogad")]
    data = plistlib.loads(render_plist(argv, home))
    assert data["Label"] == LAUNCHD_LABEL
    assert f"{data['Label']}.plist" == "io.bhoga.bhogad.plist"
    assert data["ProgramArguments"] == argv
    assert all(isinstance(a, str) for a in data["ProgramArguments"])
    assert data["RunAtLoad"] is True
    assert data["KeepAlive"] == {"SuccessfulExit": False}
    assert data["ProcessType"] in {"Background", "Standard", "Adaptive", "Interactive"}
    assert data["ProcessType"] == "Background"
    for key in ("ThrottleInterval", "ExitTimeOut", "Umask"):
        assert type(data[key]) is int, key
    assert data["Umask"] == 0o077
    assert isinstance(data["LowPriorityIO"], bool)
    env = data["EnvironmentVariables"]
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    assert env["PATH"].split(":")[0] == str(Path(argv[0]).parent)
    for key in ("StandardOutPath", "StandardErrorPath", "WorkingDirectory"):
        value = data[key]
        assert isinstance(value, str) and Path(value).is_absolute(), key
        assert "~" not in value and "$" not in value and "@" not in value, key
    assert data["StandardOutPath"] == str(home / "Library/Logs/bhoga/bhogad.log")
    assert "Sockets" not in data  # bhogad binds its own socket on macOS


def test_plist_python_m_form_keeps_every_argument() -> None:
    """The `python -m bhogad` fallback expands into three ProgramArguments strings."""
    argv = ["/usr/local/bin/python3", "-m", "bhogad"]
    assert plistlib.loads(render_plist(argv, Path("/Users/a")))["ProgramArguments"] == argv


def test_templates_have_no_unknown_placeholders() -> None:
    """Every @PLACEHOLDER@ in the shipped templates is one the renderer fills."""
    assert "@" not in render_socket().replace("%t", "")
    for name, known in (
        ("bhogad.service", {"@EXEC_START@", "@ENVIRONMENT@"}),
        ("bhogad.socket", {"@LISTEN_STREAM@"}),
        (f"{LAUNCHD_LABEL}.plist", {"@PROGRAM@", "@HOME@", "@LOG_DIR@", "@PATH@"}),
    ):
        found = set(re.findall(r"@[A-Z_]+@", load_template(name)))
        assert found == known, name


def test_repository_examples_match_the_templates() -> None:
    """systemd/ and launchd/ are renders of bhogad/units/; run `python -m bhogad.service._examples` to refresh."""
    for rel, data in example_files().items():
        path = REPO / rel
        assert path.is_file(), rel
        assert path.read_bytes() == data, f"{rel} drifted from bhogad/units/"


def test_templates_ship_as_package_data() -> None:
    """pyproject lists units/* as bhogad package data and every template is a readable file there."""
    text = (REPO / "pyproject.toml").read_text()
    assert '"units/*"' in text
    units = REPO / "bhogad" / "units"
    names = sorted(p.name for p in units.iterdir())
    assert names == sorted(["bhogad.service", "bhogad.socket", f"{LAUNCHD_LABEL}.plist"])
    for p in units.iterdir():
        assert stat.S_ISREG(os.stat(p).st_mode)
