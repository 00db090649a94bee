#!/usr/bin/env bash
# Create (once) a separate virtualenv holding the real Hermes client, hermes-agent==0.19.0, so tests can ask
# Hermes' own resolver what a config written by bhoga resolves to. Never installs into bhoga's venv.
#
# Usage: scripts/hermes-venv.sh [VENV_DIR]
#   VENV_DIR defaults to $BHOGA_HERMES_VENV, else ${XDG_CACHE_HOME:-$HOME/.cache}/bhoga/hermes-venv-0.19.0.
# Prints the venv's python on success.
# Exit codes: 0 ready; 3 the package registry cannot be reached (callers skip); 1 anything else.
set -euo pipefail

version="0.19.0"
venv="${1:-${BHOGA_HERMES_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/bhoga/hermes-venv-$version}}"
py="${PYTHON:-python3}"
marker="$venv/.bhoga-ready-$version"

if [[ -f "$marker" && -x "$venv/bin/python" ]]; then
    echo "$venv/bin/python"
    exit 0
fi

mkdir -p "$(dirname "$venv")"
# The ready marker is written last, so an interrupted install is rebuilt from scratch next time.
rm -rf "$venv"
"$py" -m venv "$venv" >&2
log="$venv/install.log"
if ! "$venv/bin/python" -m pip install --quiet "hermes-agent==$version" >"$log" 2>&1; then
    cat "$log" >&2
    if grep -qiE "Could not fetch URL|Failed to establish a new connection|Temporary failure in name resolution|Network is unreachable|timed out|ProxyError|SSLError|No matching distribution found" "$log"; then
        echo "hermes-venv: package registry unreachable; cannot install hermes-agent==$version" >&2
        exit 3
    fi
    exit 1
fi
"$venv/bin/python" -c "import hermes_cli.runtime_provider, agent.auxiliary_client" >&2
touch "$marker"
echo "$venv/bin/python"
