"""bhogad: the user daemon that keeps Hermes on the provider with the most quota left.

Nothing imports this package but its own entry points (`bhogad`, `python -m bhogad`).
"""

__all__: list[str] = []
