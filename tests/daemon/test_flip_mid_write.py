"""A Hermes pass that meets an editor's truncate-and-write (vim with backupcopy, `>` redirection) loses no byte the
user wrote: it writes nothing into a file being written and leaves it to the next pass. Real files in a temporary
HOME; the editor is this test holding the config open for writing while bhogad's own `Flipper` runs a pass."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest

from bhoga._router import Router
from bhoga.errors import HermesConfigBusyError
from bhoga.hermes import BUSY_TRIES
from bhogad.config import DaemonConfig
from bhogad.flip import Flipper, FlipResult, Outcome
from bhogad.userword import apply_model
from tests.fixtures_daemon import hermes_route, write_hermes

OPENAI_KEY = "sk-proj-FAKE-SECRET-midwrite-openai-0123456789"
FILLER = "".join(f"# note {i}: something the user wrote and wants kept\n" for i in range(200))


@pytest.fixture
def router(home: Path, monkeypatch: pytest.MonkeyPatch) -> Router:
    """Codex nearly exhausted and an OpenAI key Hermes can see: every pass on a settled file moves to openai-api."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    r = Router(state_path=home / "state.json", eager=False, daemon=False)
    r.discover()  # offline: finds the key only
    r.set_quota("openai-codex", 2.0, weekly_pct=50.0)
    return r


def _age(path: Path, seconds: float = 60.0) -> None:
    """Make `path` look written `seconds` ago (a config nobody is editing)."""
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_pass_into_a_truncated_file_writes_nothing_and_the_editor_keeps_its_bytes(home: Path, router: Router) -> None:
    """An editor has truncated config.yaml and not written yet (bhogad.toml lists a model, so there is something
    to route): the pass writes nothing, and what the editor then writes is exactly what the file holds."""
    path = write_hermes(home, "openai-codex", "gpt-5.5")
    mine = path.read_bytes() + FILLER.encode()
    flipper = Flipper(router)
    with path.open("wb") as editor:  # open(O_TRUNC): the file is empty until the editor writes
        result = flipper.run(DaemonConfig(models=("gpt-5.5",)))
        editor.write(mine)
    assert path.read_bytes() == mine, result
    assert result.outcome is Outcome.SKIPPED, result
    router.close()


def _kept_every_byte(path: Path, mine: bytes) -> None:
    """Nothing the editor wrote is missing: its header, its comments, its other settings, all of its tail."""
    text = path.read_text()
    assert text.startswith("# my hermes config\n") and "max_turns: 60  # keep" in text, text[:300]
    assert FILLER in text, f"the editor's tail is missing: {len(text)} of {len(mine)} bytes"


def _edit_in_pieces(path: Path, mine: bytes, flipper: Flipper, config: DaemonConfig, *, pause: float) -> FlipResult:
    """Write `mine` over `path` the way an editor does (truncate, then pieces with `pause` between them) while a
    pass runs in another thread; the pass's result."""
    results: list[FlipResult] = []
    with path.open("wb") as editor:  # open(O_TRUNC), kept open to the end, as vim's backupcopy or `>` keep it
        editor.write(mine[:100])
        editor.flush()
        worker = threading.Thread(target=lambda: results.append(flipper.run(config)))
        worker.start()
        for i in range(100, len(mine), 1024):
            time.sleep(pause)
            editor.write(mine[i : i + 1024])
            editor.flush()
        worker.join()
    (result,) = results
    return result


def test_pass_over_a_half_written_file_loses_none_of_the_rest(home: Path, router: Router) -> None:
    """An editor has written the start of config.yaml (its model section parses) and writes the rest a moment
    later: whatever the pass saw, every byte the editor wrote is in the file afterwards."""
    path = write_hermes(home, "openai-codex", "gpt-5.5")
    mine = path.read_bytes() + FILLER.encode()
    result = _edit_in_pieces(path, mine, Flipper(router), DaemonConfig(), pause=0.01)
    _kept_every_byte(path, mine)
    assert result.outcome in (Outcome.SKIPPED, Outcome.WROTE), result
    if result.outcome is Outcome.SKIPPED:  # it saw the file being written: untouched, and said so
        assert result.busy and path.read_bytes() == mine, result


