"""Only regular files, ever (DESIGN §8.4): the file module itself, and bhoga / bhogad run as a user would with
every path they read, write, lock or move aside replaced by a FIFO, a private device node, a socket or a
directory made in the temp dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bhoga import _files
from bhoga._state import StateStore
from bhoga.discovery._gate import Gate
from bhoga.errors import NotRegularFileError, StateError
from tests.oddfiles import KINDS, identity, leftovers, make_node

pytestmark = pytest.mark.timeout(120)


def _run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=60, env=full, check=False)


def _no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr, p.stderr


# -- the module --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_read_refuses_every_odd_node_without_blocking(tmp_path: Path, kind: str) -> None:
    """A read of a FIFO, device, socket or directory raises one line at once and leaves the node alone."""
    node = tmp_path / "odd"
    before = make_node(node, kind)
    link = tmp_path / "link"
    link.symlink_to(node)
    for path in (node, link):
        t0 = time.monotonic()
        with pytest.raises(NotRegularFileError) as info:
            _files.read_bounded(path)
        assert time.monotonic() - t0 < 5
        assert "\n" not in str(info.value) and "not a regular file" in str(info.value)
        assert isinstance(info.value, OSError)
    assert identity(node) == before


def test_read_is_bounded_in_size(tmp_path: Path) -> None:
    """A file larger than the cap is refused rather than read whole; one at the cap is read."""
    f = tmp_path / "big"
    f.write_bytes(b"x" * 1001)
    with pytest.raises(NotRegularFileError, match="larger than 1000 bytes"):
        _files.read_bounded(f, 1000)
    assert _files.read_bounded(f, 1001) == b"x" * 1001
    with pytest.raises(FileNotFoundError):
        _files.read_bounded(tmp_path / "missing")


@pytest.mark.parametrize("kind", KINDS)
def test_atomic_write_never_replaces_an_odd_node(tmp_path: Path, kind: str) -> None:
    """Writing over a node that is not a regular file (directly or through a symlink) is refused, no temp left."""
    node = tmp_path / "odd"
    before = make_node(node, kind)
    link = tmp_path / "link"
    link.symlink_to(node)
    for path in (node, link):
        with pytest.raises(NotRegularFileError):
            _files.atomic_write(path, b"data")
    assert identity(node) == before
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []


def test_atomic_write_follows_a_symlink_to_a_regular_file(tmp_path: Path) -> None:
    """A dotfiles-style symlink survives: the file it points at gets the new bytes."""
    real = tmp_path / "real.json"
    real.write_bytes(b"old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    _files.atomic_write(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_lock_files_are_never_followed_nor_odd(tmp_path: Path) -> None:
    """A symlink or a FIFO planted at a lock path is refused; the symlink's target is not created."""
    target = tmp_path / "elsewhere"
    link = tmp_path / "x.lock"
    link.symlink_to(target)
    with pytest.raises(NotRegularFileError, match="symlink"), _files.lock_file(link):
        pass
    assert not target.exists()
    fifo = tmp_path / "y.lock"
    before = make_node(fifo, "fifo")
    with pytest.raises(NotRegularFileError, match="FIFO"), _files.lock_file(fifo):
        pass
    assert identity(fifo) == before
    with _files.lock_file(tmp_path / "z.lock") as fd:
        assert fd >= 0
    assert (tmp_path / "z.lock").is_file()


def test_only_bhoga_named_temp_files_are_cleaned_up(tmp_path: Path) -> None:
    """Orphan cleanup removes `.<name>.bhoga-XXXXXXXX.tmp` only: a user's own `.tmp` files and odd nodes stay."""
    target = tmp_path / "state.json"
    ours = tmp_path / ".state.json.bhoga-ab12cd_9.tmp"
    ours.write_text("orphan")
    theirs = [tmp_path / ".state.json.mine.tmp", tmp_path / ".state.json.backup-2024.tmp", tmp_path / "notes.tmp"]
    for t in theirs:
        t.write_text("keep")
    fifo = tmp_path / ".state.json.bhoga-fifo0000.tmp"
    before = make_node(fifo, "fifo")
    _files.remove_orphans(target)
    assert not ours.exists()
    assert all(t.read_text() == "keep" for t in theirs)
    assert identity(fifo) == before


