"""Codex discovery end to end: rollout trees in a temporary HOME, a loopback wham/usage server, and a fake
`codex app-server` speaking JSON-RPC on stdio."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from bhoga.discovery import check_quota, codex, discover, get_codex_models
from bhoga.discovery.codex_files import newest_rollouts, read_rollout_families
from tests.discovery_helpers import (
    CODEX_REFRESH,
    assert_no_secrets,
    assert_no_secrets_in_files,
    data,
    data_json,
    token_count_line,
    write_codex_auth,
    write_exe,
    write_rollout,
)
from tests.fakeserver import FakeServer, Reply

WHAM = "/backend-api/wham/usage"
RL = {
    "limit_id": "codex",
    "primary": {"used_percent": 42.0, "window_minutes": 300, "resets_at": 4102444800},
    "secondary": {"used_percent": 17.0, "window_minutes": 10080, "resets_at": 4102444800},
    "plan_type": "pro",
}


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def now() -> datetime:
    return datetime.now(UTC)


class Audit:
    """Records the paths os.scandir, os.listdir and open touch while enabled (audit hooks cannot be removed)."""

    on = False
    scanned: ClassVar[list[str]] = []
    opened: ClassVar[list[str]] = []

    @classmethod
    def hook(cls, event: str, args: tuple) -> None:  # type: ignore[type-arg]
        if cls.on and event in ("os.scandir", "os.listdir"):
            cls.scanned.append(str(args[0]))
        elif cls.on and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
            cls.opened.append(os.fsdecode(args[0]))


sys.addaudithook(Audit.hook)


@pytest.fixture
def audit() -> Iterator[type[Audit]]:
    Audit.scanned, Audit.opened, Audit.on = [], [], True
    yield Audit
    Audit.on = False


def fake_codex(bin_dir: Path, home: Path, answer: dict | None, *, hang: bool = False) -> Path:  # type: ignore[type-arg]
    """A `codex` that logs argv and every JSON-RPC line to HOME/codex-log.jsonl and answers id 2 with `answer`."""
    log = home / "codex-log.jsonl"
    body = f"""
import json, sys, time
log = open({str(log)!r}, "a")
log.write(json.dumps({{"argv": sys.argv[1:]}}) + "\\n"); log.flush()
for line in sys.stdin:
    msg = json.loads(line)
    log.write(json.dumps(msg) + "\\n"); log.flush()
    if {hang!r}:
        time.sleep(60)
    if msg.get("id") == 1:
        print(json.dumps({{"jsonrpc": "2.0", "id": 1, "result": {{"userAgent": "fake"}}}}), flush=True)
    elif msg.get("id") == 2:
        print(json.dumps({{"jsonrpc": "2.0", "method": "account/rateLimits/updated", "params": {{}}}}), flush=True)
        print(json.dumps(dict({answer!r}, jsonrpc="2.0", id=2)), flush=True)
