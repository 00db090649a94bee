"""`best_for`'s fast path gives exactly what the full ranking gives."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bhoga._hierarchy import hierarchy, serving
from bhoga._model import ProviderQuota, QuotaWindow
from bhoga._pace import Pace
from bhoga._quickrank import Classes, QuickView, quick_best
from bhoga._quota_index import QuotaIndex, _Finder
from bhoga._routing import metered_routes, next_change, rank
from bhoga._value import PRICES, Economics
from tests.strategies import NOW, quotas

MODELS = ["claude-opus-4-6", "claude-sonnet-4.6", "gpt-5.4", "gpt-5-codex", "gemini-2.5-pro", "opus", "x"]
NAMES = [
    *MODELS,
    *(f"{m}-v{k}" for m in MODELS for k in (2, 3)),
    "model-12-model-3",  # several scopes of the many, one of them twice (`model-1` in `model-12`)
    "claude-model-7-opus",
    "Claude-Model-30",  # scopes are lowercase; names are matched lowercased
    # Siblings told apart only by their last characters (a scope, or the family, decided there or before),
    # a vendor part, leading blanks, and names shorter than a family prefix.
    "claude-opus-4-7",
    "claude-opus-4-60",
    "gpt-5.4-minx",
    "openai/claude-opus-4-6",
    "anthropic/gpt-5",
    "  gpt-5.5",
    " claude-sonnet-4.7 ",
    "OPUS-4",
    "o",
    "",
    "model-1",
    "model-10",
]
SCOPES = ["opus", "sonnet", "gpt-5", "claude-opus-4-6", "4.6", "o", "codex", "gpt-5.4-mini", "pro"]


def _with_per_model(qs: list[ProviderQuota], extra: list[tuple[int, str, float]]) -> list[ProviderQuota]:
    """Add per-model windows (provider index, scope, pct used) as `set_quota(..., model=...)` makes them."""
    out = []
    for i, q in enumerate(qs):
        mine = [
            QuotaWindow("burst", pct, NOW + timedelta(hours=1), 0, s, NOW, "set_quota") for j, s, pct in extra if j == i
        ]
        out.append(ProviderQuota(q.provider_id, q.model, q.windows + tuple(mine), q.throttled_until, q.credential))
    return out


@settings(max_examples=300, deadline=None)
@given(
    qs=quotas(),
    extra=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(SCOPES), st.floats(0, 100)), max_size=30),
    many=st.integers(0, 40),
    model=st.sampled_from(MODELS),
    policy=st.sampled_from(["headroom", "drain-soonest"]),
    reserve=st.sampled_from([0.0, 0.1, 0.5]),
    later=st.integers(-86400, 86400),
)
def test_quick_best_is_the_first_of_the_full_ranking(
    qs: list[ProviderQuota],
    extra: list[tuple[int, str, float]],
    many: int,
    model: str,
    policy: str,
    reserve: float,
    later: int,
) -> None:
    """For any state, model, policy and reserve, the fast path picks what `rank()` puts first, with its reason,
    and finds the same next change; also with more scopes than the index tests one by one, and for models
    answered from another of their class."""
    extra = extra + [(0, f"model-{k}", 50.0) for k in range(many)]
    qs = _with_per_model(qs, extra)
    now = NOW + timedelta(seconds=later)
    indexes = [QuotaIndex(q) for q in qs]
    full = rank(qs, model, now, reserve=reserve, policy=policy)
    fast = quick_best(indexes, model, now, reserve=reserve, policy=policy)
    assert fast == (full[0] if full else None)
    assert fast is None or fast.resets_at == full[0].resets_at
    assert quick_best(indexes, model, now, reserve=reserve, policy=policy) == fast  # the remembered windows too
    classes: Classes = {}
    for name in (model, *NAMES):  # classmates share answers
        shared = quick_best(indexes, name, now.timestamp(), reserve=reserve, policy=policy, classes=classes)
        ranked = rank(qs, name, now, reserve=reserve, policy=policy)
        assert shared == (ranked[0] if ranked else None)
        assert shared is None or shared.resets_at == ranked[0].resets_at  # not compared by ==
    # Indexes of new records that kept their scopes reuse what was derived from them: still the same answers.
    again = [QuotaIndex(ProviderQuota(q.provider_id, q.model, q.windows, q.throttled_until, q.credential), idx)
             for q, idx in zip(qs, indexes, strict=True)]  # fmt: skip
    view = QuickView(again, now.timestamp(), reserve=reserve, policy=policy)
    for name in (*NAMES, model):
        ranked = rank(qs, name, now, reserve=reserve, policy=policy)
        best = view.best(name, now)
        assert best == (ranked[0] if ranked else None)
        assert best is None or best.resets_at == ranked[0].resets_at
    change = next_change(qs, now)
    nexts = [t for idx in indexes if (t := idx.next_after(now.timestamp())) is not None]
    assert (min(nexts) if nexts else None) == (change.timestamp() if change else None)
    assert view.until == (change.timestamp() if change else float("inf"))


def test_many_per_model_quotas_find_every_scope_in_the_name() -> None:
    """With 2,000 per-model quotas, every scope that occurs in the model's name binds it (short and long ones)."""
    scoped = [QuotaWindow("burst", 10.0, None, 0, f"claude-model-{k}", NOW, "set_quota") for k in range(2000)]
    scoped += [
        QuotaWindow("burst", 70.0, None, 0, "opus", NOW, "set_quota"),
        QuotaWindow("weekly", 80.0, None, 0, "o", NOW, "set_quota"),
        QuotaWindow("burst", 60.0, None, 0, "4-6", NOW, "set_quota"),
    ]
    q = ProviderQuota("claude_code", windows=(QuotaWindow("burst", 20.0, None, 300, "*", NOW, "header"), *scoped))
    idx = QuotaIndex(q)
    for model, binding in (
        ("claude-opus-4-6", "weekly@o"),
        ("claude-model-7", "weekly@o"),
        ("claude-sonnet-4-6", "weekly@o"),
        ("gpt-4-6", "burst@4-6"),
        ("claude-haiku", "burst"),
    ):
        full = rank([q], model, NOW)
        fast = quick_best([idx], model, NOW, reserve=0.1, policy="headroom")
        assert fast == (full[0] if full else None)
        assert fast is None or fast.binding_window == binding, (model, fast)


