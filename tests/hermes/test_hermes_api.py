"""The public Hermes API: which file, what the file says, exclusions, caveat, auxiliary tasks, fallbacks, and
apply_to_hermes with a real Router."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from bhoga import Router
from bhoga.errors import HermesConfigError
from bhoga.hermes import (
    HermesRoute,
    apply_recommendation,
    apply_to_hermes,
    claude_code_caveat,
    hermes_config_path,
    hermes_diff,
    hermes_exclusions,
    read_hermes_route,
)
from tests.fixtures_hermes import CORPUS, FAKE, HermesHome, hermes, rec

__all__ = ["hermes"]


def test_config_path_rules(home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """~/.hermes by default, the active profile's dir when active_profile names one, HERMES_HOME otherwise."""
    root = home / ".hermes"
    assert hermes_config_path() == root / "config.yaml"
    (root / "profiles" / "coder").mkdir(parents=True)
    (root / "active_profile").write_text("coder\n")
    assert hermes_config_path() == root / "profiles" / "coder" / "config.yaml"
    (root / "active_profile").write_text("default\n")
    assert hermes_config_path() == root / "config.yaml"
    (root / "active_profile").write_text("ghost\n")
    with pytest.raises(HermesConfigError, match="ghost"):
        hermes_config_path()
    # HERMES_HOME pointing at a profile directory is trusted as it is ...
    monkeypatch.setenv("HERMES_HOME", str(root / "profiles" / "coder"))
    assert hermes_config_path() == root / "profiles" / "coder" / "config.yaml"
    # ... while a HERMES_HOME root still honours its own active_profile, as Hermes does (#22502).
    other = tmp_path / "srv-hermes"
    (other / "profiles" / "bot").mkdir(parents=True)
    monkeypatch.setenv("HERMES_HOME", str(other))
    assert hermes_config_path() == other / "config.yaml"
    (other / "active_profile").write_text("bot")
    assert hermes_config_path() == other / "profiles" / "bot" / "config.yaml"


def test_profile_config_is_the_one_edited(hermes: HermesHome) -> None:
    """With an active profile, apply_recommendation edits that profile's config, not ~/.hermes/config.yaml."""
    hermes.claude_login()
    prof = hermes.dir / "profiles" / "work"
    prof.mkdir(parents=True)
    (hermes.dir / "active_profile").write_text("work\n")
    hermes.write_config(b"model: gpt-5\n")
    (prof / "config.yaml").write_bytes(b"model:\n  default: gpt-5\n")
    assert apply_recommendation(rec("claude_code", "claude-opus-4.6")) is True
    assert hermes.config.read_bytes() == b"model: gpt-5\n"
    assert read_hermes_route() == HermesRoute("anthropic", "claude-opus-4-6", None, None)


def test_read_hermes_route(hermes: HermesHome) -> None:
    """None for a missing file; a plain-string model; the four route keys of a mapping."""
    assert read_hermes_route() is None
    hermes.write_config(b"model: gpt-5.5  # plain\n")
    assert read_hermes_route() == HermesRoute(None, "gpt-5.5", None, None)
    hermes.write_config(CORPUS / "indent2.yaml")
    assert read_hermes_route() == HermesRoute(
        "openrouter", "anthropic/claude-opus-4.6", "https://openrouter.ai/api/v1", "chat_completions"
    )
    hermes.write_config(b"model: [\n")
    with pytest.raises(HermesConfigError, match="invalid YAML"):
        read_hermes_route()


def test_exclusions_follow_what_hermes_can_see(hermes: HermesHome) -> None:
    """Each provider is excluded for the reason Hermes could not use it; .env overrides the shell like Hermes."""
    hermes.env()
    assert set(hermes_exclusions()) == {"claude_code", "openai-codex", "anthropic_api", "openai_api"}
    hermes.claude_login()
    hermes.codex_login()
    hermes.env("OPENROUTER_API_KEY", "ANTHROPIC_API_KEY")
    assert hermes_exclusions() == {}
    (hermes.dir / ".env").write_text("# Hermes keys\nexport ANTHROPIC_API_KEY=\nGITHUB_TOKEN='ghp_FAKEclassic'\n")
    excluded = hermes_exclusions()
    assert set(excluded) == {"anthropic_api", "github-copilot"}
    assert "ghp_" in excluded["github-copilot"] and "FAKEclassic" not in excluded["github-copilot"]
    with pytest.raises(HermesConfigError, match="anthropic_api cannot be used by Hermes"):
        apply_recommendation(rec("anthropic_api", "claude-opus-4.6"))


