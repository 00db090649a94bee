"""`python -m bhoga` runs the `bhoga` command."""

from __future__ import annotations

from bhoga.cli import main

__all__: list[str] = []

raise SystemExit(main())
