"""`python -m bhoga` runs the `bhoga` command."""

from __future__ import annotations

from bhoga.cli import main

__all__: list[str] = []

# Only when run: importing this module must not run a command.
if __name__ == "__main__":
    raise SystemExit(main())
