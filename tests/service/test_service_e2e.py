"""bhogad under a real, unprivileged `systemd --user` manager started by the test (DAEMON.md §1.7).

The test needs root (to delegate a cgroup and drop privileges) and the systemd package; it creates the test user
with scripts/user-systemd.sh when missing. Per run it creates, and afterwards removes: /run/user/<uid>, a cgroup
in each hierarchy the manager uses, a pipx-like venv in the user's home holding this checkout, and the manager,
which runs in a private mount namespace where /run/systemd/system exists (so the host is never made to look
systemd-booted). A root user manager is never started.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = REPO / "scripts" / "user-systemd.sh"
SYSTEMD = Path(os.environ.get("BHOGA_E2E_SYSTEMD", "/lib/systemd/systemd"))
E2E_USER = os.environ.get("BHOGA_E2E_USER", "bhoga-e2e")
DEPENDENCIES = ("watchdog", "PyYAML", "schedule", "platformdirs", "msgspec")
PYTHON_CANDIDATES = (
    "/usr/bin/python3.13",
    "/usr/bin/python3.12",
    "/usr/bin/python3.11",
    "/usr/bin/python3",
    "/usr/local/bin/python3",
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

_PING = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(b'{"v":1,"op":"ping"}\\n')
buf = b""
while not buf.endswith(b"\\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print(buf.decode().strip())
"""