def test_writes_arriving_during_the_settle_are_never_lost(home: Path, router: Router) -> None:
    """An editor writing in small pieces for longer than the pass would wait: the pass sees the file change and
    writes nothing; every byte the editor wrote is in the file."""
    path = write_hermes(home, "openai-codex", "gpt-5.5")
    mine = path.read_bytes() + FILLER.encode()
    result = _edit_in_pieces(path, mine, Flipper(router), DaemonConfig(), pause=0.1)
    assert path.read_bytes() == mine, result
    assert result.outcome is Outcome.SKIPPED and result.busy, result


def test_a_provider_cut_mid_write_pins_nothing_and_the_finished_edit_pins(home: Path, router: Router) -> None:
    """A pass that meets a hand edit of model.provider cut mid-word ("anthr") takes nothing from it; once the edit
    is written and has settled, the next pass sees the user's provider and pins to it (DESIGN §8.2)."""
    path = write_hermes(home, "openai-codex", "gpt-5.5")
    flipper = Flipper(router)
    _age(path)
    assert flipper.run(DaemonConfig()).outcome is Outcome.WROTE  # bhogad's own write: openai-api
    edited = path.read_bytes().replace(b"provider: openai-api", b"provider: anthropic")
    cut = edited.index(b"anthropic") + len(b"anthr")
    results: list[FlipResult] = []
    with path.open("wb") as editor:
        editor.write(edited[:cut])
        editor.flush()
        worker = threading.Thread(target=lambda: results.append(flipper.run(DaemonConfig())))
        worker.start()
        time.sleep(0.1)
        editor.write(edited[cut:])
        editor.flush()
        worker.join()
    assert path.read_bytes() == edited
    (seen,) = results
    assert seen.outcome is Outcome.SKIPPED and seen.busy, seen
    after = flipper.run(DaemonConfig())
    assert after.outcome is Outcome.PINNED and "pinned to anthropic" in after.message, after
    assert path.read_bytes() == edited


def test_a_settled_file_is_still_routed(home: Path, router: Router) -> None:
    """The guard costs nothing once the file is quiet: a config last written a minute ago is rewritten at once,
    keeping every other byte."""
    path = write_hermes(home, "openai-codex", "gpt-5.5")
    path.write_text(path.read_text() + FILLER)
    _age(path)
    result = Flipper(router).run(DaemonConfig())
    assert result.outcome is Outcome.WROTE, result
    assert hermes_route(home)[0] == "openai-api"
    assert FILLER in path.read_text() and "max_turns: 60  # keep" in path.read_text()


