#!/usr/bin/env bash
# Create the project's virtual environment with Python >= 3.11. On Debian, `python3 -m venv`
# needs the python3-venv package; install it when we may (root with apt), else say what to do.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Dosis needs Python 3.11 or newer as '$python' (set PYTHON=... to choose another)." >&2
    exit 1
fi
if ! "$python" -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${version}-venv" || \
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        "$python" -m venv "$venv"
    else
        echo "'$python -m venv' failed: install your distribution's venv package (Debian: python3-venv)." >&2
        exit 1
    fi
fi
