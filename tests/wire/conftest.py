"""Socket and protocol tests: real Unix sockets, the real server, clients and the protocol document.
Helpers are in tests/fixtures_socket.py and tests/socket_abuse.py."""
