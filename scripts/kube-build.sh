#!/bin/bash
# Builds a real Kubernetes (v1.20.2: kube-apiserver, kube-controller-manager, kube-scheduler,
# kubelet; kubectl from Debian's kubernetes-client) from Debian bookworm's *source* package, with
# Debian's Go, offline but for Debian's mirror (../shared/reference/kubernetes-on-debian/NOTES.md).
# The binaries are cached outside the checkout, keyed by the source version, the Go version and
# this script: a cold build takes ~10 min on 2 cores, a cached one nothing. Prints the bin folder.
#
#   scripts/kube-build.sh            # build if not cached; print the folder of the binaries
# Env: RONDO_KUBE_CACHE (default /var/cache/rondo-kube)
set -euo pipefail
CACHE=${RONDO_KUBE_CACHE:-/var/cache/rondo-kube}
SRCLIST=/etc/apt/sources.list.d/rondo-kube-src.sources
log() { echo "kube-build: $*" >&2; }

need=()
for p in golang-go etcd-server containerd runc containernetworking-plugins busybox-static gcc libc6-dev \
  iproute2 util-linux python3 openssl curl dpkg-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian's etcd-server starts an etcd of its own where it can; the cluster runs its own.
  if [ -x /etc/init.d/etcd ]; then /etc/init.d/etcd stop >/dev/null 2>&1 || true; fi
fi

SOURCE_VERSION=$(apt-cache show kubernetes-client | awk '/^Version:/ && !v {v=$2} END {print v}')
GO_VERSION=$(go version | awk '{print $3}')
SCRIPT_HASH=$(sha256sum "$0" | cut -c1-12)
KEY="${SOURCE_VERSION//[^A-Za-z0-9.+-]/_}-$GO_VERSION-$SCRIPT_HASH"
OUT=$CACHE/$KEY
if [ -x "$OUT/bin/kubelet" ] && [ -x "$OUT/bin/kubectl" ] && [ -x "$OUT/bin/pause" ]; then
  echo "$OUT/bin"
  exit 0
fi

W=$CACHE/work
mkdir -p "$W" "$OUT.tmp/bin"
cd "$W"
if [ ! -d src ]; then
  log "fetching the kubernetes source package ($SOURCE_VERSION)"
  MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$MIRROR" > $SRCLIST
  trap 'rm -f $SRCLIST' EXIT
  apt-get update -qq
  apt-get source --download-only kubernetes >/dev/null 2>&1
  rm -f $SRCLIST
  apt-get update -qq
  dpkg-source -x kubernetes_*.dsc src >/dev/null
fi
if [ ! -x "$OUT.tmp/bin/kubectl" ]; then
  rm -rf debkubectl && apt-get download kubernetes-client >/dev/null 2>&1
  dpkg -x kubernetes-client_*.deb debkubectl && cp debkubectl/usr/bin/kubectl "$OUT.tmp/bin/kubectl"
fi

# GOPATH mode, as upstream 1.20 and Debian build it (module mode with -mod=vendor fails on Go 1.19).
export GOPATH=$W/gopath GOCACHE=$W/gocache GO111MODULE=off GOPROXY=off GOSUMDB=off GOFLAGS= CGO_ENABLED=0
mkdir -p "$GOPATH/src/k8s.io" && ln -sfn "$W/src" "$GOPATH/src/k8s.io/kubernetes"
V=v1.20.2
LDF="-s -w"
for p in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  LDF="$LDF -X $p.gitVersion=$V -X $p.gitMajor=1 -X $p.gitMinor=20 -X $p.gitTreeState=clean"
done
cd "$GOPATH/src/k8s.io/kubernetes"
# The source tarball lacks the generated OpenAPI definitions the API server needs.
if [ ! -f pkg/generated/openapi/zz_generated.openapi.go ]; then
  log "generating pkg/generated/openapi"
  go build -o "$W/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  DIRS=$(find -H . -not \( \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune \) -type f -name '*.go' \
    | sed 's|^./staging/src|vendor|; s|^./||' \
    | grep -v -E '^vendor/k8s.io/(code-generator|sample-apiserver)/' \
    | xargs grep --color=never -l '+k8s:openapi-gen=' \
    | xargs -n1 dirname | LC_ALL=C sort -u | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)
  mkdir -p _output
  "$W/openapi-gen" -i "$DIRS" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
    -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r _output/KUBE_violations.report
fi
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet; do
  if [ ! -x "$OUT.tmp/bin/$c" ]; then
    t0=$(date +%s)
    # providerless: no in-tree cloud providers (the API server builds in ~40% of the time).
    go build -tags providerless -ldflags "$LDF" -o "$OUT.tmp/bin/$c" ./cmd/$c
    log "built $c in $(( $(date +%s) - t0 )) s"
  fi
done
# The pod sandbox's process, from the same tree (no registry to pull a pause image from).
gcc -Os -static -DVERSION=rondo -o "$OUT.tmp/bin/pause" build/pause/linux/pause.c && strip "$OUT.tmp/bin/pause"
rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
# Older builds of other keys are dropped; the source and Go's build cache stay for the next key.
find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -name work ! -name "$KEY" -exec rm -rf {} +
echo "$OUT/bin"
