#!/bin/bash
# lintian on the built binary packages and the source package: fails on
# any error or warning (overrides, each with its reason, live in
# debian/*.lintian-overrides). Info and pedantic tags are printed too.
#
# Usage: tests/debian/lint.sh [DEBDIR]   (default build-debian/debs)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
debs=${1:-$top/build-debian/debs}

lintian --allow-root --fail-on error,warning --display-level '>=pedantic' \
	"$debs"/*.changes "$debs"/*.dsc
echo "lint: lintian clean of errors and warnings"
