"""The typed wire both ways: every request encodes to a line the parser reads back equal, every answer to a
line the client decodes back equal, and the CLI's local `status` has the daemon's shape."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bhoga._client_io import ask, read_answer
from bhoga._model import ProviderStatus, RouterRecommendation
from bhoga._protocol import (
    ApplyRequest,
    BestRequest,
    PauseRequest,
    PingRequest,
    PinRequest,
    Request,
    ResumeRequest,
    SetQuotaRequest,
    StatusRequest,
    SubscribeRequest,
    TurnRequest,
    encode_request,
)
from bhoga._protocol_parse import parse_request
from bhoga._responses import (
    OK,
    ApplyAnswer,
    BestAnswer,
    DaemonInfo,
    Failure,
    HermesView,
    LastPass,
    PausedAnswer,
    PingAnswer,
    Response,
    RouteView,
    StatusAnswer,
    Subscribed,
)
from bhoga._responses_decode import decode_response
from bhoga._responses_encode import encode_response
from bhoga._router import Router
from bhoga.cli._daemon_or_local import _local_status
from bhoga.errors import ProtocolError
from tests.fixtures_socket import server_thread

REQUESTS: list[Request] = [
    PingRequest(),
    StatusRequest(),
    PauseRequest(),
    ResumeRequest(),
    SubscribeRequest(),
    BestRequest("claude-opus-4"),
    ApplyRequest("gpt-5", dry_run=True, aux=True),
    PinRequest(True),
    PinRequest(False),
    SetQuotaRequest("claude_code", 90.0, 60.0, "claude-opus-4"),
    SetQuotaRequest("openai_api", 12.5),
    TurnRequest("openai-codex", "gpt-5"),
    TurnRequest("claude_code", "claude-opus-4", 1, 2, 429, {"retry-after": "30"}, "rate_limit_error", "hermes"),
]

_REC = RouterRecommendation(
    "claude_code", "claude-opus-4", 0.6, ProviderStatus.OK, "anthropic/claude-opus-4", 0, "most headroom", "5h",
    datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
)  # fmt: skip

ANSWERS: list[tuple[Request, Response]] = [
    (TurnRequest("claude_code", "m"), OK),
    (PingRequest(), PingAnswer(1234, "0.2.0")),
    (BestRequest("claude-opus-4"), BestAnswer(_REC, (_REC,))),
    (BestRequest("nothing"), BestAnswer(None)),
    (
        BestRequest("claude-opus-4"),
        BestAnswer(_REC, (_REC,), ("discovery failed: claude_code: Claude usage endpoint",)),
    ),
    (PauseRequest(), PausedAnswer(True)),
    (ApplyRequest("m", dry_run=True), ApplyAnswer(False, "claude_code", "kept", "/h/config.yaml", diff="--- a\n")),
    (ApplyRequest("m"), ApplyAnswer(True, "openai-codex", "flip", "/h/config.yaml", route="openai-codex / gpt-5")),
    (SubscribeRequest(), Subscribed()),
    (StatusRequest(), Failure("no such thing")),
    (
        StatusRequest(),
        StatusAnswer(
            quotas=({"provider_id": "claude_code", "model": "*", "windows": []},),
            hermes=HermesView(
                "/h/config.yaml",
                "anthropic",
                "claude-opus-4",
                True,
                "2026-01-01T00:00:00+00:00",
                None,
                LastPass("written", "routed"),
            ),
            routes=(RouteView("claude-opus-4", (_REC,)),),
            paused=False,
            daemon=DaemonInfo(
                7,
                "0.2.0",
                "2026-01-01T00:00:00+00:00",
                300.0,
                None,
                ("/h",),
                1,
                {"hermes": 2},
                {"hermes": "2026-01-01T00:00:00.000+00:00"},
                3,
                2,
            ),
        ),
    ),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: type(r).__name__)
def test_every_request_encodes_to_a_line_that_parses_back_equal(request_: Request) -> None:
    """encode_request is parse_request's inverse, `"v":1` included, for every op."""
    line = encode_request(request_)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line)["v"] == 1
    assert parse_request(line) == request_


