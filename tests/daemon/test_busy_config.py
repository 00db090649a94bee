"""bhogad and someone writing Hermes' config at the same time (an editor's save, a program appending to it): a flip
that is due waits for the writes to stop, is not lost, and is said once; `apply` handed to bhogad waits out a save as
`bhoga apply` does alone, in a worker thread, so the socket keeps answering. Real bhogad subprocesses and CLI runs
in a temporary HOME; the writer is this test, from its own thread."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bhoga._paths import socket_path
from bhoga.hermes import BUSY_TRIES, SETTLE
from tests.daemon.test_flip_mid_write import FILLER, _kept_every_byte
from tests.discovery_helpers import write_codex_usage
from tests.fixtures_daemon import DaemonProc, hermes_route, launch, request, wait_until, write_hermes

pytestmark = pytest.mark.slow

OPENAI_KEY = "sk-proj-FAKE-SECRET-busy-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-api03-FAKE-SECRET-busy-anthropic-0123456789"
WAITING = "trying again in"
"""What bhoga's writer logs (debug: these daemons run with --verbose) each time it finds the config being written and
waits for the save."""
PUT_OFF = "Hermes pass put off"


class Asked:
    """A request sent on a connection of its own; its answer is read later, with `answer()`."""

    def __init__(self, obj: dict[str, object]) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(30)
        self._sock.connect(str(socket_path()))
        self._sock.sendall(json.dumps({"v": 1, **obj}).encode() + b"\n")

    def answer(self) -> dict[str, Any]:
        with self._sock, self._sock.makefile("rb") as f:
            result: dict[str, Any] = json.loads(f.readline())
        return result


def _bhogad(home: Path, tmp_path: Path, start: list[DaemonProc]) -> tuple[Path, DaemonProc]:
    """Hermes on openai-codex (80 % left) and a bhogad that has made its first pass."""
    path = write_hermes(home, "openai-codex", "gpt-5.5")
    write_codex_usage(home, 20)
    d = launch(start, tmp_path)
    wait_until(lambda: request({"op": "status"})["hermes"]["last_pass"], what=lambda: f"the first pass\n{d.log()}")
    return path, d


def test_a_flip_due_while_the_config_is_written_waits_for_the_writes_and_is_said_once(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flip that falls due while someone appends to config.yaml every 0.1 s for 3 s writes nothing meanwhile,
    is retried, and is written once the writes stop, every byte kept; why it waits is one info line, not one per
    retry."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    path, d = _bhogad(home, tmp_path, start)
    mine = path.read_bytes() + FILLER.encode()
    tail = FILLER.encode()
    with path.open("ab") as writer:
        request({"op": "set_quota", "pid": "openai-codex", "pct_remaining": 2})  # openai-api is the better route now
        for i in range(0, len(tail), len(tail) // 30):
            writer.write(tail[i : i + len(tail) // 30])
            writer.flush()
            assert hermes_route(home)[0] == "openai-codex", d.log()  # nothing written into a file being written
            time.sleep(0.1)
    wait_until(lambda: hermes_route(home)[0] == "openai-api", what=lambda: f"the flip after the writes\n{d.log()}")
    _kept_every_byte(path, mine)
    told = [line for line in d.log().splitlines() if " INFO " in line and PUT_OFF in line]
    assert len(told) == 1, d.log()
    assert str(path) in told[0] and "being written" in told[0], told
    assert d.stop() == 0


def test_apply_on_the_socket_waits_out_a_save_while_the_socket_keeps_answering(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`apply` handed to bhogad while an editor has config.yaml truncated waits for the save as `bhoga apply` does
    alone, off the event loop: a ping is answered while it waits, and once the editor has written, the applied
    route is written into the complete file."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    path, d = _bhogad(home, tmp_path, start)
    mine = path.read_bytes() + FILLER.encode()
    with path.open("wb") as editor:  # open(O_TRUNC): empty until the editor writes
        apply = Asked({"op": "apply", "model": "claude-sonnet-4.6"})
        wait_until(lambda: WAITING in d.log(), 10, what=lambda: f"the apply to wait for the save\n{d.log()}")
        assert request({"op": "ping"})["ok"]
        editor.write(mine)
    answer = apply.answer()
    assert answer["ok"] and answer["changed"], answer
    assert hermes_route(home) == ("anthropic-api", "claude-sonnet-4-6")
    _kept_every_byte(path, mine)
    assert d.stop() == 0


def test_pin_asked_while_an_apply_waits_holds_up_nobody_else(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `pin` that arrives while an `apply` waits out an editor's save waits for that write in a worker thread,
    not on the event loop: a ping is answered meanwhile, the apply then writes into the saved file, and the pin
    follows it (the route ends pinned to what was applied)."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    path, d = _bhogad(home, tmp_path, start)
    mine = path.read_bytes() + FILLER.encode()
    with path.open("wb") as editor:
        apply = Asked({"op": "apply", "model": "claude-sonnet-4.6"})
        wait_until(lambda: WAITING in d.log(), 10, what=lambda: f"the apply to wait for the save\n{d.log()}")
        pin = Asked({"op": "pin"})
        time.sleep(0.2)  # the loop, idle while the apply waits in its thread, takes the pin in this time
        assert request({"op": "ping"}, timeout=10)["ok"]
        editor.write(mine)
    applied = apply.answer()
    assert applied.get("changed") is True, applied
    assert pin.answer() == {"ok": True}
    assert request({"op": "status"})["hermes"]["pinned"] is True
    assert hermes_route(home) == ("anthropic-api", "claude-sonnet-4-6")
    _kept_every_byte(path, mine)
    assert d.stop() == 0


def test_bhoga_apply_waits_for_bhogads_answer_while_bhogad_waits_out_a_save(
    home: Path, tmp_path: Path, start: list[DaemonProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bhoga apply` with bhogad running, into a config someone keeps writing for over 2 s: the CLI waits for
    bhogad's answer instead of giving up after 2 s and writing the file itself: exit 0, "written by bhogad", every
    byte kept."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    path, d = _bhogad(home, tmp_path, start)
    mine = path.read_bytes() + FILLER.encode()
    tail = FILLER.encode()
    with path.open("ab") as writer:
        cli = subprocess.Popen(
            [sys.executable, "-m", "bhoga", "apply", "claude-sonnet-4.6"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline, i, step = None, 0, 64
        while deadline is None or time.monotonic() < deadline:
            writer.write(tail[i : i + step])
            writer.flush()
            i += step
            if deadline is None and WAITING in d.log():
                deadline = time.monotonic() + 1.8  # bhogad's apply is waiting: keep writing past the CLI's 2 s
            assert i < len(tail), f"bhogad's apply never waited\n{d.log()}"
            time.sleep(0.1)
        writer.write(tail[i:])
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err
    assert "written by bhogad" in out, out + err
    assert hermes_route(home) == ("anthropic-api", "claude-sonnet-4-6")
    _kept_every_byte(path, mine)
    assert d.stop() == 0


def test_clients_wait_for_apply_as_long_as_bhogad_may_take() -> None:
    """A client waits for `apply` longer than bhogad can take: a pass's two settles, then BUSY_TRIES tries that
    each wait up to SETTLE for quiet, SETTLE apart."""
    from bhoga._protocol import APPLY_WAIT

    assert APPLY_WAIT >= 2 * SETTLE + (2 * BUSY_TRIES - 1) * SETTLE + 1.0