_NAME_CHARS = "ab-.1 /Ä"
"""Few characters, so that names share heads and contain scopes; a blank, a vendor slash, one non-ASCII letter."""


@settings(max_examples=300, deadline=None)
@given(
    scopes=st.lists(st.text("ab-.1", min_size=1, max_size=6), min_size=1, max_size=60, unique=True),
    names=st.lists(st.text(_NAME_CHARS, max_size=14), min_size=1, max_size=30),
)
def test_the_finder_finds_every_scope_in_any_order_of_names(scopes: list[str], names: list[str]) -> None:
    """Whatever names were looked at before (a name's head is remembered), the finder answers exactly the
    scopes that occur in the name, with few scopes (tested one by one) and with many (found by their ends)."""
    finder = _Finder(scopes)
    for name in names + names:
        low = name.lower()
        assert finder.find(low) == tuple(sorted(s for s in set(scopes) if s in low)), (low, scopes)


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(
        st.sampled_from(["claude", "opus", "gpt", "o1", "o3", "codex", "chatgpt", "gemini", "sonnet", "x"]).flatmap(
            lambda head: st.text(_NAME_CHARS + "GCPT", max_size=6).map(lambda rest: head + rest)
        )
        | st.text(_NAME_CHARS + "GCPTcl", max_size=10),
        min_size=1,
        max_size=30,
    )
)
def test_the_providers_of_a_name_follow_its_family_whatever_was_asked_before(names: list[str]) -> None:
    """The providers that may serve a name (remembered by the name's first characters) are its hierarchy's,
    also for names cut inside a family prefix, in capitals, with blanks or a vendor part."""
    for name in names:
        for variant in (name, name.upper(), " " + name, "vendor/" + name, name[:3]):
            assert serving(variant) == frozenset(hierarchy(variant)), variant