def test_caveat_only_when_the_api_key_wins(hermes: HermesHome) -> None:
    """The caveat appears exactly when Hermes would bill ANTHROPIC_API_KEY instead of the Claude login."""
    hermes.env()
    assert claude_code_caveat() is None
    hermes.env("ANTHROPIC_API_KEY")
    text = claude_code_caveat()
    assert text is not None and "no config.yaml setting" in text and FAKE["ANTHROPIC_API_KEY"] not in text
    (hermes.dir / ".env").write_text("ANTHROPIC_TOKEN=sk-ant-oat01-x\n")
    assert claude_code_caveat() is None


def test_write_auxiliary_points_every_task_but_custom_endpoints(hermes: HermesHome) -> None:
    """write_auxiliary sets every auxiliary task's provider, keeps a task with its own key, fixes model names."""
    hermes.claude_login()
    hermes.write_config(
        b"auxiliary:\n"
        b"  compression: {provider: auto}\n"
        b"  vision:\n    provider: openrouter\n    model: anthropic/claude-haiku-4.5\n"
        b"  web_extract:\n    provider: custom\n    base_url: http://127.0.0.1:8080/v1\n    key_env: LOCAL_KEY\n"
        b"  transient_retries: 2\n"
    )
    assert apply_recommendation(rec("claude_code", "claude-sonnet-4.6"), write_auxiliary=True) is True
    assert hermes.config.read_text() == (
        "auxiliary:\n"
        "  compression: {provider: anthropic}\n"
        "  vision:\n    provider: anthropic\n    model: claude-haiku-4-5\n"
        "  web_extract:\n    provider: custom\n    base_url: http://127.0.0.1:8080/v1\n    key_env: LOCAL_KEY\n"
        "  transient_retries: 2\n"
        "model:\n  default: claude-sonnet-4-6\n  provider: anthropic\n"
    )


def test_fallbacks_replace_the_list_in_its_own_style(hermes: HermesHome) -> None:
    """fallback_providers is rewritten in place (block or flow as found); without fallbacks it is left alone."""
    hermes.everything("COPILOT_GITHUB_TOKEN", "ANTHROPIC_API_KEY")
    hermes.write_config(
        b"model:\n  default: x\n  provider: anthropic\n"
        b"fallback_providers:\n  # mine\n  - provider: openrouter\n    model: a/b\nother: 1\n"
    )
    main = rec("claude_code", "claude-sonnet-4.6")
    assert apply_recommendation(main) is True
    assert b"- provider: openrouter" in hermes.config.read_bytes()
    assert apply_recommendation(main, fallbacks=[rec("github-copilot", "claude-sonnet-4.6")]) is True
    assert hermes.config.read_text().split("fallback_providers:\n")[1] == (
        "  # mine\n  - provider: copilot\n    model: claude-sonnet-4.6\nother: 1\nauxiliary:\n  compression:\n"
        "    provider: anthropic\n"
    )
    # With a Claude OAuth token visible, `anthropic` bills the subscription, so the API route is a real fallback;
    # its entry says which key it bills.
    hermes.monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat01-FAKEoauthTOKEN0000")
    hermes.write_config(b"model: {provider: anthropic, default: x}\nfallback_providers: []  # none yet\n")
    apply_recommendation(main, fallbacks=[rec("anthropic_api", "claude-sonnet-4.6")])
    text = hermes.config.read_text()
    assert (
        "fallback_providers: [{provider: anthropic-api, model: claude-sonnet-4-6, key_env: ANTHROPIC_API_KEY}]"
        "  # none yet\n"
    ) in text
    assert "providers:\n  anthropic-api:\n    base_url: https://api.anthropic.com\n" in text