"""
    write_exe(bin_dir, "codex", body)
    return log


def test_fresh_rollout_needs_no_network(home: Path, online: FakeServer) -> None:
    """A rollout token_count younger than 15 min is the answer; wham/usage is not called."""
    write_codex_auth(home)
    t = now() - timedelta(minutes=2)
    write_rollout(home, t.strftime("%Y/%m/%d"), "a", [{"type": "session_meta"}, token_count_line(iso(t), RL)])
    obs = discover("openai-codex")
    assert obs.source == "rollout" and obs.credential is True
    assert {w.key: w.pct_used for w in obs.windows} == {"burst": 42.0, "weekly": 17.0}
    assert ("plan", "pro") in obs.extra and online.count() == 0


def test_walk_is_newest_first_and_bounded(home: Path, audit: type[Audit]) -> None:
    """Only the newest year/month and two newest day directories are listed; older ones are never touched."""
    for year in (2024, 2025, 2026):
        for month in (1, 6, 11):
            for day in (1, 15, 28):
                write_rollout(home, f"{year}/{month:02}/{day:02}", f"{year}-{month}-{day}", [b"{}"])
    t = iso(now())
    newest = write_rollout(home, "2026/11/28", "z-newest", [token_count_line(t, RL)])
    audit.scanned.clear()
    audit.opened.clear()
    assert discover("openai-codex").source == "rollout"
    assert newest_rollouts(home / ".codex" / "sessions")[0] == newest
    listed = {Path(p).relative_to(home / ".codex" / "sessions").as_posix() for p in audit.scanned}
    assert listed <= {".", "2026", "2026/11", "2026/11/28", "2026/11/15"}, listed
    assert not any("2024" in p or "2025" in p for p in audit.opened)


def test_a_session_started_after_the_kept_listing_is_found(home: Path, audit: type[Audit]) -> None:
    """The newest names of a day directory are kept between discoveries until a new file changes the directory."""
    t = now()
    old = write_rollout(home, "2026/11/25", "a", [token_count_line(iso(t - timedelta(minutes=5)), RL)])
    day = old.parent
    past = t.timestamp() - 60
    os.utime(old, (past, past))
    os.utime(day, (past, past))  # a directory last changed a minute ago: its listing may be kept
    sessions = home / ".codex" / "sessions"
    assert newest_rollouts(sessions) == [old]
    audit.scanned.clear()
    assert newest_rollouts(sessions) == [old]
    assert str(day) not in audit.scanned  # answered from the kept listing
    new = write_rollout(home, "2026/11/25", "b", [token_count_line(iso(t), {**RL, "plan_type": "new"})])
    assert newest_rollouts(sessions)[0] == new
    assert str(day) in audit.scanned
    assert ("plan", "new") in discover("openai-codex").extra


def test_yesterdays_session_still_running_wins_by_mtime(home: Path) -> None:
    """A session started before midnight (yesterday's directory) but written last is the newest."""
    t = now()
    write_rollout(
        home,
        "2026/11/25",
        "today",
        [token_count_line(iso(t - timedelta(minutes=9)), {**RL, "plan_type": "old"})],
        mtime=t.timestamp() - 500,
    )
    write_rollout(
        home, "2026/11/24", "yesterday", [token_count_line(iso(t - timedelta(minutes=1)), RL)], mtime=t.timestamp()
    )
    assert ("plan", "pro") in discover("openai-codex").extra


def test_newest_file_without_limits_falls_back_to_next(home: Path) -> None:
    """An API-key session (no rate_limits) in the newest file does not hide the previous one's limits."""
    t = now()
    write_rollout(home, "2026/11/25", "b", [token_count_line(iso(t), None)], mtime=t.timestamp())  # type: ignore[arg-type]
    write_rollout(
        home, "2026/11/25", "a", [token_count_line(iso(t - timedelta(minutes=3)), RL)], mtime=t.timestamp() - 60
    )
    assert discover("openai-codex").source == "rollout"


def test_only_the_tail_is_read(home: Path) -> None:
    """A 1 GiB (sparse) rollout: the last token_count is found from the tail without reading the file."""
    t = now()
    path = write_rollout(home, "2026/11/25", "big", [])
    with path.open("wb") as f:
        f.truncate(1 << 30)
        f.seek(1 << 30)
        f.write(b"\n" + json.dumps(token_count_line(iso(t), RL)).encode() + b"\n")
    assert discover("openai-codex").source == "rollout"


def test_line_split_across_chunks(home: Path) -> None:
    """A token_count line straddling the first 64 KiB chunk boundary is reassembled."""
    t = now()
    pad = {"type": "response_item", "payload": {"text": "x" * (64 * 1024 - 300)}}
    path = write_rollout(home, "2026/11/25", "split", [token_count_line(iso(t), RL), pad])
    fams = read_rollout_families(path)
    assert fams["codex"][1]["primary"]["used_percent"] == 42.0


def test_read_is_capped(home: Path) -> None:
    """A token_count more than 4 MiB before the end is not searched for (bounded work)."""
    t = now()
    filler = [{"type": "response_item", "payload": {"text": "y" * 100_000}} for _ in range(50)]
    path = write_rollout(home, "2026/11/25", "deep", [token_count_line(iso(t), RL), *filler])
    assert read_rollout_families(path) == {}


def test_stale_rollout_asks_wham(home: Path, online: FakeServer) -> None:
    """An old rollout value leads to one wham/usage GET with Bearer + ChatGPT-Account-Id."""
    auth = json.loads(write_codex_auth(home).read_text())
    old = now() - timedelta(hours=3)
    write_rollout(home, old.strftime("%Y/%m/%d"), "old", [token_count_line(iso(old), RL)])
    online.route(WHAM, Reply(200, data_json("codex_wham_usage.json")))
    obs = discover("openai-codex")
    assert obs.source == "wham" and ("plan", "plus") in obs.extra
    assert {w.key: w.pct_used for w in obs.windows}["weekly@gpt-5.3-codex-spark"] == 100
    [req] = online.requests
    assert req.headers["authorization"] == f"Bearer {auth['tokens']['access_token']}"
    assert req.headers["chatgpt-account-id"] == "acc-1"
    assert discover("openai-codex").source in ("last-good", "rollout") and online.count() == 1


def test_wham_429_is_remembered(home: Path, online: FakeServer) -> None:
    """429 with retry-after blocks further calls (even forced) and the stale rollout is returned with its age."""
    write_codex_auth(home)
    old = now() - timedelta(hours=2)
    write_rollout(home, old.strftime("%Y/%m/%d"), "old", [token_count_line(iso(old), RL)])
    online.route(WHAM, Reply(429, {"error": "slow down"}, {"retry-after": "600"}))
    obs = discover("openai-codex")
    assert obs.source == "rollout" and "2h old" in obs.note
    discover("openai-codex", force=True)
    assert online.count() == 1


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, b"oops"),
        Reply(200, "<html>login</html>"),
        Reply(200, b"\x00" * 10),
        Reply(200, b"y" * (3 * 1024 * 1024)),
        Reply(200, {"unexpected": True}),
    ],
    ids=["500", "html", "binary", "huge", "unknown-shape"],
)
def test_wham_bad_answers(home: Path, online: FakeServer, logs: pytest.LogCaptureFixture, reply: Reply) -> None:
    """Bad wham answers: no windows, no exception, one warning line, no token in it."""
    write_codex_auth(home)
    online.route(WHAM, reply)
    assert check_quota("openai-codex") is None
    assert len([r for r in logs.records if r.levelname == "WARNING"]) == 1
    assert_no_secrets(logs.text)


