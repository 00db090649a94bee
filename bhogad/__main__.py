"""`python -m bhogad`."""

from bhogad.main import main

# Only when run: importing this module (`python -X importtime -c "import bhogad.__main__"`) must not start a daemon.
if __name__ == "__main__":
    raise SystemExit(main())
