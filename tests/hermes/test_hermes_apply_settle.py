"""apply_to_hermes (and so `bhoga apply`) never writes into a config an editor is saving: it waits out a save in
progress, gives up on one that stays busy with the file untouched, and writes at once with `settle=None`. Real
files in a temporary HOME; the editor is this test truncating config.yaml and writing it anew."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from bhoga import Router
from bhoga.errors import HermesConfigBusyError
from bhoga.hermes import BUSY_TRIES, SETTLE, HermesRoute, apply_to_hermes, read_hermes_route
from tests.fixtures_hermes import CORPUS, HermesHome, hermes

__all__ = ["hermes"]

FILLER = "".join(f"# note {i}: something the user wrote and wants kept\n" for i in range(200))


def _router(home: Path) -> Router:
    router = Router(state_path=home / "state.json", eager=False)
    router.set_quota("github-copilot", 60)
    router.record_turn("github-copilot", "gpt-5.5", status_code=200)  # Copilot accepted the token
    router.flush()
    return router


def _age(path: Path, seconds: float = 60.0) -> None:
    """Make `path` look written `seconds` ago (a config nobody is editing)."""
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_a_save_in_progress_is_waited_out_and_every_byte_kept(hermes: HermesHome, home: Path) -> None:
    """The editor has truncated config.yaml and writes it 0.3 s later: apply_to_hermes writes nothing into the
    empty file, waits, then routes the complete file, and every byte the editor wrote is still there."""
    hermes.env("COPILOT_GITHUB_TOKEN")
    hermes.write_config(CORPUS / "indent2.yaml")
    mine = (CORPUS / "indent2.yaml").read_bytes() + FILLER.encode()
    with hermes.config.open("wb") as editor:  # open(O_TRUNC): empty until the editor writes

        def save() -> None:
            time.sleep(0.3)
            editor.write(mine)
            editor.flush()

        saving = threading.Thread(target=save)
        saving.start()
        with _router(home) as router:
            started = time.monotonic()
            assert apply_to_hermes(router, "gpt-5.5") is True
            waited = time.monotonic() - started
        saving.join()
    text = hermes.config.read_text()
    assert FILLER in text and text.startswith((CORPUS / "indent2.yaml").read_text().splitlines()[0]), text[:300]
    assert read_hermes_route() == HermesRoute("copilot", "gpt-5.5", None, None)
    assert waited >= 0.3 + SETTLE * 0.9, waited  # the save, then a quiet half second on the saved file


def test_a_config_that_stays_empty_is_refused_after_the_tries(hermes: HermesHome, home: Path) -> None:
    """An empty config (a save that never comes) gets nothing: after BUSY_TRIES tries, SETTLE apart, a one-line
    HermesConfigBusyError naming the file, and the file is still empty."""
    hermes.env("COPILOT_GITHUB_TOKEN")
    hermes.config.write_bytes(b"")
    _age(hermes.config)
    with _router(home) as router:
        started = time.monotonic()
        with pytest.raises(HermesConfigBusyError) as caught:
            apply_to_hermes(router, "gpt-5.5")
        waited = time.monotonic() - started
    message = str(caught.value)
    assert str(hermes.config) in message and "empty" in message and f"after {BUSY_TRIES} tries" in message
    assert "\n" not in message
    assert hermes.config.read_bytes() == b""
    assert waited >= (BUSY_TRIES - 1) * SETTLE * 0.9, waited


def test_a_config_written_just_now_is_given_the_rest_of_the_settle_time(hermes: HermesHome, home: Path) -> None:
    """A config saved a moment ago is written only after it has been left alone for SETTLE seconds; settle=None
    writes at once, as before the guard."""
    hermes.env("COPILOT_GITHUB_TOKEN")
    hermes.write_config(CORPUS / "indent2.yaml")
    with _router(home) as router:
        started = time.monotonic()
        assert apply_to_hermes(router, "gpt-5.5") is True
        assert time.monotonic() - started >= SETTLE * 0.5
        hermes.write_config(CORPUS / "indent2.yaml")
        started = time.monotonic()
        assert apply_to_hermes(router, "gpt-5.5", settle=None) is True
        assert time.monotonic() - started < SETTLE * 0.5
