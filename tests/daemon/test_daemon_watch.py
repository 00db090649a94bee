"""bhogad.watch with a real inotify observer on temporary directories."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import pytest

from bhogad.watch import Debouncer, Watcher, WatchSpec

TIMEOUT = 10.0


class Probe:
    """Collects debounced callbacks on the loop thread."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[frozenset[str]] = asyncio.Queue()
        self.calls: list[tuple[float, frozenset[str]]] = []

    def __call__(self, tags: frozenset[str]) -> None:
        self.calls.append((time.monotonic(), tags))
        self.queue.put_nowait(tags)

    async def wait_for(self, tag: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no change tagged {tag!r} within {timeout}s")
            try:
                tags = await asyncio.wait_for(self.queue.get(), left)
            except TimeoutError:
                continue
            if tag in tags:
                return

    async def quiet_for(self, tag: str, seconds: float = 0.8) -> bool:
        """True when no change tagged `tag` arrives within `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                tags = await asyncio.wait_for(self.queue.get(), left)
            except TimeoutError:
                return True
            if tag in tags:
                return False
        return True

    def drain(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()


def run(specs: Callable[[], Iterable[WatchSpec]], scenario: Callable[[Watcher, Probe], Awaitable[None]]) -> None:
    async def main() -> None:
        probe = Probe()
        watcher = Watcher(asyncio.get_running_loop(), specs, probe, quiet=0.05, max_wait=0.5)
        watcher.start()
        try:
            await scenario(watcher, probe)
        finally:
            watcher.stop()

    asyncio.run(main())


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_atomic_replace_of_watched_file_fires_and_other_files_do_not(tmp_path: Path) -> None:
    """A temp-file + rename write of a watched name is a change; a write to an unrelated file in the same dir is not."""
    d = tmp_path / "claude"
    d.mkdir()
    spec = WatchSpec("claude", d, frozenset({".credentials.json"}))

    async def scenario(w: Watcher, p: Probe) -> None:
        (d / "history.jsonl").write_text("noise\n")
        assert await p.quiet_for("claude")
        atomic_write(d / ".credentials.json", "{}")
        await p.wait_for("claude")

    run(lambda: [spec], scenario)


def test_missing_directory_is_armed_when_created(tmp_path: Path) -> None:
    """A directory that does not exist at start is watched once created, and its creation itself is a change."""
    d = tmp_path / "h2" / ".codex"
    (tmp_path / "h2").mkdir()
    spec = WatchSpec("codex", d, frozenset({"auth.json"}))

    async def scenario(w: Watcher, p: Probe) -> None:
        assert str(d) not in w.watched
        d.mkdir()
        await p.wait_for("codex")
        await asyncio.sleep(0.2)
        assert str(d) in w.watched
        p.drain()
        atomic_write(d / "auth.json", "{}")
        await p.wait_for("codex")

    run(lambda: [spec], scenario)


def test_deeply_missing_directory_is_armed_level_by_level(tmp_path: Path) -> None:
    """Creating a whole missing chain at once (mkdir -p) still ends with the leaf watched."""
    leaf = tmp_path / "a" / "b" / "c"
    spec = WatchSpec("deep", leaf, None)

    async def scenario(w: Watcher, p: Probe) -> None:
        leaf.mkdir(parents=True)
        deadline = time.monotonic() + TIMEOUT
        while str(leaf) not in w.watched:
            assert time.monotonic() < deadline, "leaf never armed"
            await asyncio.sleep(0.05)
        p.drain()
        (leaf / "x").write_text("1")
        await p.wait_for("deep")

    run(lambda: [spec], scenario)


def test_deleted_and_recreated_directory_is_rearmed(tmp_path: Path) -> None:
    """After the watched directory is removed and made again, writes inside it are still seen."""
    d = tmp_path / "claude"
    d.mkdir()
    (d / ".credentials.json").write_text("{}")
    spec = WatchSpec("claude", d, frozenset({".credentials.json"}))

    async def scenario(w: Watcher, p: Probe) -> None:
        (d / ".credentials.json").unlink()
        d.rmdir()
        await p.wait_for("claude")
        d.mkdir()
        await p.wait_for("claude")
        await asyncio.sleep(0.2)
        p.drain()
        atomic_write(d / ".credentials.json", "{}")
        await p.wait_for("claude")

    run(lambda: [spec], scenario)


def test_symlinked_directory_is_watched_at_its_real_path(tmp_path: Path) -> None:
    """A stow-style symlinked directory delivers the writes made through it."""
    real = tmp_path / "dotfiles" / "hermes"
    real.mkdir(parents=True)
    link = tmp_path / ".hermes"
    link.symlink_to(real)
    spec = WatchSpec("hermes", link, frozenset({"config.yaml"}))

    async def scenario(w: Watcher, p: Probe) -> None:
        assert os.path.realpath(real) in w.watched
        atomic_write(link / "config.yaml", "model: {}\n")
        await p.wait_for("hermes")

    run(lambda: [spec], scenario)


def test_symlinked_file_is_watched_in_its_targets_directory(tmp_path: Path) -> None:
    """A config file that is a symlink into another directory: writes to the target are seen."""
    target_dir = tmp_path / "dotfiles"
    target_dir.mkdir()
    target = target_dir / "hermes-config.yaml"
    target.write_text("a: 1\n")
    d = tmp_path / ".hermes"
    d.mkdir()
    (d / "config.yaml").symlink_to(target)
    spec = WatchSpec("hermes", d, frozenset({"config.yaml"}))

    async def scenario(w: Watcher, p: Probe) -> None:
        atomic_write(target, "a: 2\n")
        await p.wait_for("hermes")

    run(lambda: [spec], scenario)


def test_appends_to_an_open_file_fire_only_with_modified(tmp_path: Path) -> None:
    """A file kept open and appended to (a Codex rollout) is a change only for specs that ask for modifications."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    specs = [WatchSpec("tail", a, None, modified=True), WatchSpec("plain", b, None)]

    async def scenario(w: Watcher, p: Probe) -> None:
        fa = (a / "rollout.jsonl").open("a")
        fb = (b / "rollout.jsonl").open("a")
        await p.wait_for("tail")  # creation
        p.drain()
        try:
            fa.write("x\n")
            fa.flush()
            await p.wait_for("tail")
            fb.write("x\n")
            fb.flush()
            p.drain()
            assert await p.quiet_for("plain")
        finally:
            fa.close()
            fb.close()

    run(lambda: specs, scenario)


def test_new_directory_in_a_new_dirs_spec_is_a_change(tmp_path: Path) -> None:
    """A new day directory appearing under a month directory is reported and triggers a re-arm."""
    month = tmp_path / "sessions" / "2026" / "11"
    month.mkdir(parents=True)
    calls: list[int] = []

    def specs() -> list[WatchSpec]:
        calls.append(1)
        return [WatchSpec("rollout-dirs", month, frozenset(), new_dirs=True)]

    async def scenario(w: Watcher, p: Probe) -> None:
        before = len(calls)
        (month / "26").mkdir()
        await p.wait_for("rollout-dirs")
        assert len(calls) > before

    run(specs, scenario)


def test_debouncer_fires_during_a_steady_stream_because_of_max_wait() -> None:
    """A stream of events closer together than the quiet period still fires every max_wait, not only at its end."""

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        deb = Debouncer(loop, lambda tags: fired.append(loop.time()), quiet=0.3, max_wait=0.5)
        start = loop.time()
        while loop.time() - start < 2.0:
            deb.add("x")
            await asyncio.sleep(0.02)
        stream_end = loop.time()
        await asyncio.sleep(0.5)
        return [t for t in fired if t < stream_end]

    assert len(asyncio.run(main())) >= 2


def test_debouncer_coalesces_a_burst_into_one_callback() -> None:
    """Many changes inside the quiet period produce a single callback carrying every tag."""

    async def main() -> list[frozenset[str]]:
        loop = asyncio.get_running_loop()
        got: list[frozenset[str]] = []
        deb = Debouncer(loop, got.append, quiet=0.2, max_wait=5.0)
        for i in range(50):
            deb.add(f"t{i % 3}")
        await asyncio.sleep(0.6)
        return got

    assert asyncio.run(main()) == [frozenset({"t0", "t1", "t2"})]


@pytest.mark.parametrize("kind", ["in_place", "sed"])
def test_other_write_styles_fire(tmp_path: Path, kind: str) -> None:
    """In-place writes and sed -i style renames of the watched file are both changes."""
    d = tmp_path / "cfg"
    d.mkdir()
    f = d / "config.toml"
    f.write_text("a = 1\n")
    spec = WatchSpec("codex", d, frozenset({"config.toml"}))

    async def scenario(w: Watcher, p: Probe) -> None:
        if kind == "in_place":
            f.write_text("a = 2\n")
        else:
            tmp = d / "sedAbc123"
            tmp.write_text("a = 3\n")
            os.rename(tmp, f)
        await p.wait_for("codex")

    run(lambda: [spec], scenario)