def test_no_two_fallback_entries_bill_one_key(hermes: HermesHome) -> None:
    """With ANTHROPIC_API_KEY visible and no Claude OAuth token, `provider: anthropic` bills that key: the API
    route is then no fallback for it (and the subscription entry is none for the API route)."""
    hermes.everything("ANTHROPIC_API_KEY", "COPILOT_GITHUB_TOKEN")
    hermes.write_config(b"model:\n  default: x\n  provider: anthropic\n")
    sub, api = rec("claude_code", "claude-sonnet-4.6"), rec("anthropic_api", "claude-sonnet-4.6")
    copilot = rec("github-copilot", "claude-sonnet-4.6")
    apply_recommendation(sub, fallbacks=[api, copilot])
    data = yaml.safe_load(hermes.config.read_text())
    assert data["fallback_providers"] == [{"provider": "copilot", "model": "claude-sonnet-4.6"}]
    apply_recommendation(api, fallbacks=[sub, copilot])
    data = yaml.safe_load(hermes.config.read_text())
    assert data["fallback_providers"] == [{"provider": "copilot", "model": "claude-sonnet-4.6"}]


def test_apply_to_hermes_with_a_real_router(hermes: HermesHome, home: Path) -> None:
    """apply_to_hermes writes the Router's best provider Hermes can use, skipping excluded ones, and is
    idempotent; with write_fallbacks the runner-ups become fallback_providers."""
    hermes.claude_login()
    hermes.env("COPILOT_GITHUB_TOKEN")  # no Hermes codex login: openai-codex is excluded
    hermes.write_config(CORPUS / "indent2.yaml")
    with Router(state_path=home / "state.json", eager=False) as router:
        router.set_quota("openai-codex", 95)
        router.set_quota("github-copilot", 60)
        router.set_quota("claude_code", 30)
        router.record_turn("github-copilot", "gpt-5.5", status_code=200)  # Copilot accepted the token
        router.flush()
        assert router.ranked("gpt-5.5")[0].provider_id == "openai-codex"
        diff = hermes_diff(router, "gpt-5.5")
        assert "+  provider: copilot" in diff
        assert apply_to_hermes(router, "gpt-5.5") is True
        assert read_hermes_route() == HermesRoute("copilot", "gpt-5.5", None, None)
        mtime = hermes.config.stat().st_mtime_ns
        assert apply_to_hermes(router, "gpt-5.5") is False
        assert hermes.config.stat().st_mtime_ns == mtime
        assert apply_to_hermes(router, "claude-sonnet-4.6", write_fallbacks=True) is True
        route = read_hermes_route()
        assert route == HermesRoute("copilot", "claude-sonnet-4.6", None, None)
        assert "fallback_providers:\n  - provider: anthropic\n    model: claude-sonnet-4-6\n" in (
            hermes.config.read_text()
        )
        assert hermes_diff(router, "claude-sonnet-4.6", write_fallbacks=True) == ""


def test_apply_to_hermes_without_candidates_changes_nothing(hermes: HermesHome, home: Path) -> None:
    """No provider known to the Router: False and the file is untouched."""
    hermes.write_config(CORPUS / "indent4.yaml")
    with Router(state_path=home / "state.json", eager=False) as router:
        assert apply_to_hermes(router, "gpt-5.5") is False
    assert hermes.config.read_bytes() == (CORPUS / "indent4.yaml").read_bytes()


def test_an_apply_that_changes_nothing_writes_nothing(hermes: HermesHome) -> None:
    """A no-op apply leaves the config and bhoga's route record untouched (no write, no fsync); a flip records."""
    from bhoga import _pin

    hermes.claude_login()
    hermes.write_config(b"model:\n  default: gpt-5\n")
    assert apply_recommendation(rec("claude_code", "claude-opus-4.6")) is True
    record, config = _pin.pin_path(), hermes.dir / "config.yaml"
    before = (record.stat().st_ino, record.stat().st_mtime_ns, config.stat().st_mtime_ns)
    assert apply_recommendation(rec("claude_code", "claude-opus-4.6")) is False
    assert (record.stat().st_ino, record.stat().st_mtime_ns, config.stat().st_mtime_ns) == before
    assert _pin.load().known_provider == "anthropic"
    hermes.codex_login()
    assert apply_recommendation(rec("openai-codex", "gpt-5.4")) is True
    assert _pin.load().known_provider == "openai-codex"
