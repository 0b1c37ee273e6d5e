#!/usr/bin/env bash
# Makes sure a supported Node.js runs Rondo (20.19+, 22 or 24; package.json's engines).
#   ensure-node.sh          prints nothing when the node on PATH is supported; otherwise provides
#                           Node $RONDO_NODE_MAJOR (default 24) from the npm registry, links it as
#                           .rondo-node in the checkout (bin/rondo uses it) and prints its bin dir
#   ensure-node.sh --lts    always provides the newest LTS named below and prints its bin dir
#                           (`make test` runs the fast suite on it too)
# Provided Node binaries are cached outside the checkout ($RONDO_CACHE, default /var/cache/rondo).
set -euo pipefail
cd "$(dirname "$0")/.."
newest_lts=24
cache=${RONDO_CACHE:-/var/cache/rondo}

supported() {
  local v
  v=$("$1" -p 'process.versions.node' 2>/dev/null) || return 1
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  # package.json's engines: ^20.19.0 || ^22.12.0 || >=24 (21 and 23 are not maintained lines).
  ((major == 20 && minor >= 19)) || ((major == 22 && minor >= 12)) || ((major >= 24))
}

provide() {
  local major=$1 arch
  case $(uname -m) in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) echo "ensure-node: no Node.js package for $(uname -m); install Node.js 22 or 24 yourself" >&2; exit 1 ;;
  esac
  local dir=$cache/node-$major
  local bin=$dir/node_modules/node-linux-$arch/bin
  if [[ ! -x $bin/node ]]; then
    if ! command -v npm >/dev/null 2>&1; then
      if command -v apt-get >/dev/null 2>&1; then
        # Debian's npm (with its Node 18) is enough to fetch a supported Node.
        echo "ensure-node: installing Debian's npm to fetch Node.js $major" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
      else
        echo "ensure-node: Rondo needs Node.js 20.19+, 22 or 24; install one (https://nodejs.org) and run this again" >&2
        exit 1
      fi
    fi
    echo "ensure-node: fetching Node.js $major from the npm registry into $dir" >&2
    mkdir -p "$dir"
    # Called inside $(…), where set -e does not stop the script: say what failed here.
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$dir" "node-linux-$arch@$major" >&2 ||
      { echo "ensure-node: could not fetch Node.js $major from the npm registry (see npm's error above)" >&2; exit 1; }
  fi
  supported "$bin/node" || { echo "ensure-node: $bin/node does not run here" >&2; exit 1; }
  echo "$bin"
}

if [[ ${1:-} == --lts ]]; then
  provide "$newest_lts"
  exit 0
fi
if command -v node >/dev/null 2>&1 && supported node; then
  rm -f .rondo-node
  exit 0
fi
bin=$(provide "${RONDO_NODE_MAJOR:-$newest_lts}")
ln -sfn "$bin/node" .rondo-node
echo "$bin"
