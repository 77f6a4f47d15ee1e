#!/usr/bin/env bash
# Re-vendor the console's chart library from the npm registry (run by a maintainer, not by users
# or CI: the built file and its licence are committed under console/static/vendor/).
set -euo pipefail
VERSION="${1:-4.5.1}"
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "chart.js@$VERSION" >/dev/null && tar xzf "chart.js-$VERSION.tgz")
sed 's|//# sourceMappingURL=.*||' "$tmp/package/dist/chart.umd.min.js" > static/vendor/chart.umd.min.js
cp "$tmp/package/LICENSE.md" static/vendor/LICENSE.chart.js.md
echo "vendored chart.js $VERSION"