def test_wham_401_falls_back_to_app_server(home: Path, online: FakeServer, fake_bin: Path) -> None:
    """A rejected login → stale-credentials note; `codex app-server` is asked (Codex refreshes its own login)."""
    write_codex_auth(home)
    online.route(WHAM, Reply(401, {"detail": "Could not validate credentials"}))
    log = fake_codex(fake_bin, home, data_json("app_server_account_rateLimits_read.response.json"))
    obs = discover("openai-codex")
    assert obs.source == "app-server" and "stale credentials" in obs.note
    assert {w.key: w.pct_used for w in obs.windows} == {"burst": 42, "weekly": 17}
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert lines[0]["argv"] == ["-s", "read-only", "-a", "never", "app-server"]
    assert [m.get("method") for m in lines[1:]] == ["initialize", "initialized", "account/rateLimits/read"]


def test_expired_codex_token_not_sent(home: Path, online: FakeServer, fake_bin: Path) -> None:
    """An expired access token is never sent nor refreshed; the app-server answers instead."""
    auth = write_codex_auth(home, expires_in=-3600)
    before = auth.read_bytes()
    fake_codex(fake_bin, home, data_json("app_server_account_rateLimits_read.response.json"))
    obs = discover("openai-codex")
    assert obs.source == "app-server" and "expired" in obs.note
    assert online.count() == 0 and auth.read_bytes() == before


