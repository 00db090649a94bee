"""bhogad.toml parsing, the scheduler wrapper, suspend detection, the instance lock and the watch targets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bhoga._paths import daemon_config_path
from bhoga.discovery.codex_files import ROLLOUT
from bhoga.errors import ConfigError
from bhogad import targets
from bhogad.config import DaemonConfig, load_config
from bhogad.instance import AlreadyRunning, InstanceLock
from bhogad.scheduler import Periodic, ResumeDetector


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_missing_file_gives_defaults() -> None:
    """No bhogad.toml means the documented defaults and no path."""
    cfg = load_config()
    assert cfg == DaemonConfig()
    assert cfg.path is None
    assert (cfg.reserve, cfg.margin, cfg.policy, cfg.interval) == (0.10, 0.10, "value", 300.0)


def test_every_key_is_read(tmp_path: Path) -> None:
    """All eight keys are parsed; percent points and fractions both work for reserve and margin."""
    p = write(
        daemon_config_path(),
        'models = ["claude-opus-4", "gpt-5.5", "claude-opus-4"]\nreserve = 15\nmargin = 0.2\n'
        'policy = "drain-soonest"\ninterval = 120\nwrite_auxiliary = true\nwrite_fallbacks = true\npaused = true\n',
    )
    cfg = load_config()
    assert cfg.models == ("claude-opus-4", "gpt-5.5")
    assert cfg.reserve == pytest.approx(0.15)
    assert cfg.margin == pytest.approx(0.2)
    assert cfg.policy == "drain-soonest"
    assert cfg.interval == 120.0
    assert cfg.write_auxiliary and cfg.write_fallbacks and cfg.paused
    assert cfg.path == p


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("reserve = 'x'", "reserve must be a number"),
        ("reserve = 150", "between 0 and 100"),
        ("policy = 'cheapest'", "policy must be one of"),
        ("interval = 10", "at least 60 seconds"),
        ("paused = 'yes'", "paused must be true or false"),
        ("models = [1]", "models must be a list"),
        ("modles = ['x']", "unknown key 'modles'"),
        ("models = [", "invalid TOML"),
    ],
)
def test_invalid_file_is_one_line_error_naming_file(tmp_path: Path, text: str, fragment: str) -> None:
    """Each kind of mistake is a ConfigError whose single line names the file and the problem."""
    p = write(tmp_path / "bhogad.toml", text + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert fragment in msg and str(p) in msg and "\n" not in msg


def test_bhogad_exits_2_on_invalid_config(tmp_path: Path) -> None:
    """`bhogad --once` with a broken bhogad.toml prints one line and exits 2, without a traceback."""
    p = write(tmp_path / "bad.toml", "interval = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bhogad", "--once", "--config", str(p)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "at least 60 seconds" in proc.stderr and "Traceback" not in proc.stderr


def test_periodic_job_exception_does_not_cancel_the_job(caplog: pytest.LogCaptureFixture) -> None:
    """A failing job is logged and stays scheduled (schedule would otherwise drop it)."""
    runs: list[int] = []

    def job() -> None:
        runs.append(1)
        raise RuntimeError("boom")

    per = Periodic(60, job, name="discovery")
    sched = per._scheduler
    for _ in range(3):
        for j in sched.jobs:
            j.next_run = j.next_run.replace(year=2000)
        per.run_pending()
    assert len(runs) == 3
    assert len(sched.jobs) == 1
    assert "discovery failed: RuntimeError: boom" in caplog.text


def test_periodic_interval_is_jittered_upwards_and_replaced() -> None:
    """The job's period is drawn between the interval and +10 %, and set_interval replaces the job."""
    per = Periodic(300, lambda: None)
    (job,) = per._scheduler.jobs
    assert (job.interval, job.latest) == (300, 330)
    per.set_interval(600)
    (job,) = per._scheduler.jobs
    assert (job.interval, job.latest) == (600, 660)
    assert 0 < per.idle_seconds() <= 660


def test_resume_detector_sees_suspend_but_not_clock_steps_back() -> None:
    """A wall-clock jump with no monotonic progress is a resume; a backwards step is not."""
    clock = {"wall": 1000.0, "mono": 50.0}
    det = ResumeDetector(60, wall=lambda: clock["wall"], mono=lambda: clock["mono"])
    clock["wall"] += 30
    clock["mono"] += 30
    assert det.check() is None
    clock["wall"] += 3600
    clock["mono"] += 30
    assert det.check() == pytest.approx(3570)
    clock["wall"] -= 3600
    clock["mono"] += 30
    assert det.check() is None


def test_instance_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    """A second lock holder, even in the same process, is refused with the first holder's pid."""
    path = tmp_path / "run" / "bhogad.lock"
    with InstanceLock(path), pytest.raises(AlreadyRunning, match=r"already running \(pid \d+\)"):
        InstanceLock(path).acquire()
    with InstanceLock(path):
        pass


def test_watch_targets_follow_the_newest_codex_day(home: Path) -> None:
    """The rollout spec points at the newest YYYY/MM/DD directory and each level above watches for new dirs."""
    for day in ("2026/10/31", "2026/11/02", "2025/12/31"):
        (home / ".codex" / "sessions" / day).mkdir(parents=True)
    (home / ".codex" / "sessions" / "2026" / "notes").mkdir()
    specs = targets.watch_specs(home / ".hermes" / "config.yaml")
    rollout = [s for s in specs if s.tag == targets.QUOTA + ROLLOUT]
    assert [s.directory.relative_to(home / ".codex") for s in rollout] == [
        Path("sessions"),
        Path("sessions/2026"),
        Path("sessions/2026/11"),
        Path("sessions/2026/11/02"),
    ]
    assert rollout[-1].modified and not rollout[-1].new_dirs
    assert all(s.new_dirs for s in rollout[:-1])
    hermes = next(s for s in specs if s.tag == targets.HERMES)
    assert hermes.directory == home / ".hermes"
    assert hermes.names == frozenset({"config.yaml", "auth.json", ".env"})


def test_missing_config_given_explicitly_is_a_usage_error(tmp_path: Path) -> None:
    """`--config` naming a file that does not exist exits 2 instead of silently using defaults."""
    proc = subprocess.run(
        [sys.executable, "-m", "bhogad", "--once", "--config", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no such file" in proc.stderr and "Traceback" not in proc.stderr
