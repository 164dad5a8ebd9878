#!/usr/bin/env bash
# Install the Debian packages the tests need, when run as root on a machine with apt.
# Otherwise list what is missing; the tests that need it skip with a reason (or fail under CI=true).
set -euo pipefail
missing=()
for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian packages for the tests: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "Not installing ${missing[*]} (needs root and apt); tests that need them will skip." >&2
fi
