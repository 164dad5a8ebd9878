#!/usr/bin/env bash
# Vendor the dashboard's front-end libraries from the npm registry into
# dashboard/static/vendor/, so nothing loads from a CDN at run time.
# Records package, version, licence and sha256 of every file in VERSIONS.txt.
# Usage: scripts/vendor_frontend.sh   (needs npm; re-run after changing a version)
set -euo pipefail

UPLOT_VERSION="1.6.32"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor_dir="$repo_root/dashboard/static/vendor"
work_dir="$(mktemp -d)"
trap 'rm -rf "$work_dir"' EXIT

mkdir -p "$vendor_dir"
cd "$work_dir"
tarball="$(npm pack --silent "uplot@$UPLOT_VERSION")"
tar -xzf "$tarball"

licence="$(node -p "require('./package/package.json').license")"
cp package/dist/uPlot.iife.min.js package/dist/uPlot.min.css "$vendor_dir/"
cp package/LICENSE "$vendor_dir/uPlot.LICENSE.txt"

cd "$vendor_dir"
{
    echo "# Written by scripts/vendor_frontend.sh; do not edit by hand."
    echo "# file  package  version  licence  sha256"
    for file in uPlot.iife.min.js uPlot.min.css uPlot.LICENSE.txt; do
        echo "$file  uplot  $UPLOT_VERSION  $licence  $(sha256sum "$file" | cut -d' ' -f1)"
    done
} > VERSIONS.txt
cat VERSIONS.txt
