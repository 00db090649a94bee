#!/bin/sh
# Prepare this machine for tests/service/test_service_e2e.py, which runs bhogad under a real, unprivileged
# `systemd --user` manager. Run as root, once per machine (idempotent):
#
#     scripts/user-systemd.sh setup     create the test user (default bhoga-e2e) and its home
#     scripts/user-systemd.sh check     say whether the machine can host the manager; exit 1 if not
#
# The test itself creates and removes everything per run (runtime dir, delegated cgroup, private mount of
# /run/systemd, a venv in the user's home, the manager process). A root user manager is never started:
# it would move every process of the machine into its own cgroup.
set -eu

E2E_USER=${BHOGA_E2E_USER:-bhoga-e2e}
SYSTEMD=${BHOGA_E2E_SYSTEMD:-/lib/systemd/systemd}

missing() {
    for tool in setpriv unshare systemctl useradd; do
        command -v "$tool" >/dev/null 2>&1 || { echo "$tool not found"; return 0; }
    done
    [ -x "$SYSTEMD" ] || { echo "$SYSTEMD not found (install the systemd package)"; return 0; }
    [ -d /sys/fs/cgroup ] || { echo "no /sys/fs/cgroup"; return 0; }
    return 1
}

case "${1:-}" in
setup)
    [ "$(id -u)" -eq 0 ] || { echo "user-systemd.sh setup: must run as root" >&2; exit 1; }
    if reason=$(missing); then echo "user-systemd.sh: cannot host a user manager: $reason" >&2; exit 1; fi
    if ! id -u "$E2E_USER" >/dev/null 2>&1; then
        useradd --system --create-home --home-dir "/home/$E2E_USER" --shell /usr/sbin/nologin \
            --comment "bhoga systemd --user end-to-end test" "$E2E_USER"
    fi
    home=$(getent passwd "$E2E_USER" | cut -d: -f6)
    mkdir -p "$home"
    chown "$E2E_USER:" "$home"
    chmod 0700 "$home"
    echo "user-systemd.sh: $E2E_USER (uid $(id -u "$E2E_USER"), home $home) is ready"
    ;;
check)
    if reason=$(missing); then echo "cannot host a user manager: $reason"; exit 1; fi
    [ "$(id -u)" -eq 0 ] || { echo "cannot host a user manager: needs root to delegate a cgroup"; exit 1; }
    id -u "$E2E_USER" >/dev/null 2>&1 || { echo "run: scripts/user-systemd.sh setup"; exit 1; }
    echo "ok"
    ;;
*)
    echo "usage: $0 setup|check" >&2
    exit 2
    ;;
esac
