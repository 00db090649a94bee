"""Load the bhoga plugin with Hermes' own plugin manager and fire its hooks. Runs INSIDE the Hermes venv.

Usage: python plugin_probe.py load | bench   (HOME and HERMES_HOME point at a throwaway home)
- load: discover plugins as Hermes does, fire `post_api_request` and `api_request_error` through Hermes'
  `invoke_hook` (the error raised as the real openai SDK RateLimitError over an httpx response, handled in a
  local called `api_error` as in Hermes' conversation loop), print the plugin's entry and its send counters.
- bench: median seconds per `invoke_hook("post_api_request", ...)` / `("api_request_error", ...)` with the
  plugin loaded, against the same calls with no callback registered (Hermes' cost without the plugin).
"""

import json
import statistics
import sys
import time

from hermes_cli import plugins as hp

POST = {
    "task_id": "t1",
    "turn_id": "u1",
    "api_request_id": "r1",
    "session_id": "s1",
    "platform": "cli",
    "model": "claude-sonnet-4-6",
    "provider": "anthropic",
    "base_url": "https://api.anthropic.com",
    "api_mode": "anthropic_messages",
    "api_call_count": 1,
    "api_duration": 1.2,
    "started_at": 0.0,
    "ended_at": 1.2,
    "finish_reason": "stop",
    "message_count": 3,
    "response_model": "claude-sonnet-4-6",
    "response": {"content": "hi", "tool_calls": []},
    "usage": {"input_tokens": 1200, "output_tokens": 300, "cache_read_tokens": 0, "prompt_tokens": 1200},
    "assistant_message": None,
    "assistant_content_chars": 2,
    "assistant_tool_call_count": 0,
}
BODY = {"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached",
                  "resets_at": int(time.time()) + 3600, "resets_in_seconds": 3600}}  # fmt: skip


def _rate_limit_error():
    import httpx
    import openai

    req = httpx.Request("POST", "https://chatgpt.com/backend-api/codex/responses")
    headers = {"x-codex-primary-used-percent": "100", "x-codex-primary-window-minutes": "300",
               "authorization": "Bearer PLANTED-NOT-A-HEADER-TO-SEND", "retry-after": "3600"}  # fmt: skip
    resp = httpx.Response(429, headers=headers, request=req, json=BODY)
    return openai.RateLimitError("Error code: 429 - " + repr(BODY), response=resp, body=BODY["error"])


def _fire_error(exc):
    try:
        raise exc
    except Exception as api_error:  # the name Hermes' conversation loop uses
        hp.invoke_hook(
            "api_request_error",
            task_id="t1",
            model="gpt-5.5",
            provider="openai-codex",
            base_url="https://chatgpt.com/backend-api/codex",
            api_mode="codex_responses",
            status_code=429,
            retryable=True,
            reason="rate_limit",
            error={"type": type(api_error).__name__, "message": str(api_error)},
        )


def _median_per_call(fn, calls=2000, repeat=15):
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t0) / calls)
    return statistics.median(samples)


def main():
    hp.discover_plugins()
    mgr = hp.get_plugin_manager()
    info = [p for p in mgr.list_plugins() if p["name"] == "bhoga"]
    module = sys.modules.get("hermes_plugins.bhoga")
    if sys.argv[1] == "load":
        hp.invoke_hook("post_api_request", **POST)
        _fire_error(_rate_limit_error())
        sender = getattr(module, "_sender", None)
        print(json.dumps({"plugin": info, "sent": getattr(sender, "sent", None),
                          "dropped": getattr(sender, "dropped", None)}))  # fmt: skip
        return
    exc = _rate_limit_error()
    with_post = _median_per_call(lambda: hp.invoke_hook("post_api_request", **POST))
    with_error = _median_per_call(lambda: _fire_error(exc), calls=500)
    sender = module._sender
    sent, dropped = sender.sent, sender.dropped
    saved = dict(mgr._hooks)
    mgr._hooks.clear()
    without_post = _median_per_call(lambda: hp.invoke_hook("post_api_request", **POST))
    without_error = _median_per_call(lambda: _fire_error(exc), calls=500)
    mgr._hooks.update(saved)
    print(json.dumps({"plugin": info, "post": [with_post, without_post], "error": [with_error, without_error],
                      "sent": sent, "dropped": dropped}))  # fmt: skip


if __name__ == "__main__":
    main()
