#!/usr/bin/env bash
# Create (once) a separate virtualenv holding the real Hermes client, hermes-agent==VERSION, so tests can ask
# Hermes' own resolver what a config written by bhoga resolves to. Never installs into bhoga's venv.
#
# Usage: scripts/hermes-venv.sh [--version VERSION] [VENV_DIR]
#   VERSION defaults to $BHOGA_HERMES_VERSION, else 0.19.0 (the newest hermes-agent on PyPI).
#   VENV_DIR defaults to $BHOGA_HERMES_VENV (only for the default version), else
#   ${XDG_CACHE_HOME:-$HOME/.cache}/bhoga/hermes-venv-VERSION: one cached venv per version.
# Prints the venv's python on success.
# Exit codes: 0 ready; 3 the package registry cannot be reached (callers skip); 1 anything else.
set -euo pipefail

default_version="0.19.0"
version="${BHOGA_HERMES_VERSION:-$default_version}"
if [[ "${1:-}" == "--version" ]]; then
    version="$2"
    shift 2
fi
if [[ ! "$version" =~ ^[0-9]+(\.[0-9]+)*$ ]]; then
    echo "hermes-venv: $version is not a release number" >&2
    exit 1
fi
cache="${XDG_CACHE_HOME:-$HOME/.cache}/bhoga/hermes-venv-$version"
if [[ "$version" == "$default_version" ]]; then
    venv="${1:-${BHOGA_HERMES_VENV:-$cache}}"
else
    venv="${1:-$cache}"
fi
py="${PYTHON:-python3}"
marker="$venv/.bhoga-ready-$version"

# Hermes' Anthropic provider needs the anthropic SDK (its `anthropic` extra) and the gateway's OpenAI-compatible
# api_server needs aiohttp (its `messaging` extra), both pinned by hermes-agent 0.19.0; Hermes would otherwise try
# to install the SDK itself at the first Anthropic call, and the gateway would run without the api_server.
extras=("anthropic==0.87.0" "aiohttp==3.14.1")

install() {
    if ! "$venv/bin/python" -m pip install --quiet "$@" >>"$log" 2>&1; then
        cat "$log" >&2
        if grep -qiE "Could not fetch URL|Failed to establish a new connection|Temporary failure in name resolution|Network is unreachable|timed out|ProxyError|SSLError|No matching distribution found" "$log"; then
            echo "hermes-venv: package registry unreachable; cannot install $*" >&2
            exit 3
        fi
        exit 1
    fi
}

log="$venv/install.log"
if [[ -f "$marker" && -x "$venv/bin/python" ]]; then
    if ! "$venv/bin/python" -c "import anthropic, aiohttp" >/dev/null 2>&1; then
        # A venv made before the extras were needed: add them; without a registry it still serves the resolver.
        "$venv/bin/python" -m pip install --quiet "${extras[@]}" >>"$log" 2>&1 ||
            echo "hermes-venv: could not install ${extras[*]}; tests that run Hermes' Anthropic or gateway paths skip" >&2
    fi
    echo "$venv/bin/python"
    exit 0
fi

mkdir -p "$(dirname "$venv")"
# The ready marker is written last, so an interrupted install is rebuilt from scratch next time.
rm -rf "$venv"
"$py" -m venv "$venv" >&2
: >"$log"
install "hermes-agent==$version" "${extras[@]}"
"$venv/bin/python" -c "import hermes_cli.runtime_provider, agent.auxiliary_client, anthropic, aiohttp" >&2
touch "$marker"
echo "$venv/bin/python"