@pytest.mark.parametrize(("request_", "answer"), ANSWERS, ids=lambda x: type(x).__name__)
def test_every_answer_encodes_to_a_line_that_decodes_back_equal(request_: Request, answer: Response) -> None:
    """encode_response and decode_response are inverses for every answer type."""
    line = encode_response(answer)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line)["ok"] is not isinstance(answer, Failure)
    assert decode_response(request_, line.rstrip(b"\n")) == answer


@pytest.mark.parametrize("line", [b"", b"[]", b'{"ok":"yes"}', b'{"ok":true,"pid":"x"}', b"\xff"])
def test_an_answer_that_is_not_protocol_v1_is_a_protocol_error(line: bytes) -> None:
    """Junk from the socket never becomes an answer: one ProtocolError."""
    with pytest.raises(ProtocolError):
        decode_response(PingRequest(), line)


def test_the_real_handler_answers_every_op_through_the_client(tmp_path: Path) -> None:
    """Over a real socket and bhogad's own handler, every request the client can build gets its typed answer."""
    path = tmp_path / "run" / "bhogad.sock"
    router = Router(eager=False)
    router.set_quota("claude_code", 70)
    with server_thread(path, router=router):
        assert isinstance(ask(path, PingRequest()), PingAnswer)
        assert ask(path, TurnRequest("claude_code", "claude-opus-4", headers={"retry-after": "5"})) == OK
        best = ask(path, BestRequest("claude-opus-4"))
        assert isinstance(best, BestAnswer) and best.recommendation is not None
        assert best.recommendation == best.ranked[0] and best.recommendation.provider_id == "claude_code"
        assert ask(path, PauseRequest()) == PausedAnswer(True)
        assert ask(path, ResumeRequest()) == PausedAnswer(False)
        status = ask(path, StatusRequest())
        assert isinstance(status, StatusAnswer) and status.daemon is not None
        assert status.daemon.received_turns == 1 and status.daemon.processed_turns == 1
        refused = ask(path, SetQuotaRequest("claude_code", 50, model="x" * 300))
        assert isinstance(refused, Failure) and "1-256" in refused.error
    router.close()


def test_read_answer_skips_owed_lines_and_keeps_what_follows() -> None:
    """The one read-a-line loop skips answers owed to earlier events and returns the bytes read past its line."""
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b'{"ok":true}\n{"ok":true}\n{"ok":true,"pid":1')
        a.sendall(b',"version":"v"}\n{"event":"status"}\n')
        line, rest = read_answer(b, time.monotonic() + 10, skip=2)
        assert json.loads(line) == {"ok": True, "pid": 1, "version": "v"}
        assert rest.startswith(b'{"event"')


def test_answers_of_a_bhogad_older_than_errors_decode_with_none() -> None:
    """`errors` in `status` and `best` answers is optional: an answer without it (a bhogad older than the field)
    decodes with no errors, and one with it round-trips every line."""
    old_status = (
        b'{"ok":true,"quotas":[],"hermes":{"path":null,"provider":null,"model":null},"routes":[],"paused":false}'
    )
    status = decode_response(StatusRequest(), old_status)
    assert isinstance(status, StatusAnswer) and status.errors == ()
    old_best = json.dumps({"ok": True, "recommendation": None, "ranked": []}).encode()
    best = decode_response(BestRequest("m"), old_best)
    assert isinstance(best, BestAnswer) and best.errors == ()
    line = "discovery failed: openai-codex: Codex wham/usage: HTTP 500"
    new = json.loads(encode_response(StatusAnswer((), HermesView(None, None, None), (), False, errors=(line,))))
    assert new["errors"] == [line]
    assert decode_response(StatusRequest(), json.dumps(new).encode()) == StatusAnswer(
        (), HermesView(None, None, None), (), False, errors=(line,)
    )


def test_local_status_has_the_daemon_status_shape(home: Path) -> None:
    """Without a daemon the CLI builds the same StatusAnswer (daemon: null), so one renderer serves both."""
    status = _local_status()
    assert isinstance(status, StatusAnswer) and status.daemon is None and status.errors == ()
    obj = json.loads(encode_response(status))
    assert set(obj) == {"ok", "quotas", "hermes", "routes", "paused", "daemon", "policy", "errors"}
    assert set(obj["hermes"]) == {"path", "provider", "model", "last_pass", "pinned", "pinned_since", "problem"}
    assert decode_response(StatusRequest(), encode_response(status).rstrip(b"\n")) == status