def test_move_aside_never_moves_an_odd_node(tmp_path: Path) -> None:
    """Moving aside is for regular files only."""
    node = tmp_path / "odd"
    before = make_node(node, "chardev")
    assert _files.move_aside(node, tmp_path / "aside") is False
    assert identity(node) == before and not (tmp_path / "aside").exists()


# -- the writers -------------------------------------------------------------------------------------


def test_gate_writes_durably_and_removes_a_killed_writers_temp(tmp_path: Path) -> None:
    """discovery.json is written through the shared writer: a bhoga-named orphan is removed, a user file kept."""
    path = tmp_path / "discovery.json"
    orphan = tmp_path / ".discovery.json.bhoga-k1lled00.tmp"
    orphan.write_text("{")
    mine = tmp_path / ".discovery.json.notes.tmp"
    mine.write_text("keep")
    from datetime import UTC, datetime

    assert Gate(path).claim("src", datetime.now(UTC)) is None
    assert json.loads(path.read_text())["sources"]["src"]["last_call"] > 0
    assert not orphan.exists() and mine.read_text() == "keep"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("kind", KINDS)
def test_gate_refuses_an_odd_discovery_json(tmp_path: Path, kind: str) -> None:
    """A FIFO or device at discovery.json denies the call (no hammering) and is left exactly as it was."""
    from datetime import UTC, datetime

    path = tmp_path / "discovery.json"
    before = make_node(path, kind)
    why = Gate(path).claim("src", datetime.now(UTC))
    assert why is not None
    assert identity(path) == before


@pytest.mark.parametrize("kind", KINDS)
def test_state_store_refuses_odd_state_and_lock(tmp_path: Path, kind: str) -> None:
    """An odd state file or lock file is a one-line StateError; nothing is moved aside or replaced."""
    from datetime import UTC, datetime

    from bhoga._model import ProviderQuota

    path = tmp_path / "state.json"
    before = make_node(path, kind)
    store = StateStore(path)
    with pytest.raises(StateError) as info:
        store.load()
    assert "\n" not in str(info.value) and "not a regular file" in str(info.value)
    q = ProviderQuota(provider_id="openai_api", updated_at=datetime.now(UTC))
    with pytest.raises(StateError):
        store.merge_and_save({"openai_api": q})
    assert identity(path) == before
    assert leftovers(tmp_path, "state.json") == []

    lock_dir = tmp_path / "l"
    lock_dir.mkdir()
    (lock_dir / "state.json").write_text('{"version": 1, "providers": {}}')
    lock_before = make_node(lock_dir / "state.json.lock", kind)
    with pytest.raises(StateError, match="lock"):
        StateStore(lock_dir / "state.json").load()
    assert identity(lock_dir / "state.json.lock") == lock_before


# -- as the user runs it -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_bhoga_status_with_odd_state_file(tmp_path: Path, kind: str) -> None:
    """`bhoga status` with BHOGA_STATE at an odd node: no hang, one line saying so, node untouched."""
    node = tmp_path / "s" / "state.json"
    before = make_node(node, kind)
    p = _run("-m", "bhoga", "status", env={"BHOGA_STATE": str(node)})
    _no_traceback(p)
    assert p.returncode == 0, p.stderr
    refusals = [ln for ln in p.stderr.splitlines() if "not a regular file" in ln]
    assert len(refusals) == 1, p.stderr
    assert identity(node) == before
    assert leftovers(node.parent, "state.json") == []


@pytest.mark.parametrize("kind", ["fifo", "chardev"])
def test_bhoga_set_quota_with_odd_state_file_says_so_and_fails(tmp_path: Path, kind: str) -> None:
    """`bhoga set-quota` that cannot save prints one line and exits 1; the node is untouched."""
    node = tmp_path / "state.json"
    before = make_node(node, kind)
    p = _run("-m", "bhoga", "set-quota", "openai_api", "40", env={"BHOGA_STATE": str(node)})
    _no_traceback(p)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "not a regular file" in p.stderr
    assert identity(node) == before


