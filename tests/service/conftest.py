"""Service install tests. `fake_tools` puts systemctl/launchctl stand-ins first on PATH; `program` is
an installed-looking bhogad."""

from tests.service.test_service_install import fake_tools, program

__all__ = ["fake_tools", "program"]