def test_app_server_error_and_hang(
    home: Path, online: FakeServer, fake_bin: Path, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture
) -> None:
    """A JSON-RPC error is logged in one line; a hanging app-server is killed after the timeout."""
    monkeypatch.setenv("CODEX_HOME", str(home / ".codex"))
    (home / ".codex").mkdir()
    (home / ".codex" / "config.toml").write_text('cli_auth_credentials_store = "keyring"\n')
    fake_codex(fake_bin, home, {"error": {"code": -32600, "message": "chatgpt authentication required"}})
    obs = discover("openai-codex")
    assert obs.windows == () and obs.credential is None and "keyring" in obs.note
    assert "-32600" in logs.text
    monkeypatch.setattr(codex, "APP_SERVER_TIMEOUT", 0.5)
    fake_codex(fake_bin, home, {}, hang=True)
    assert discover("openai-codex", force=True).windows == ()


def test_api_key_mode_has_no_plan(home: Path, online: FakeServer, fake_bin: Path) -> None:
    """API-key auth.json: credential False for the plan, a note, and nothing is called."""
    (home / ".codex").mkdir()
    (home / ".codex" / "auth.json").write_bytes(data("codex_auth_apikey.json"))
    log = fake_codex(fake_bin, home, {})
    obs = discover("openai-codex")
    assert obs.credential is False and "API key" in obs.note
    assert online.count() == 0 and not log.exists()


def test_offline_no_request_no_app_server(
    home: Path, server: FakeServer, fake_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BHOGA_OFFLINE=1 with a stale rollout and a valid login: zero requests, no `codex` run."""
    monkeypatch.setenv("BHOGA_CHATGPT_BASE_URL", server.url + "/backend-api")
    write_codex_auth(home)
    old = now() - timedelta(days=1)
    write_rollout(home, old.strftime("%Y/%m/%d"), "old", [token_count_line(iso(old), RL)])
    log = fake_codex(fake_bin, home, {})
    obs = discover("openai-codex", force=True)
    assert obs.source == "rollout" and server.count() == 0 and not log.exists()


@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe", b"[]", b'{"tokens": null}'])
def test_garbage_auth_and_rollouts(home: Path, content: bytes) -> None:
    """Garbage auth.json and rollout files: None, never an exception."""
    (home / ".codex").mkdir()
    (home / ".codex" / "auth.json").write_bytes(content)
    write_rollout(home, "2026/11/25", "g", [content or b"x"])
    assert check_quota("openai-codex") is None


def test_models_from_cache_config_and_defaults(home: Path) -> None:
    """get_codex_models: listed cache slugs by priority → config.toml model → built-in defaults."""
    assert get_codex_models() == ["gpt-5.4", "gpt-5-codex"]
    (home / ".codex").mkdir()
    (home / ".codex" / "config.toml").write_bytes(data("codex_config.toml").replace(b'"gpt-5.4"', b'"gpt-x"', 1))
    assert get_codex_models() == ["gpt-x"]
    (home / ".codex" / "models_cache.json").write_bytes(data("codex_models_cache.json"))
    assert get_codex_models() == ["gpt-5.4", "gpt-5.3-codex-spark"]
    (home / ".codex" / "models_cache.json").write_bytes(b"{garbage")
    (home / ".codex" / "config.toml").write_bytes(b"model = [broken")
    assert get_codex_models() == ["gpt-5.4", "gpt-5-codex"]


def test_no_secret_anywhere(
    home: Path, online: FakeServer, capsys: pytest.CaptureFixture[str], logs: pytest.LogCaptureFixture
) -> None:
    """Tokens never reach logs, output, observations or bhoga's own files."""
    auth = write_codex_auth(home)
    token = json.loads(auth.read_text())["tokens"]["access_token"]
    for reply in (Reply(200, data_json("codex_wham_usage.json")), Reply(401, {"detail": token}), Reply(500, token)):
        online.route(WHAM, reply)
        obs = discover("openai-codex", force=True)
        assert token not in repr(obs)
    out = capsys.readouterr()
    for text in (logs.text, out.out, out.err):
        assert token not in text and CODEX_REFRESH not in text
    assert_no_secrets_in_files(home, skip=(auth,))
