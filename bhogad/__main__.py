"""`python -m bhogad`."""

from bhogad.main import main

raise SystemExit(main())
