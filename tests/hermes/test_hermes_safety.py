"""Refusals, atomicity and file identity: the Hermes config is either edited as intended or left byte-identical."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path

import pytest

from bhoga.errors import BhogaError, HermesConfigError
from bhoga.hermes import apply_recommendation, hermes_diff, read_hermes_route
from bhoga.hermes._atomic import read_file, replace_file
from bhoga.hermes._yamldoc import parse_doc
from tests.fixtures_hermes import CORPUS, FAKE, HermesHome, hermes, rec

__all__ = ["hermes"]

CLAUDE = rec("claude_code", "claude-sonnet-4.6")
COPILOT = rec("github-copilot", "claude-sonnet-4.6")


def _refused(hermes: HermesHome, content: bytes, *needles: str) -> None:
    path = hermes.write_config(content)
    with pytest.raises(HermesConfigError) as info:
        apply_recommendation(CLAUDE)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg
    for needle in needles:
        assert needle in msg
    assert path.read_bytes() == content
    assert sorted(p.name for p in hermes.dir.iterdir()) in (["config.yaml"], ["config.yaml", "config.yaml.lock"])


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"model:\n  default: x\n  provider: [unclosed\n", "invalid YAML at line"),
        (b"model:\n  default: a\n  default: b\n", "duplicate key model.default at lines 2 and 3"),
        (b"model:\n\tdefault: a\n", "tab in indentation at line 2"),
        (b"- a\n- b\n", "top level is not a mapping"),
        (b"model: {}\n---\nmodel: {}\n", "more than one YAML document"),
        (b"model:\n  default: \xff\n", "not UTF-8"),
    ],
)
def test_invalid_files_are_refused_untouched(hermes: HermesHome, content: bytes, needle: str) -> None:
    """Invalid YAML, duplicate keys, tabs, non-mappings, several documents and bad bytes: error, no write."""
    hermes.claude_login()
    _refused(hermes, content, needle)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"base: &m\n  default: x\nmodel: *m\n", "model is an anchor or alias"),
        (b"model: &m\n  default: x\n  provider: openrouter\nother: *m\n", "model is an anchor or alias"),
        (b"p: &p anthropic\nmodel:\n  default: x\n  provider: *p\n", "model.provider is an anchor or alias"),
        (b"model:\n  default: &d x\n  provider: openrouter\nother: *d\n", "model.default is an anchor or alias"),
        (b"b: &b {provider: openrouter}\nmodel:\n  <<: *b\n  default: x\n", "model merges another mapping"),
    ],
)
def test_anchors_and_aliases_on_edited_nodes_are_refused(hermes: HermesHome, content: bytes, needle: str) -> None:
    """An anchor, alias or merge on a node the route edits is refused, since the edit would change other keys."""
    hermes.claude_login()
    _refused(hermes, content, needle)


def test_anchors_elsewhere_are_fine(hermes: HermesHome) -> None:
    """Anchors and aliases outside the edited nodes do not block an edit and stay as they are."""
    hermes.claude_login()
    src = (CORPUS / "anchors.yaml").read_bytes()
    hermes.write_config(src)
    assert apply_recommendation(CLAUDE) is True
    out = hermes.config.read_text()
    assert "x-timeouts: &timeouts" in out and "timeouts: *timeouts" in out and "<<: *timeouts" in out


def test_read_only_file_is_refused(hermes: HermesHome) -> None:
    """A file without its owner's write bit (a Nix store, chmod 444) is never replaced, even by root."""
    hermes.claude_login()
    path = hermes.write_config(b"model:\n  default: gpt-5\n  provider: openai-api\n")
    path.chmod(0o444)
    with pytest.raises(HermesConfigError, match="read-only"):
        apply_recommendation(CLAUDE)
    assert path.read_bytes() == b"model:\n  default: gpt-5\n  provider: openai-api\n"
    assert not (hermes.dir / "config.yaml.bhoga.bak").exists()


