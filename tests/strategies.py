"""Hypothesis strategies for quota records, shared by the routing and state tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from bhoga._model import ProviderQuota, QuotaWindow
from bhoga._providers import PROVIDERS

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

offsets = st.integers(min_value=-7 * 86400, max_value=7 * 86400).map(lambda s: NOW + timedelta(seconds=s))

windows = st.builds(
    QuotaWindow,
    name=st.sampled_from(["burst", "weekly", "monthly", "budget"]),
    pct_used=st.floats(min_value=0, max_value=100, allow_nan=False),
    resets_at=st.none() | offsets,
    window_min=st.sampled_from([0, 300, 10080]),
    scope=st.sampled_from(["*", "*", "opus", "sonnet"]),
    observed_at=offsets,
)


@st.composite
def quotas(draw: st.DrawFn) -> list[ProviderQuota]:
    """A set of provider records, at most one per provider, in random order."""
    pids = draw(st.lists(st.sampled_from(sorted(PROVIDERS)), unique=True, max_size=len(PROVIDERS)))
    return [
        ProviderQuota(
            provider_id=pid,
            windows=tuple({w.key: w for w in draw(st.lists(windows, max_size=4))}.values()),
            throttled_until=draw(st.none() | offsets),
            credential=draw(st.booleans()),
        )
        for pid in pids
    ]
