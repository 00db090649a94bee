"""Issue 13, class 2: edits inside flow mappings and flow sequences compose, however many entries of one flow
collection an edit removes, replaces or adds (Hypothesis, checked against PyYAML, which Hermes reads with)."""

from __future__ import annotations

from typing import Any

import yaml  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bhoga.errors import HermesConfigError
from bhoga.hermes import apply_recommendation, read_hermes_route
from bhoga.hermes._apply import _expect
from bhoga.hermes._splice import DELETE, Spec, apply_spec, splice
from bhoga.hermes._verify import verified
from bhoga.hermes._yamldoc import parse_doc, to_data
from tests.fixtures_hermes import HermesHome, hermes, rec

__all__ = ["hermes"]

KEYS = ["provider", "default", "base_url", "api_mode", "api_base", "model", "compression", "vision", "x"]
WORDS = ["openrouter", "gpt-5.5", "https://openrouter.ai/api/v1", "chat_completions", "a b", "it's", "x:y"]

leaf = st.sampled_from(WORDS)
flat = st.dictionaries(st.sampled_from(KEYS), leaf, min_size=1, max_size=6)
nested = st.dictionaries(st.sampled_from(KEYS), st.one_of(leaf, flat), min_size=1, max_size=4)
lists = st.lists(st.dictionaries(st.sampled_from(["provider", "model", "base_url"]), leaf, min_size=1), max_size=3)


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'" if (" " in value or ":" in value or "'" in value) else value


@st.composite
def flow_style(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "multiline": draw(st.booleans()),
        "trailing_comma": draw(st.booleans()),
        "spaces": draw(st.sampled_from(["", " "])),
        "comment": draw(st.booleans()),
    }


def flow(value: Any, s: dict[str, Any], depth: int = 1) -> str:
    if isinstance(value, str):
        return _q(value)
    if isinstance(value, list):
        return "[" + ", ".join(flow(v, s, depth + 1) for v in value) + "]"
    parts = [f"{k}: {flow(v, s, depth + 1)}" for k, v in value.items()]
    sp = s["spaces"]
    if s["multiline"] and depth == 1:
        pad = "  " * depth
        body = (",\n").join(pad + p for p in parts) + ("," if s["trailing_comma"] else "")
        comment = "  # kept" if s["comment"] else ""
        return "{" + comment + "\n" + body + "\n}"
    return "{" + sp + ", ".join(parts) + ("," if s["trailing_comma"] else "") + sp + "}"


edit = st.one_of(st.just(DELETE), leaf)
specs = st.fixed_dictionaries(
    {"model": st.dictionaries(st.sampled_from(KEYS), edit, max_size=6)},
    optional={
        "auxiliary": st.dictionaries(
            st.sampled_from(["compression", "vision"]), st.dictionaries(st.sampled_from(KEYS), edit, max_size=5)
        ),
        "base_url": st.just(DELETE),
        "fallback_providers": lists,
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flat, nested, lists, flow_style(), specs, st.booleans())
def test_flow_edits_compose(
    model: dict[str, str],
    aux: dict[str, Any],
    fallbacks: list[dict[str, str]],
    s: dict[str, Any],
    spec: Spec,
    flow_root: bool,
) -> None:
    """Any set of removals, replacements and additions in flow collections gives exactly old data + spec."""
    data = {"model": model, "auxiliary": aux, "fallback_providers": fallbacks, "base_url": "http://localhost:8000/v1"}
    if flow_root:
        text = flow(data, {**s, "multiline": False}, 0) + "\n"
    else:
        text = "".join(f"{k}: {flow(v, s)}\n" for k, v in data.items())
    doc = parse_doc(text.encode(), "flow.yaml")
    assert to_data(doc.root) == yaml.safe_load(text)
    try:
        new_text, edits = splice(doc, spec)
    except HermesConfigError as e:
        # Only a shape mismatch may be refused: the spec asks for a mapping where the file holds a value.
        assert "not a single value" in str(e) or "is a list" in str(e), e
        return
    new = doc.encode(new_text)
    assert to_data(parse_doc(new, "flow.yaml").root) == _expect(to_data(doc.root), spec)
    verified(doc, new_text, new, edits, spec)  # raises if the edits did not compose
    assert (yaml.safe_load(new_text) or {}) == _expect(yaml.safe_load(text), spec)
    assert apply_spec(parse_doc(new, "flow.yaml"), spec) == new_text  # idempotent
    if s["comment"] and s["multiline"] and not flow_root:
        assert new_text.count("# kept") == text.count("# kept")


FLOW_MODEL = (
    "# my config\n"
    "model: {provider: openrouter, default: anthropic/claude-sonnet-4.6, base_url: https://openrouter.ai/api/v1,"
    " api_mode: chat_completions}\n"
    "auxiliary: {compression: {provider: openrouter, model: google/gemini-3-flash-preview, base_url: "
    "https://openrouter.ai/api/v1, api_mode: chat_completions}}\n"
)


def test_flow_style_model_flips_away_from_openrouter(hermes: HermesHome) -> None:
    """Issue 13 class 2: a flow-style `model:` naming openrouter, base_url and api_mode flips to every route."""
    hermes.everything("OPENAI_API_KEY", "COPILOT_GITHUB_TOKEN", "ANTHROPIC_API_KEY")
    for pid, model in [("openai_api", "gpt-5.5"), ("github-copilot", "claude-sonnet-4.6"), ("claude_code", "x")]:
        hermes.write_config(FLOW_MODEL)
        assert apply_recommendation(rec(pid, model if model != "x" else "claude-sonnet-4.6")) is True
        text = hermes.config.read_text()
        data = yaml.safe_load(text)
        assert "base_url" not in data["model"] and "api_mode" not in data["model"], text
        assert "base_url" not in data["auxiliary"]["compression"], text
        assert text.startswith("# my config\nmodel: {provider: ")
        route = read_hermes_route()
        assert route is not None and route.provider in ("openai-api", "copilot", "anthropic")