def test_missing_hermes_home_is_an_error(home: Path) -> None:
    """Without ~/.hermes the error names the missing directory and nothing is created."""
    with pytest.raises(HermesConfigError, match=r"\.hermes does not exist"):
        apply_recommendation(CLAUDE)
    assert not (home / ".hermes").exists()
    assert isinstance(HermesConfigError("x"), BhogaError)


def test_missing_config_is_created_private(hermes: HermesHome) -> None:
    """With ~/.hermes but no config.yaml, the route is written to a new 0600 file and no backup is made."""
    hermes.claude_login()
    assert apply_recommendation(CLAUDE) is True
    assert hermes.config.stat().st_mode & 0o777 == 0o600
    assert read_hermes_route() is not None
    assert read_hermes_route().provider == "anthropic"  # type: ignore[union-attr]
    assert not (hermes.dir / "config.yaml.bhoga.bak").exists()


def test_mode_owner_and_backup(hermes: HermesHome) -> None:
    """The mode survives; the first write ever keeps the original as config.yaml.bhoga.bak, later ones don't."""
    hermes.everything("COPILOT_GITHUB_TOKEN")
    original = (CORPUS / "indent2.yaml").read_bytes()
    path = hermes.write_config(original)
    path.chmod(0o640)
    st = path.stat()
    assert apply_recommendation(CLAUDE) is True
    new = path.stat()
    assert (new.st_mode & 0o777, new.st_uid, new.st_gid) == (0o640, st.st_uid, st.st_gid)
    assert new.st_ino != st.st_ino  # replaced by rename, not rewritten in place
    backup = hermes.dir / "config.yaml.bhoga.bak"
    assert backup.read_bytes() == original
    assert apply_recommendation(COPILOT) is True
    assert backup.read_bytes() == original
    leftovers = [p.name for p in hermes.dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_symlink_is_kept_and_target_updated(hermes: HermesHome, tmp_path: Path) -> None:
    """A stow/chezmoi symlinked config stays a symlink; the file it points to gets the edit."""
    hermes.claude_login()
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "hermes.yaml"
    target.write_bytes((CORPUS / "indent4.yaml").read_bytes())
    hermes.config.symlink_to(target)
    assert apply_recommendation(CLAUDE) is True
    assert hermes.config.is_symlink() and hermes.config.resolve() == target
    assert "provider: anthropic" in target.read_text()
    # Backup and lock sit beside the link in ~/.hermes: the dotfiles repository gets no stray files.
    assert (hermes.dir / "config.yaml.bhoga.bak").read_bytes() == (CORPUS / "indent4.yaml").read_bytes()
    assert sorted(p.name for p in dotfiles.iterdir()) == ["hermes.yaml"]


def test_hard_link_is_refused(hermes: HermesHome, tmp_path: Path) -> None:
    """A hard-linked config is refused: a rename would split the link and the other name would go stale."""
    hermes.claude_login()
    content = b"model:\n  default: gpt-5\n"
    path = hermes.write_config(content)
    os.link(path, tmp_path / "other-name.yaml")
    with pytest.raises(HermesConfigError, match="hard links"):
        apply_recommendation(CLAUDE)
    assert path.read_bytes() == content and (tmp_path / "other-name.yaml").read_bytes() == content


def test_compare_before_rename_catches_same_size_same_mtime_edit(hermes: HermesHome) -> None:
    """A concurrent edit with the same size and mtime is caught by the hash, and the replace is abandoned."""
    path = hermes.write_config(b"model:\n  default: aaaa\n")
    got = read_file(path)
    assert got is not None
    st = path.stat()
    path.write_bytes(b"model:\n  default: bbbb\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert replace_file(path, b"model:\n  default: ours\n", got[1]) is False
    assert path.read_bytes() == b"model:\n  default: bbbb\n"
    assert [p.name for p in hermes.dir.iterdir() if p.name.endswith(".tmp")] == []


def test_lock_serialises_bhoga_writers(hermes: HermesHome) -> None:
    """While another bhoga writer holds config.yaml.lock, a write waits, then proceeds."""
    hermes.claude_login()
    hermes.write_config(b"model:\n  default: gpt-5\n  provider: openai-api\n")
    fd = os.open(hermes.dir / "config.yaml.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(apply_recommendation(CLAUDE)))
    t.start()
    t.join(0.5)
    assert t.is_alive() and b"openai-api" in hermes.config.read_bytes()
    os.close(fd)
    t.join(10)
    assert result == [True] and b"provider: anthropic" in hermes.config.read_bytes()


def test_concurrent_foreign_writer_never_leaves_a_partial_file(hermes: HermesHome) -> None:
    """Racing a Hermes-like writer (PyYAML rewrite via rename), every state of the file is a complete version."""
    hermes.everything("COPILOT_GITHUB_TOKEN")
    hermes.write_config((CORPUS / "pyyaml_stripped.yaml").read_bytes())
    foreign = (CORPUS / "pyyaml_stripped.yaml").read_bytes().replace(b"timeout: 180", b"timeout: 181")
    stop = threading.Event()

    def hermes_writer() -> None:
        while not stop.is_set():
            tmp = hermes.dir / ".hermes-writer.tmp"
            tmp.write_bytes(foreign)
            os.replace(tmp, hermes.config)

    t = threading.Thread(target=hermes_writer)
    t.start()
    try:
        for i in range(30):
            try:
                apply_recommendation(CLAUDE if i % 2 else COPILOT)
            except HermesConfigError as e:
                assert "kept changing" in str(e)
            data = hermes.config.read_bytes()
            # Every version (ours or the other writer's) is complete: it parses and ends with the last list item.
            assert data.endswith(b"- file\n")
            parse_doc(data, "config.yaml")
    finally:
        stop.set()
        t.join()
    assert read_hermes_route() is not None


def test_unusable_fallbacks_are_left_out(hermes: HermesHome) -> None:
    """A runner-up Hermes cannot use (no Codex login) is skipped in fallback_providers, not an error."""
    hermes.claude_login()
    hermes.env("COPILOT_GITHUB_TOKEN")
    hermes.write_config(b"model:\n  default: x\n")
    fallbacks = [rec("openai-codex", "gpt-5.5"), rec("github-copilot", "gpt-5.5")]
    assert apply_recommendation(rec("claude_code", "claude-opus-4.6"), fallbacks=fallbacks) is True
    text = hermes.config.read_text()
    assert "fallback_providers:\n  - provider: copilot\n    model: gpt-5.5\n" in text and "openai-codex" not in text


def test_no_secret_reaches_files_diffs_or_logs(hermes: HermesHome, caplog: pytest.LogCaptureFixture) -> None:
    """Planted fake keys and tokens never appear in the config, backup, diff or log output."""
    caplog.set_level(logging.DEBUG)
    hermes.everything(*FAKE)
    (hermes.dir / ".env").write_text(f"OPENAI_API_KEY={FAKE['OPENAI_API_KEY']}\n")
    hermes.write_config(CORPUS / "indent2.yaml")
    shown = []
    for pid, model in [
        ("anthropic_api", "claude-opus-4.6"),
        ("openai_api", "gpt-5.5"),
        ("claude_code", "claude-x"),
        ("github-copilot", "gpt-5.5"),
        ("openai-codex", "gpt-5.5"),
    ]:
        shown.append(hermes_diff(rec(pid, model), write_auxiliary=True))
        apply_recommendation(rec(pid, model), write_auxiliary=True, fallbacks=[rec("github-copilot", model)])
    blobs = [hermes.config.read_text(), (hermes.dir / "config.yaml.bhoga.bak").read_text(), caplog.text, *shown]
    for secret in [*FAKE.values(), "FAKEclaudeACCESS", "rt_fake"]:
        assert not any(secret in b for b in blobs), secret
