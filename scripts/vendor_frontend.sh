#!/usr/bin/env bash
# Vendor the dashboard's front-end libraries from the npm registry, so nothing loads from a CDN at run time:
#   dashboard/static/vendor/  uPlot, htmx 2 and its SSE extension (served to users)
#   tests/vendor/             axe-core (accessibility checks in the browser tests; never served)
# Each directory's VERSIONS.txt records file, package, version, licence and sha256; tests/test_vendor.py checks them.
# Usage: scripts/vendor_frontend.sh   (needs npm; re-run after changing a version)
set -euo pipefail

UPLOT_VERSION="1.6.32"
# htmx 2, not npm's "latest" (htmx 4, a major version with breaking changes and a different SSE extension).
HTMX_VERSION="2.0.11"
HTMX_SSE_VERSION="2.2.4"
AXE_VERSION="4.14.1"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
static_vendor="$repo_root/dashboard/static/vendor"
test_vendor="$repo_root/tests/vendor"
work_dir="$(mktemp -d)"
trap 'rm -rf "$work_dir"' EXIT

# Lines of VERSIONS.txt per directory, written at the end.
declare -A versions_lines

# vendor PACKAGE VERSION DEST_DIR LICENCE_FILE_NAME SOURCE_FILE...
# Copies the package's files (paths inside the tarball) and its LICENSE into DEST_DIR.
vendor() {
    local package="$1" version="$2" dest="$3" licence_file="$4"
    shift 4
    local unpacked="$work_dir/$package"
    mkdir -p "$unpacked" "$dest"
    (cd "$unpacked" && tar -xzf "$(npm pack --silent "$package@$version" 2>/dev/null)")
    local licence
    licence="$(node -p "require('$unpacked/package/package.json').license || ''")"
    if [[ -z "$licence" ]]; then
        # htmx-ext-sse's package.json names no licence; its LICENSE file is the BSD Zero Clause License.
        grep -q "BSD Zero Clause License" "$unpacked/package/LICENSE" || {
            echo "$package@$version: no licence in package.json and an unknown LICENSE file" >&2
            exit 1
        }
        licence="0BSD"
    fi
    local files=()
    for source in "$@"; do
        cp "$unpacked/package/$source" "$dest/"
        files+=("$(basename "$source")")
    done
    cp "$unpacked/package/LICENSE" "$dest/$licence_file"
    files+=("$licence_file")
    for file in "${files[@]}"; do
        versions_lines[$dest]+="$file  $package  $version  $licence  $(sha256sum "$dest/$file" | cut -d' ' -f1)"$'\n'
    done
}

vendor uplot "$UPLOT_VERSION" "$static_vendor" uPlot.LICENSE.txt dist/uPlot.iife.min.js dist/uPlot.min.css
vendor htmx.org "$HTMX_VERSION" "$static_vendor" htmx.LICENSE.txt dist/htmx.min.js
vendor htmx-ext-sse "$HTMX_SSE_VERSION" "$static_vendor" htmx-ext-sse.LICENSE.txt dist/sse.min.js
vendor axe-core "$AXE_VERSION" "$test_vendor" axe-core.LICENSE.txt axe.min.js

for dest in "$static_vendor" "$test_vendor"; do
    {
        echo "# Written by scripts/vendor_frontend.sh; do not edit by hand."
        echo "# file  package  version  licence  sha256"
        printf "%s" "${versions_lines[$dest]}"
    } > "$dest/VERSIONS.txt"
    cat "$dest/VERSIONS.txt"
done