def test_a_freshly_written_file_is_routed_once_it_settles(
    home: Path, router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    """A config written just now (`hermes model`, a save) that nobody touches during the short settle is routed
    in the same pass, with no warning logged."""
    caplog.set_level(logging.DEBUG)
    write_hermes(home, "openai-codex", "gpt-5.5")
    result = Flipper(router).run(DaemonConfig())
    assert result.outcome is Outcome.WROTE, result
    assert hermes_route(home)[0] == "openai-api"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_empty_config_is_not_written_into(home: Path, router: Router) -> None:
    """A config.yaml that is empty (an editor's truncate, or nothing yet) gets no model section from a pass, even
    when bhogad.toml lists the model to route and the file has been empty for a while; it says why."""
    path = write_hermes(home, "openai-codex", "gpt-5.5")
    path.write_bytes(b"")
    _age(path)
    result = Flipper(router).run(DaemonConfig(models=("gpt-5.5",)))
    assert result.outcome is Outcome.SKIPPED and "empty" in result.message, result
    assert path.read_bytes() == b""


def test_a_settled_broken_file_is_still_an_error(home: Path, router: Router) -> None:
    """A config that stays unparseable once left alone is the user's broken YAML, not a write in progress: the pass
    reports it as an error (as before) and the file is untouched."""
    path = write_hermes(home, "openai-codex", "gpt-5.5")
    broken = path.read_bytes() + b"agent: [unclosed\n"
    path.write_bytes(broken)
    result = Flipper(router).run(DaemonConfig())
    assert result.outcome is Outcome.ERROR and not result.busy, result
    assert path.read_bytes() == broken


def test_bhogads_own_write_is_not_waited_for(home: Path, router: Router, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass right after bhogad's own write (a 429 flips back at once) does not give the file the editor's wait:
    with an hour's wait set, it still writes at once; a file someone else touched since is waited for again."""
    import bhogad.flip

    path = write_hermes(home, "openai-codex", "gpt-5.5")
    _age(path)
    flipper = Flipper(router)
    config = DaemonConfig(models=("gpt-5.5",))
    assert flipper.run(config).outcome is Outcome.WROTE  # a settled file: moved to openai-api
    assert hermes_route(home)[0] == "openai-api"
    monkeypatch.setattr(bhogad.flip, "SETTLE", 3600.0)
    router.set_quota("openai-codex", 90.0, weekly_pct=50.0)
    router.set_quota("openai_api", 5.0)
    results: list[FlipResult] = []
    worker = threading.Thread(target=lambda: results.append(flipper.run(config)), daemon=True)
    worker.start()
    worker.join(60)  # an hour's wait would still be running
    assert not worker.is_alive() and results[0].outcome is Outcome.WROTE, results
    assert hermes_route(home)[0] == "openai-codex"
    monkeypatch.setattr(bhogad.flip, "SETTLE", 3.0)
    with path.open("ab") as other:  # someone else's write since: the wait applies again
        other.write(b"# touched\n")
    router.set_quota("openai-codex", 2.0, weekly_pct=50.0)
    router.set_quota("openai_api", 90.0)
    late = threading.Thread(target=lambda: results.append(flipper.run(config)), daemon=True)
    late.start()
    late.join(1)
    assert late.is_alive()  # giving the editor that wrote last its quiet time
    late.join(60)
    assert results[1].outcome is Outcome.WROTE and path.read_text().endswith("# touched\n"), results
    router.close()


def test_the_socket_apply_writes_nothing_into_a_file_being_saved(home: Path, router: Router) -> None:
    """`bhoga apply` handed to bhogad (`apply_model`) meets an editor's config that stays truncated: after
    BUSY_TRIES tries, as `bhoga apply` alone, it refuses with one line (HermesConfigBusyError), writes nothing, and
    the editor's bytes are exactly what the file then holds; on the settled file it writes."""
    path = write_hermes(home, "openai-codex", "gpt-5.5")
    mine = path.read_bytes() + FILLER.encode()
    flipper = Flipper(router)
    config = DaemonConfig()
    with path.open("wb") as editor, pytest.raises(HermesConfigBusyError, match=f"empty.*after {BUSY_TRIES} tries"):
        try:
            apply_model(flipper, config, "gpt-5.5", dry_run=False, aux=False)
        finally:
            editor.write(mine)
    assert path.read_bytes() == mine
    _age(path)
    assert apply_model(flipper, config, "gpt-5.5", dry_run=False, aux=False).changed is True
    assert hermes_route(home)[0] == "openai-api" and FILLER in path.read_text()
    router.close()


def test_the_socket_apply_waits_out_a_save_in_progress(home: Path, router: Router) -> None:
    """`apply_model` (what bhogad runs for `bhoga apply`) meets an editor that truncated config.yaml and writes it
    0.3 s later: as `bhoga apply` without a daemon, it waits for the save, then routes the complete file, every
    byte the editor wrote kept."""
    path = write_hermes(home, "openai-codex", "gpt-5.5")
    mine = path.read_bytes() + FILLER.encode()
    with path.open("wb") as editor:  # open(O_TRUNC): empty until the editor writes

        def save() -> None:
            time.sleep(0.3)
            editor.write(mine)
            editor.flush()

        saving = threading.Thread(target=save)
        saving.start()
        result = apply_model(Flipper(router), DaemonConfig(), "gpt-5.5", dry_run=False, aux=False)
        saving.join()
    assert result.changed is True, result
    assert hermes_route(home)[0] == "openai-api"
    _kept_every_byte(path, mine)
    router.close()