@pytest.mark.parametrize("kind", ["fifo", "chardev", "socket"])
def test_cli_and_daemon_with_every_source_file_odd(tmp_path: Path, kind: str) -> None:
    """Credentials, Codex files and Hermes' .env/auth.json/config.yaml as odd nodes: `bhoga status` and
    `bhogad --once` finish, report each refusal in one line, and leave every node as it was."""
    claude, codex, hermes = tmp_path / "claude", tmp_path / "codex", tmp_path / "hermes"
    nodes = [
        claude / ".credentials.json",
        codex / "auth.json",
        codex / "config.toml",
        hermes / ".env",
        hermes / "auth.json",
        hermes / "active_profile",
    ]
    day = codex / "sessions" / "2026" / "01" / "02"
    nodes.append(day / "rollout-2026-01-02T10-00-00-x.jsonl")
    before = {n: make_node(n, kind) for n in nodes}
    (hermes / "config.yaml").write_text("model:\n  default: claude-opus-4.6\n  provider: anthropic\n")
    env = {"CLAUDE_CONFIG_DIR": str(claude), "CODEX_HOME": str(codex), "HERMES_HOME": str(hermes)}
    for argv in (("-m", "bhoga", "status"), ("-m", "bhogad", "--once")):
        p = _run(*argv, env=env)
        _no_traceback(p)
        assert p.returncode in (0, 1), (argv, p.returncode, p.stderr)
        refusals = [ln for ln in p.stderr.splitlines() if "not a regular file" in ln]
        for n in nodes[:5]:
            assert sum(f"{n}: is" in ln for ln in refusals) == 1, (argv, n, p.stderr)
        assert all(identity(n) == b for n, b in before.items())


@pytest.mark.parametrize("kind", KINDS)
def test_hermes_config_odd_node_is_refused_not_replaced(tmp_path: Path, kind: str) -> None:
    """`bhoga apply` and `bhogad --once` with Hermes' config.yaml at an odd node: exit 1, one line, untouched."""
    hermes = tmp_path / "hermes"
    node = hermes / "config.yaml"
    before = make_node(node, kind)
    env = {"HERMES_HOME": str(hermes), "OPENAI_API_KEY": "sk-test-files-0000000000000"}
    for argv in (("-m", "bhoga", "apply", "gpt-5.4"), ("-m", "bhogad", "--once")):
        p = _run(*argv, env=env)
        _no_traceback(p)
        assert p.returncode == 1, (argv, p.stdout, p.stderr)
        assert "not a regular file" in p.stderr, p.stderr
        assert identity(node) == before
    assert [n for n in os.listdir(hermes) if n.endswith((".tmp", ".bak"))] == []


@pytest.mark.parametrize("kind", ["fifo", "chardev"])
def test_hermes_backup_odd_node_is_refused(tmp_path: Path, kind: str) -> None:
    """A FIFO or device where the one-time backup goes stops the write; config and node stay as they were."""
    hermes = tmp_path / "hermes"
    hermes.mkdir()
    config = hermes / "config.yaml"
    text = "model:\n  default: gpt-5.4\n  provider: openrouter\n"
    config.write_text(text)
    before = make_node(hermes / "config.yaml.bhoga.bak", kind)
    p = _run(
        "-m", "bhoga", "apply", "gpt-5.4", env={"HERMES_HOME": str(hermes), "OPENAI_API_KEY": "sk-test-000000000000"}
    )
    _no_traceback(p)
    assert p.returncode == 1 and "not a regular file" in p.stderr, (p.stdout, p.stderr)
    assert config.read_text() == text
    assert identity(hermes / "config.yaml.bhoga.bak") == before


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_bhogad_config_odd_node_is_one_line(tmp_path: Path, kind: str) -> None:
    """bhogad.toml at a FIFO or directory: `bhogad --once` exits with one line, never hangs."""
    node = tmp_path / "bhogad.toml"
    before = make_node(node, kind)
    p = _run("-m", "bhogad", "--once", env={"BHOGA_CONFIG": str(node)})
    _no_traceback(p)
    assert p.returncode == 2 and "not a regular file" in p.stderr, (p.returncode, p.stderr)
    assert identity(node) == before
    p = _run("-m", "bhoga", "best", "gpt-5.4", env={"BHOGA_CONFIG": str(node)})
    _no_traceback(p)
    assert p.returncode == 1 and "not a regular file" in p.stderr, (p.returncode, p.stderr)
    assert identity(node) == before


def test_pin_record_odd_node_is_left_alone(tmp_path: Path) -> None:
    """The Hermes route record beside the state: a FIFO there is neither read (no hang) nor replaced."""
    from bhoga import _pin

    node = _pin.pin_path()
    before = make_node(node, "fifo")
    assert _pin.load() == _pin.RouteRecord()
    _pin.save(_pin.RouteRecord(config="/x", known_provider="anthropic"))
    assert identity(node) == before


