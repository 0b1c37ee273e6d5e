#!/usr/bin/env bash
# The fast suite (everything but the platform tests in test/deploy) again on the newest Node.js LTS,
# so a release of Node that breaks Rondo is seen in CI; skipped when that is the Node already used.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/ensure-node.sh --lts)
if [[ $("$bin/node" -p 'process.versions.node.split(".")[0]') == $(node -p 'process.versions.node.split(".")[0]') ]]; then
  echo "test: already on Node.js $(node --version), the newest LTS"
  exit 0
fi
echo "test: the fast suite on Node.js $("$bin/node" --version)"
PATH="$bin:$PATH" npx vitest run --exclude 'test/deploy/**'
