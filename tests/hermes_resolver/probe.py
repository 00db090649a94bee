"""Ask the real Hermes (hermes-agent 0.19.0) what its config resolves to. Runs INSIDE the Hermes venv.

Usage: python probe.py   (HOME and HERMES_HOME point at a throwaway home; no network)
Prints one JSON object: the main runtime (provider, api_mode, base_url, credential source, API model name),
the auxiliary compression task, and every fallback_providers entry. API keys are never printed: only their
length and whether they equal a named environment variable.
"""

import json
import os
import sys
import traceback


def _key_info(key):
    if not key:
        return None
    same = sorted(name for name, value in os.environ.items() if value and value == key)
    return {"len": len(key), "same_as_env": same}


def _runtime(requested=None):
    from hermes_cli.runtime_provider import resolve_runtime_provider

    try:
        rt = resolve_runtime_provider(requested=requested) if requested else resolve_runtime_provider()
    except Exception as e:  # the probe reports Hermes' own error instead of dying
        return {"error": type(e).__name__, "message": str(e)[:300], "code": getattr(e, "code", None)}
    return {
        "provider": rt.get("provider"),
        "api_mode": rt.get("api_mode"),
        "base_url": rt.get("base_url"),
        "source": rt.get("source"),
        "requested_provider": rt.get("requested_provider"),
        "api_key": _key_info(rt.get("api_key")),
    }


def main():
    from hermes_cli.env_loader import load_hermes_dotenv

    load_hermes_dotenv()
    from hermes_cli.config import get_config_path, read_raw_config, validate_config_structure
    from hermes_cli.model_normalize import normalize_model_for_provider
    from hermes_cli.runtime_provider import _get_model_config

    out = {"config_path": str(get_config_path())}
    raw = read_raw_config() or {}
    try:
        out["structure_issues"] = [getattr(i, "message", str(i)) for i in validate_config_structure(raw)]
    except Exception as e:
        out["structure_issues"] = [f"validate failed: {e}"]
    model_cfg = _get_model_config()
    out["model_cfg"] = {k: v for k, v in model_cfg.items() if k not in ("api_key", "api")}
    out["runtime"] = _runtime()
    provider = out["runtime"].get("provider")
    default = model_cfg.get("default") or ""
    out["api_model"] = normalize_model_for_provider(default, provider) if provider else None
    try:
        from agent.auxiliary_client import _normalize_aux_provider, _resolve_task_provider_model

        p, m, base_url, key, api_mode = _resolve_task_provider_model("compression")
        out["aux_compression"] = {
            "provider": p,
            "normalized": _normalize_aux_provider(p) if p else None,
            "model": m,
            "base_url": base_url,
            "api_mode": api_mode,
            "api_key": _key_info(key),
        }
        if p and p not in ("auto", "main"):
            out["aux_compression"]["runtime"] = _runtime(p)
    except Exception as e:
        out["aux_compression"] = {"error": f"{type(e).__name__}: {e}"[:300]}
    out["aux"] = {}
    for task, cfg in (raw.get("auxiliary") or {}).items():
        if isinstance(cfg, dict):
            try:
                from agent.auxiliary_client import _resolve_task_provider_model

                p, m, _base, _key, _mode = _resolve_task_provider_model(task)
                entry = {"provider": p, "model": m}
                if p and p not in ("auto", "main"):
                    entry["runtime"] = _runtime(p)
            except Exception as e:
                entry = {"error": f"{type(e).__name__}: {e}"[:300]}
            out["aux"][task] = entry
    fallbacks = raw.get("fallback_providers") or []
    out["fallbacks"] = [
        {"entry": {k: v for k, v in fb.items() if k != "api_key"}, "runtime": _runtime(fb.get("provider"))}
        for fb in fallbacks
        if isinstance(fb, dict)
    ]
    json.dump(out, sys.stdout, indent=1, sort_keys=True, default=str)


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.exit(2)
