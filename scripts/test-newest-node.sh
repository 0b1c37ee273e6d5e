#!/usr/bin/env bash
# A cross-section of the suite again on the newest Node.js LTS, so a release of Node that breaks
# Rondo is seen in CI: the unit tests, both store drivers (PGlite's WebAssembly, pg), and the HTTP
# API end to end with its event streams. The whole fast suite again took ~20 of CI's minutes for
# little more than this finds. Skipped when that is the Node already used.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/ensure-node.sh --lts)
if [[ $("$bin/node" -p 'process.versions.node.split(".")[0]') == $(node -p 'process.versions.node.split(".")[0]') ]]; then
  echo "test: already on Node.js $(node --version), the newest LTS"
  exit 0
fi
echo "test: a cross-section on Node.js $("$bin/node" --version)"
PATH="$bin:$PATH" npx vitest run src test/store/store.test.ts test/store/pglite-thread.test.ts \
  test/api/resources.test.ts test/api/sse.test.ts test/observability/log-store.test.ts