_SUBS = (
    ("claude_code", "burst", 300, "*"),
    ("claude_code", "weekly", 10080, "opus"),
    ("github-copilot", "monthly", 43200, "*"),
)


_COSTS = tuple(
    (pid, key, model, cost)
    for pid, key, per in (
        ("claude_code", "burst", {"claude-opus-4-6": 2.5, "claude-sonnet-4.6": 0.83, "opus": 2.5}),
        ("claude_code", "weekly@opus", {"claude-opus-4-6": 1.0, "opus": 0.5}),
        ("github-copilot", "monthly", {"claude-opus-4-6": 3.3, "claude-sonnet-4.6": 0.33, "gpt-5.4": 0.33}),
    )
    for model, cost in per.items()
)
"""What one turn costs each window (percent), as a Router learns it: Opus about three Sonnet turns on Claude Code
and ten on Copilot."""


@st.composite
def _contested(draw: st.DrawFn) -> list[ProviderQuota]:
    """Two subscriptions (Claude Code's 5 h and Opus weekly windows, Copilot's month) and the metered APIs, in
    random order: the states where "value" keeps a window for another model."""
    by_pid: dict[str, list[QuotaWindow]] = {}
    for pid, name, minutes, scope in _SUBS:
        used = draw(st.sampled_from((10.0, 40.0, 62.0, 70.0, 95.0)))
        resets = NOW + timedelta(minutes=draw(st.integers(1, minutes)))
        by_pid.setdefault(pid, []).append(QuotaWindow(name, used, resets, minutes, scope, NOW, "test"))
    qs = [ProviderQuota(pid, windows=tuple(ws), credential=True) for pid, ws in by_pid.items()]
    qs += [
        ProviderQuota(pid, credential=True) for pid in draw(st.sets(st.sampled_from(("anthropic_api", "openai_api"))))
    ]
    return draw(st.permutations(qs))


@settings(max_examples=300, deadline=None)
@given(
    qs=_contested(),
    policy=st.sampled_from(["pace", "value"]),
    reserve=st.sampled_from([0.0, 0.1, 0.5]),
    later=st.integers(-3600, 3600),
    runs_out=st.lists(st.booleans(), min_size=24, max_size=24),
    costs=st.sets(st.sampled_from(_COSTS)),
    asked=st.frozensets(st.sampled_from(MODELS)),
)
def test_quick_best_under_forecasts_is_the_first_of_the_full_ranking(
    qs: list[ProviderQuota],
    policy: str,
    reserve: float,
    later: int,
    runs_out: list[bool],
    costs: set[tuple[str, str, str, float]],
    asked: frozenset[str],
) -> None:
    """Under "pace" and "value" (forecasts, learned costs, models in use), the fast path picks what `rank()`
    puts first, with its reason, for each model and for models answered from another of their class."""
    now = NOW + timedelta(seconds=later)
    flags = iter(runs_out * 4)
    paces = {
        (q.provider_id, w.key): Pace(40.0, now + timedelta(minutes=30), 140.0, 5, 3600)
        if next(flags)
        else Pace(5.0, None, 60.0, 5, 3600)
        for q in qs
        for w in q.windows
    }
    learned: dict[tuple[str, str], dict[str, float]] = {}
    for pid, key, model, cost in costs:
        learned.setdefault((pid, key), {})[model] = cost
    used = {m for per in learned.values() for m in per}
    econ = Economics(learned, PRICES, frozenset(asked | used), metered_routes(qs))
    e = econ if policy == "value" else None
    indexes = [QuotaIndex(q) for q in qs]
    classes: Classes = {}
    for name in (*MODELS, *NAMES):
        ranked = rank(qs, name, now, reserve=reserve, policy=policy, paces=paces, econ=e)
        fast = quick_best(indexes, name, now, reserve=reserve, policy=policy, classes=classes, paces=paces, econ=e)
        assert fast == (ranked[0] if ranked else None), name
        assert fast is None or fast.resets_at == ranked[0].resets_at