def test_pin_record_write_clears_a_killed_writers_temp(tmp_path: Path) -> None:
    """Saving the Hermes route record removes a bhoga temp file a writer killed mid-write left beside it."""
    from bhoga import _pin

    path = _pin.pin_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    orphan = path.with_name(f".{path.name}{_files.TEMP_MARK}abcd1234.tmp")
    orphan.write_text("half")
    _pin.save(_pin.RouteRecord(config="/x", known_provider="anthropic"))
    assert not orphan.exists() and _pin.load().known_provider == "anthropic"


def test_fifo_read_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    """Even with a writer attached, a FIFO is refused, not read (the writer is never consumed)."""
    fifo = tmp_path / "f"
    make_node(fifo, "fifo")
    opened = threading.Event()

    def writer() -> None:
        fd = os.open(fifo, os.O_RDWR)  # O_RDWR never blocks on Linux; keeps a writer attached
        opened.set()
        time.sleep(1)
        os.close(fd)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    opened.wait(5)
    with pytest.raises(NotRegularFileError):
        _files.read_bounded(fifo)
    t.join(5)


# -- the writers routed through the file module (issue 18) ---------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_trace_file_odd_node_is_one_line_not_a_hang(tmp_path: Path, kind: str) -> None:
    """`bhoga simulate --trace` on a FIFO, device, socket or directory refuses it at once in one line."""
    from bhoga._sim_trace import TraceError, load_trace

    node = tmp_path / "trace.json"
    before = make_node(node, kind)
    with pytest.raises(TraceError, match="not a regular file") as info:
        load_trace(node)
    assert "\n" not in str(info.value) and identity(node) == before


def test_socket_note_is_written_through_the_file_module(tmp_path: Path) -> None:
    """bhogad's socket note replaces a regular file atomically, clears a killed predecessor's temp file and
    leaves a FIFO in its place alone."""
    from bhoga._paths import socket_candidates, socket_pointer_path
    from bhogad.pointer import forget_socket, record_socket

    note = socket_pointer_path()
    note.parent.mkdir(parents=True, exist_ok=True)
    orphan = note.with_name(f".{note.name}{_files.TEMP_MARK}abcd1234.tmp")
    orphan.write_text("half")
    sock = tmp_path / "run" / "bhogad.sock"
    record_socket(sock)
    assert note.read_text() == f"{sock}\n" and not orphan.exists()
    assert sock in socket_candidates()
    forget_socket(sock)
    assert not note.exists()
    before = make_node(note, "fifo")
    record_socket(sock)
    forget_socket(sock)
    assert identity(note) == before


def test_flip_log_compaction_is_atomic_and_clears_orphans(tmp_path: Path) -> None:
    """Compacting the flip log writes through the file module: a killed writer's temp file goes, recent flips stay."""
    from bhoga import _flips

    path = _flips.flips_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    orphan = path.with_name(f".{path.name}{_files.TEMP_MARK}abcd1234.tmp")
    orphan.write_text("half")
    now = time.time()
    n = _flips.MAX_BYTES // 300 + 2  # one more append passes MAX_BYTES and compacts
    rows = ({"t": now - n + i, "model": "m", "to": "claude_code", "why": f"flip {i} " + "x" * 290} for i in range(n))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _flips.record_flip("m", "claude_code", f"flip {n}")
    assert not orphan.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
    assert [f.why.split()[1] for f in _flips.read_flips(path)] == [str(i) for i in range(n + 1)]


@pytest.mark.parametrize("kind", KINDS)
def test_history_lock_odd_node_is_one_line(tmp_path: Path, kind: str) -> None:
    """A FIFO, device, socket or directory at the history lock path is refused in one line and left alone."""
    from datetime import UTC, datetime

    from bhoga._history import HistoryStore, Point

    store = HistoryStore(tmp_path / "h.jsonl")
    before = make_node(store.lock_path, kind)
    with pytest.raises(StateError, match=r"history lock .* not a regular file") as info:
        store.append([("claude_code", "burst", Point(datetime.now(UTC), 10.0, None))])
    assert "\n" not in str(info.value) and identity(store.lock_path) == before
