"""bhoga: keep AI harnesses on the provider with the most subscription quota left.

The public API; every name here is re-exported from a private module.
"""

from bhoga import _lazy  # noqa: F401 - first: loads enum without functools (see there)
from bhoga._model import ProviderQuota, ProviderStatus, QuotaWindow, RouterRecommendation
from bhoga._providers import model_family, to_hermes_model
from bhoga._router import Router
from bhoga.errors import BhogaError, HermesConfigError

__all__ = [
    "BhogaError",
    "HermesConfigError",
    "ProviderQuota",
    "ProviderStatus",
    "QuotaWindow",
    "Router",
    "RouterRecommendation",
    "apply_to_hermes",
    "calibrate",
    "check_quota",
    "get_codex_models",
    "mark_throttled",
    "model_family",
    "to_hermes_model",
]

__version__ = "0.2.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from bhoga._calibrate import calibrate, mark_throttled
    from bhoga.discovery import check_quota, get_codex_models
    from bhoga.hermes import apply_to_hermes


def __getattr__(name: str) -> object:
    # Discovery and the Hermes writer pull in urllib and ruamel.yaml; load them on first use so that
    # `import bhoga` stays cheap for harnesses that only route.
    if name in ("calibrate", "mark_throttled"):
        from bhoga import _calibrate  # noqa: PLC0415

        return getattr(_calibrate, name)
    if name in ("check_quota", "get_codex_models"):
        from bhoga import discovery  # noqa: PLC0415

        return getattr(discovery, name)
    if name == "apply_to_hermes":
        from bhoga import hermes  # noqa: PLC0415

        return hermes.apply_to_hermes
    raise AttributeError(f"module 'bhoga' has no attribute {name!r}")