def _cannot_host() -> str | None:
    """Why this machine cannot run an unprivileged user manager for the test, or None."""
    if not sys.platform.startswith("linux"):
        return f"systemd user managers exist only on Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "needs root to delegate a cgroup and start a manager as the test user (run the suite as root in CI)"
    for tool in ("setpriv", "unshare", "systemctl", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.access(SYSTEMD, os.X_OK):
        return f"{SYSTEMD} not found (the systemd package is not installed)"
    if not _cgroup_roots():
        return "no writable cgroup hierarchy under /sys/fs/cgroup"
    return None


def _cgroup_roots() -> list[Path]:
    """The hierarchies a user manager tracks its processes in: unified (v2) and/or name=systemd (v1)."""
    base = Path("/sys/fs/cgroup")
    if (base / "cgroup.controllers").exists():
        return [base]
    roots = [p for p in (base / "systemd", base / "unified") if (p / "cgroup.procs").exists()]
    return [p for p in roots if os.access(p, os.W_OK)]


@dataclass
class UserManager:
    """A running `systemd --user` for the test user, and how to run commands as that user."""

    user: pwd.struct_passwd
    runtime_dir: Path
    venv: Path
    log: Path

    @property
    def home(self) -> Path:
        return Path(self.user.pw_dir)

    @property
    def daemon_log(self) -> Path:
        return self.home / "bhogad-e2e.log"

    def env(self) -> list[str]:
        return [
            f"HOME={self.home}",
            f"USER={self.user.pw_name}",
            f"LOGNAME={self.user.pw_name}",
            f"PATH={self.venv / 'bin'}:/usr/bin:/bin",
            f"XDG_RUNTIME_DIR={self.runtime_dir}",
            "BHOGA_OFFLINE=1",
        ]

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [*_drop(self.user), "env", "-i", *self.env(), *argv]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, cwd="/")

    def systemctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("systemctl", "--user", "--no-pager", *args)

    def show(self, unit: str, *props: str) -> dict[str, str]:
        units = [unit] if unit else []  # no unit: the manager's own properties
        out = self.systemctl("show", *units, *(f"--property={p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                status = self.systemctl("status", "bhogad.service", "bhogad.socket").stdout
                daemon = self.daemon_log.read_text()[-4000:] if self.daemon_log.exists() else "(none)"
                pytest.fail(f"timed out waiting for {what}\n{status}\n--- bhogad log ---\n{daemon}")
            time.sleep(0.25)

    def ping(self) -> dict[str, object]:
        sock = self.runtime_dir / "bhoga" / "bhogad.sock"
        result = self.run(str(self.venv / "bin" / "python"), "-c", _PING, str(sock), timeout=60)
        assert result.returncode == 0, result.stderr
        reply: dict[str, object] = json.loads(result.stdout)
        return reply


def _drop(user: pwd.struct_passwd) -> list[str]:
    # Empty capability sets too: with only the uids changed, root's bounding set let the user reach /root.
    return [
        "setpriv",
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--init-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
    ]


def _ensure_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(E2E_USER)
    except KeyError:
        pass
    result = subprocess.run(
        ["sh", str(SETUP_SCRIPT), "setup"], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/user-systemd.sh setup failed: {result.stderr.strip() or result.stdout.strip()}")
    return pwd.getpwnam(E2E_USER)


def _user_python(user: pwd.struct_passwd) -> str:
    """A Python >= 3.11 the test user may execute (the suite's own interpreter may live under /root)."""
    for cand in (os.path.realpath(sys.executable), *PYTHON_CANDIDATES):
        if not os.path.isfile(cand):
            continue
        # Through sh: setpriv itself quietly ran a different python when the path was not executable.
        probe = subprocess.run(
            [*_drop(user), "sh", "-c", 'exec "$0" -c "import sys; sys.exit(sys.version_info < (3, 11))"', cand],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if probe.returncode == 0:
            return cand
    pytest.skip(f"no Python >= 3.11 that user {user.pw_name} can execute (tried {', '.join(PYTHON_CANDIDATES)})")


def _copy_distribution(name: str, site: Path) -> None:
    """Copy an installed distribution's files (code and dist-info) into another venv, as pip would lay them."""
    dist = importlib.metadata.distribution(name)
    for rel in dist.files or ():
        if rel.parts[0] == ".." or "__pycache__" in rel.parts:
            continue
        src = Path(str(dist.locate_file(rel)))
        if src.is_file():
            dst = site / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def _build_venv(user: pwd.struct_passwd) -> Path:
    """A pipx-like venv in the user's home with this checkout of bhoga installed (no network needed)."""
    home = Path(user.pw_dir)
    venv = home / ".local/share/pipx/venvs/bhoga"
    shutil.rmtree(venv, ignore_errors=True)
    python = _user_python(user)
    (home / ".local/share/pipx/venvs").mkdir(parents=True, exist_ok=True)
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(home / ".local")], check=True, timeout=60)
    made = subprocess.run(
        [*_drop(user), python, "-m", "venv", "--without-pip", str(venv)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if made.returncode != 0:
        pytest.fail(f"cannot create a venv for {user.pw_name} with {python}: {made.stderr.strip()}")
    site = Path(
        subprocess.run(
            [str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
    )
    for dep in DEPENDENCIES:
        _copy_distribution(dep, site)
    for pkg in ("bhoga", "bhogad"):
        shutil.copytree(REPO / pkg, site / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    info = site / f"bhoga-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: bhoga\nVersion: {version}\n")
    (info / "entry_points.txt").write_text("[console_scripts]\nbhoga = bhoga.cli:main\nbhogad = bhogad.main:main\n")
    (info / "INSTALLER").write_text("bhoga-e2e-test\n")
    for script, module in (("bhoga", "bhoga.cli"), ("bhogad", "bhogad.main")):
        p = venv / "bin" / script
        p.write_text(f"#!{venv / 'bin/python'}\nimport sys\nfrom {module} import main\nsys.exit(main())\n")
        p.chmod(0o755)
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(venv)], check=True, timeout=60)
    check = subprocess.run(
        [
            *_drop(user),
            str(venv / "bin/python"),
            "-c",
            "import bhogad.main, bhogad.daemon, bhogad.service, watchdog.observers, yaml, schedule, platformdirs",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check.returncode != 0:
        pytest.fail(f"the test user's venv cannot import bhogad: {check.stderr.strip().splitlines()[-1:]}")
    return venv


def _kill_cgroup(cgroups: list[Path]) -> None:
    """Kill what is left in the test's cgroups (only processes this test started live there), then rmdir them."""
    for root in cgroups:
        if not root.exists():
            continue
        for procs in root.rglob("cgroup.procs"):
            for pid in procs.read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
    deadline = time.monotonic() + 30
    for root in cgroups:
        subdirs = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for d in [*subdirs, root]:
            while d.exists():
                try:
                    d.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.1)


def _clean_home(user: pwd.struct_passwd) -> None:
    """Remove what a run leaves in the test user's home (units, bhoga state), so runs start alike."""
    home = Path(user.pw_dir)
    (home / "bhogad-e2e.log").unlink(missing_ok=True)
    for leftover in (".config/systemd", ".config/bhoga", ".cache/bhoga", ".local/state/bhoga", ".hermes"):
        shutil.rmtree(home / leftover, ignore_errors=True)


@pytest.fixture
def user_manager(tmp_path: Path) -> Iterator[UserManager]:
    """Start `systemd --user` as the unprivileged test user; stop it and remove its traces afterwards."""
    reason = _cannot_host()
    if reason:
        print(f"SKIP test_service_e2e: {reason}", file=sys.stderr)
        pytest.skip(reason)
    user = _ensure_user()
    if user.pw_uid == 0:
        pytest.fail(f"{E2E_USER} is root; the e2e test never starts a root user manager")
    with _one_suite_at_a_time():
        yield from _run_manager(user, tmp_path)


@contextlib.contextmanager
def _one_suite_at_a_time() -> Iterator[None]:
    """Two suites on one machine share the test user, its runtime dir and home: the second waits its turn
    instead of having its manager's jobs cancelled by the first one's clean-up."""
    path = Path(tempfile.gettempdir()) / f"bhoga-e2e-{E2E_USER}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _run_manager(user: pwd.struct_passwd, tmp_path: Path) -> Iterator[UserManager]:
    _clean_home(user)
    runtime = Path(f"/run/user/{user.pw_uid}")
    cgroups = [root / f"bhoga-e2e-{uuid.uuid4().hex[:8]}" for root in _cgroup_roots()]
    made_run_systemd = not Path("/run/systemd").exists()
    proc: subprocess.Popen[bytes] | None = None
    try:
        venv = _build_venv(user)
        if runtime.exists():
            shutil.rmtree(runtime)
        runtime.mkdir(parents=True, mode=0o700)
        os.chown(runtime, user.pw_uid, user.pw_gid)
        for cg in cgroups:
            cg.mkdir()
            subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(cg)], check=True, timeout=30)
        # Only a mount point: the manager sees a private tmpfs there, the host keeps what it had.
        Path("/run/systemd").mkdir(exist_ok=True)
        log = tmp_path / "manager.log"
        with log.open("w") as log_file:
            proc = subprocess.Popen(
                ["sh", "-c", _manager_script(user, runtime, cgroups)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        mgr = UserManager(user=user, runtime_dir=runtime, venv=venv, log=log)
        started = proc

        def ready() -> bool:
            if started.poll() is not None:
                pytest.fail(f"systemd --user exited with {started.returncode}:\n{log.read_text()}")
            return mgr.show("", "SystemState").get("SystemState") in ("running", "degraded")

        mgr.wait_for("the user manager to come up", ready, timeout=60)
        yield mgr
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()  # a user manager stops its units and exits on SIGTERM
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        _kill_cgroup([cg for cg in cgroups if cg.exists()])
        shutil.rmtree(runtime, ignore_errors=True)
        shutil.rmtree(Path(user.pw_dir) / ".local/share/pipx/venvs/bhoga", ignore_errors=True)
        _clean_home(user)
        if made_run_systemd:
            with contextlib.suppress(OSError):
                Path("/run/systemd").rmdir()


def _manager_script(user: pwd.struct_passwd, runtime: Path, cgroups: list[Path]) -> str:
    """Shell that joins the delegated cgroups, then runs the manager as the user in a private mount namespace."""
    manager_env = " ".join(
        [
            f"HOME={user.pw_dir}",
            f"USER={user.pw_name}",
            f"LOGNAME={user.pw_name}",
            "PATH=/usr/bin:/bin",
            f"XDG_RUNTIME_DIR={runtime}",
            "SYSTEMD_LOG_TARGET=console",
            # Inherited by bhogad: no network discovery, and any stray URL points at a closed loopback port.
            "BHOGA_OFFLINE=1",
            "BHOGA_ANTHROPIC_BASE_URL=http://127.0.0.1:9",
            "BHOGA_CHATGPT_BASE_URL=http://127.0.0.1:9",
            "BHOGA_GITHUB_API_URL=http://127.0.0.1:9",
        ]
    )
    # /run/systemd/system makes the manager believe systemd is booted; unit-root is where a v252 manager
    # assembles a namespaced unit's mounts and an unprivileged one cannot create it: without it every unit with
    # PrivateUsers=/ProtectSystem= fails with 226/NAMESPACE.
    inner = (
        "mount -t tmpfs -o mode=0755 tmpfs /run/systemd && mkdir /run/systemd/system "
        "&& mkdir -m 0700 /run/systemd/unit-root "
        f"&& exec {' '.join(_drop(user))} env -i {manager_env} {SYSTEMD} --user"
    )
    enter = "; ".join(f"echo $$ > {cg}/cgroup.procs" for cg in cgroups)
    return f"{enter}; exec unshare --mount --propagation private sh -c '{inner}'"


def test_bhogad_under_a_real_user_manager(user_manager: UserManager) -> None:
    """install → enable --now → active (running) → ping → kill -9 restarts it → stop is clean → uninstall."""
    mgr = user_manager
    bhogad = str(mgr.venv / "bin" / "bhogad")

    installed = mgr.run(bhogad, "install", "--no-enable")
    assert installed.returncode == 0, installed.stderr
    unit = mgr.home / ".config/systemd/user/bhogad.service"
    assert f"ExecStart={bhogad}\n" in unit.read_text()

    # Test aid only: no journald here, so keep bhogad's own log in a file for failure messages.
    logs = mgr.home / ".config/systemd/user/bhogad.service.d"
    logs.mkdir(parents=True)
    (logs / "test-log.conf").write_text(f"[Service]\nStandardOutput=append:{mgr.daemon_log}\nStandardError=inherit\n")
    subprocess.run(["chown", "-R", f"{mgr.user.pw_uid}:{mgr.user.pw_gid}", str(logs)], check=True, timeout=30)

    enabled = mgr.systemctl("enable", "--now", "bhogad")
    assert enabled.returncode == 0, enabled.stderr + mgr.systemctl("status", "bhogad").stdout
    assert "sockets.target.wants/bhogad.socket" in enabled.stderr  # Also= enabled the socket too

    def running() -> bool:
        p = mgr.show("bhogad.service", "ActiveState", "SubState", "MainPID")
        return (p.get("ActiveState"), p.get("SubState")) == ("active", "running") and p.get("MainPID") != "0"

    mgr.wait_for("bhogad to be active (running)", running)
    assert "active (running)" in mgr.systemctl("status", "bhogad").stdout
    assert mgr.ping().get("ok") is True

    first = int(mgr.show("bhogad.service", "MainPID")["MainPID"])
    os.kill(first, signal.SIGKILL)

    def restarted() -> bool:
        p = mgr.show("bhogad.service", "MainPID", "NRestarts")
        return running() and p.get("MainPID") not in ("0", str(first)) and int(p.get("NRestarts", "0")) >= 1

    mgr.wait_for("systemd to restart bhogad after kill -9", restarted)
    assert mgr.ping().get("ok") is True

    # The watchdog, shortened by a drop-in as a user would: a live loop keeps pinging, a frozen one is replaced.
    (logs / "watchdog.conf").write_text("[Service]\nWatchdogSec=2\nTimeoutAbortSec=2\n")
    assert mgr.systemctl("daemon-reload").returncode == 0
    assert mgr.systemctl("restart", "bhogad").returncode == 0
    mgr.wait_for("bhogad to run with WatchdogSec=2", running)
    pinged = mgr.show("bhogad.service", "MainPID", "NRestarts", "WatchdogUSec")
    assert pinged["WatchdogUSec"] == "2s", pinged
    time.sleep(6)  # three watchdog periods: without WATCHDOG=1 from the loop systemd would have killed it
    assert mgr.show("bhogad.service", "MainPID", "NRestarts", "WatchdogUSec") == pinged
    assert mgr.ping().get("ok") is True
    frozen = int(pinged["MainPID"])
    os.kill(frozen, signal.SIGSTOP)

    results: set[str] = set()

    def replaced() -> bool:
        p = mgr.show("bhogad.service", "MainPID", "NRestarts", "Result")
        results.add(p.get("Result", ""))  # "watchdog" while it waits RestartSec before starting again
        return running() and p.get("MainPID") not in ("0", str(frozen)) and p["NRestarts"] != pinged["NRestarts"]

    mgr.wait_for("the watchdog to replace a frozen bhogad", replaced)
    assert "watchdog" in results, results
    assert mgr.ping().get("ok") is True

    stopped = mgr.systemctl("stop", "bhogad")
    assert stopped.returncode == 0, stopped.stderr
    after = mgr.show("bhogad.service", "ActiveState", "Result", "ExecMainStatus", "ExecMainCode")
    assert after["ActiveState"] == "inactive", after
    assert after["Result"] == "success", after  # a clean stop: exit 0 (or SIGTERM), no failure recorded
    time.sleep(7)  # longer than RestartSec=5: a clean stop must not be followed by a restart
    assert mgr.show("bhogad.service", "ActiveState")["ActiveState"] == "inactive"

    removed = mgr.run(bhogad, "uninstall")
    assert removed.returncode == 0, removed.stderr
    assert not unit.exists()
    assert not (mgr.home / ".config/systemd/user/bhogad.socket").exists()
    assert mgr.show("bhogad.service", "LoadState")["LoadState"] == "not-found"
    assert not (mgr.runtime_dir / "bhoga" / "bhogad.sock").exists()
