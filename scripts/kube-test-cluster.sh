#!/bin/bash
# A real one-node Kubernetes for tests, on this machine only: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, and a node (its own containerd, Debian's CNI bridge,
# kubelet) in a network namespace of its own, reached from the host over a veth pair.
#
#   scripts/kube-test-cluster.sh up       # build if needed (scripts/kube-build.sh), start, wait for the node
#   scripts/kube-test-cluster.sh down     # stop what `up` started (recorded pids only), remove its namespace
#   scripts/kube-test-cluster.sh status   # exit 0 when the API server answers
# `up` prints KUBECONFIG=<file>: an admin kubeconfig for https://10.201.0.2:6443, and
# REGISTRY=10.201.0.1:5000: where the node pulls from over plain HTTP (the host's side of the veth
# pair; a test serves its registry's storage there, see docs/kubernetes.md). Images: the pod
# sandbox (`localhost/pause:rondo`) and `localhost/busybox:rondo` are loaded at start.
# Sized for `npm run bench kube-reconcile-idle` (1,000 pods on the one node): the kubelet takes
# RONDO_KUBE_MAX_PODS pods (default 1100; the CNI bridge holds at most 1023 ports), the pod
# network is a /21, and the kubelet and the controller manager may call the API server faster than
# their defaults (5 and 20 per second), which would take minutes to report 1,000 pods. Services
# get a /16 (a /24 ran out at about 250: "failed to allocate a serviceIP: range is full").
# The API server keeps an audit log of the writes made with the admin token (the one tests and
# benchmarks drive it with): $RONDO_KUBE_RUN/logs/audit.log, one JSON line per write.
# Env: RONDO_KUBE_RUN (default /var/tmp/rondo-kube), RONDO_KUBE_CACHE (see kube-build.sh),
# RONDO_KUBE_MAX_PODS.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
W=${RONDO_KUBE_RUN:-/var/tmp/rondo-kube}
RUN=$W/run
P=$W/pki
NS=rondo-kube
HOST_IP=10.201.0.1
NODE_IP=10.201.0.2
NODE_NAME=rondo-kube-node
# The registry the node pulls from: on the host, which the node reaches over the veth pair only.
REGISTRY=$HOST_IP:5000
POD_CIDR=10.244.0.0/21
MAX_PODS=${RONDO_KUBE_MAX_PODS:-1100}
NSX="nsenter --net=/run/netns/$NS"
log() { echo "kube-test-cluster: $*" >&2; }

stop_pid() {
  local f=$RUN/$1.pid p
  [ -f "$f" ] || return 0
  p=$(cat "$f")
  if kill -0 "$p" 2>/dev/null; then
    kill "$p"
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p"
  fi
  rm -f "$f"
}

down() {
  stop_pid kubelet
  # Every pod's processes at once, read from the pods' cgroups. Asking containerd to kill and
  # delete each task in turn (three `ctr` calls a container) took 9 min for 700 pods; the shims,
  # the mounts and the state directory go below without it.
  # (cgroup v1's pids hierarchy, or the unified one.)
  local pods i
  for pods in /sys/fs/cgroup/pids/$NS/kubepods /sys/fs/cgroup/$NS/kubepods; do
    [ -d "$pods" ] || continue
    for i in 1 2 3; do
      find "$pods" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
      sleep 0.5
    done
  done
  for f in "$RUN"/containerd/state/io.containerd.runtime.v2.task/*/*/shim.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  for c in containerd kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_pid $c; done
  { grep -o " $W/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  if ip netns list 2>/dev/null | grep -q "^$NS\b"; then ip netns del $NS; fi
  ip link del rk-host 2>/dev/null || true
  for c in /sys/fs/cgroup/*/$NS; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  rm -rf "$RUN"
  true
}

answers() {
  curl -sf --max-time 3 --cacert "$P/ca.crt" -H "Authorization: Bearer $(cut -d, -f1 < "$P/tokens.csv" | head -1)" \
    "https://$NODE_IP:6443/readyz" >/dev/null 2>&1
}

pki() {
  [ -f "$P/tokens.csv" ] && return 0
  mkdir -p "$P" && cd "$P"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=rondo-kube-test-ca" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.0.0.1,IP:%s\n' "$NODE_IP" > server.ext
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=kube-apiserver" 2>/dev/null
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 3650 -extfile server.ext 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > client.ext
  openssl req -newkey rsa:2048 -nodes -keyout kubelet-client.key -out kubelet-client.csr \
    -subj "/CN=kube-apiserver-kubelet-client/O=system:masters" 2>/dev/null
  openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out kubelet-client.crt -days 3650 -extfile client.ext 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null && openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  local A C S N
  A=$(openssl rand -hex 16); C=$(openssl rand -hex 16); S=$(openssl rand -hex 16); N=$(openssl rand -hex 16)
  printf '%s\n' "$A,admin,admin-uid,\"system:masters\"" "$C,system:kube-controller-manager,cm-uid" \
    "$S,system:kube-scheduler,sched-uid" "$N,system:node:$NODE_NAME,kubelet-uid,\"system:nodes\"" > tokens.csv.tmp
  for kc in admin:$A controller-manager:$C scheduler:$S kubelet:$N; do
    printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: rondo-kube\n  cluster:\n    server: https://%s:6443\n    certificate-authority: %s\nusers:\n- name: u\n  user:\n    token: %s\ncontexts:\n- name: rondo-kube\n  context: {cluster: rondo-kube, user: u}\ncurrent-context: rondo-kube\n' \
      "$NODE_IP" "$P/ca.crt" "${kc#*:}" > "${kc%%:*}.kubeconfig"
  done
  mv tokens.csv.tmp tokens.csv
}

images() {
  local img=$W/images
  [ -f "$img/busybox.tar" ] && [ -f "$img/pause.tar" ] && return 0
  rm -rf "$img" && mkdir -p "$img/pause/" "$img/busybox/bin" "$img/busybox/etc" "$img/busybox/tmp"
  cp "$BIN/pause" "$img/pause/pause"
  cp /bin/busybox "$img/busybox/bin/busybox"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$img/busybox/etc/passwd"
  echo 'root:x:0:' > "$img/busybox/etc/group"
  python3 "$HERE/kube-image.py" "$img/pause" localhost/pause:rondo "$img/pause.tar" /pause
  python3 "$HERE/kube-image.py" "$img/busybox" localhost/busybox:rondo "$img/busybox.tar" /bin/busybox sh
}

up() {
  if [ -f "$RUN/kubelet.pid" ] && answers; then printed; return 0; fi
  # The daemons must not inherit the caller's descriptors: under `engine-lock` (flock) the lock's
  # descriptor went to etcd, the API server, containerd and the kubelet, and the engine lock stayed
  # held for as long as the cluster ran (2026-12-02).
  local fd
  for fd in $(ls /proc/$$/fd); do
    case $fd in 0|1|2|255) ;; *) eval "exec $fd>&-" 2>/dev/null || true ;; esac
  done
  down
  BIN=$("$HERE/kube-build.sh")
  mkdir -p "$RUN" "$W/logs" "$W/conf/cni"
  pki
  images
  cd "$W"
  # The node's network: a namespace of its own, reached from the host over a veth pair.
  ip netns add $NS
  $NSX ip link set lo up
  ip link add rk-host type veth peer name rk-node
  ip link set rk-node netns $NS
  ip addr add $HOST_IP/30 dev rk-host && ip link set rk-host up
  $NSX ip addr add $NODE_IP/30 dev rk-node
  $NSX ip link set rk-node up
  $NSX ip route add default via $HOST_IP
  $NSX sysctl -qw net.ipv4.ip_forward=1
  # One neighbour entry per pod on the node's bridge: the kernel's default limits (512 soft,
  # 1024 hard) stalled a 1,000-pod benchmark at 511 reachable pods ("neighbor table overflow").
  for ns in "" "$NSX"; do
    $ns sysctl -qw net.ipv4.neigh.default.gc_thresh1=2048 net.ipv4.neigh.default.gc_thresh2=4096 \
      net.ipv4.neigh.default.gc_thresh3=8192 2>/dev/null || true
  done
  ip route replace $POD_CIDR via $NODE_IP

  $NSX nohup etcd --name rondo-kube --data-dir "$RUN/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster rondo-kube=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
    > "$W/logs/etcd.log" 2>&1 &
  echo $! > "$RUN/etcd.pid"
  for _ in $(seq 1 100); do $NSX curl -sf http://127.0.0.1:2379/health >/dev/null && break; sleep 0.1; done
  # Writes by the admin user only (what Rondo's driver does in tests and benchmarks), no bodies.
  cat > "$W/conf/audit-policy.yaml" <<YAML
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: [admin]
  verbs: [create, update, patch, delete, deletecollection]
- level: None
YAML
  # The API server creates its audit log at the first write; made here so benchmarks can mark it
  # from the start.
  touch "$W/logs/audit.log"
  $NSX nohup "$BIN/kube-apiserver" --advertise-address=$NODE_IP --bind-address=0.0.0.0 --secure-port=6443 \
    --insecure-port=0 --etcd-servers=http://127.0.0.1:2379 \
    --tls-cert-file="$P/server.crt" --tls-private-key-file="$P/server.key" --client-ca-file="$P/ca.crt" \
    --token-auth-file="$P/tokens.csv" \
    --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --api-audiences=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range=10.0.0.0/16 --authorization-mode=Node,RBAC --allow-privileged=true \
    --kubelet-client-certificate="$P/kubelet-client.crt" --kubelet-client-key="$P/kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP,Hostname --enable-admission-plugins=NodeRestriction \
    --audit-policy-file="$W/conf/audit-policy.yaml" --audit-log-path="$W/logs/audit.log" \
    --audit-log-maxsize=200 --audit-log-maxbackup=2 \
    > "$W/logs/kube-apiserver.log" 2>&1 &
  echo $! > "$RUN/kube-apiserver.pid"
  for i in $(seq 1 600); do
    answers && break
    kill -0 "$(cat "$RUN/kube-apiserver.pid")" 2>/dev/null || { tail -20 "$W/logs/kube-apiserver.log" >&2; exit 1; }
    [ "$i" = 600 ] && { log "the API server did not answer in 60 s"; exit 1; }
    sleep 0.1
  done
  $NSX nohup "$BIN/kube-controller-manager" --kubeconfig="$P/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --port=0 --leader-elect=false \
    --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" --use-service-account-credentials=true \
    --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
    --kube-api-qps=100 --kube-api-burst=200 \
    > "$W/logs/kube-controller-manager.log" 2>&1 &
  echo $! > "$RUN/kube-controller-manager.pid"
  $NSX nohup "$BIN/kube-scheduler" --kubeconfig="$P/scheduler.kubeconfig" --bind-address=127.0.0.1 --port=0 \
    --leader-elect=false > "$W/logs/kube-scheduler.log" 2>&1 &
  echo $! > "$RUN/kube-scheduler.pid"

  cat > "$W/conf/containerd.toml" <<TOML
version = 2
root = "$RUN/containerd/root"
state = "$RUN/containerd/state"
[grpc]
  address = "$RUN/containerd/containerd.sock"
[ttrpc]
  address = "$RUN/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$RUN/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "localhost/pause:rondo"
    netns_mounts_under_state_dir = true
    # This VM may not lower OOM scores: without it every pod fails with
    # "can't get final child's PID from pipe: EOF".
    restrict_oom_score_adj = true
    # Plain HTTP to the test registry (hosts.toml is read at each pull).
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "$W/conf/certs.d"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$W/conf/cni"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
TOML
  mkdir -p "$W/conf/certs.d/$REGISTRY"
  cat > "$W/conf/certs.d/$REGISTRY/hosts.toml" <<TOML
server = "http://$REGISTRY"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
TOML
  cat > "$W/conf/cni/10-rondo-kube.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "rondo-kube", "plugins": [
  {"type": "bridge", "bridge": "rkcni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$RUN/cni-ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}, {"type": "loopback"}]}
JSON
  cat > "$W/conf/kubelet-config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: $P/ca.crt}}
authorization: {mode: Webhook}
tlsCertFile: $P/server.crt
tlsPrivateKeyFile: $P/server.key
cgroupDriver: cgroupfs
cgroupRoot: /$NS
enforceNodeAllocatable: []
failSwapOn: false
makeIPTablesUtilChains: false
clusterDomain: cluster.local
resolvConf: ""
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: $MAX_PODS
kubeAPIQPS: 50
kubeAPIBurst: 100
YAML
  for c in /sys/fs/cgroup/*/; do mkdir -p "$c/$NS"; done
  mkdir -p "$RUN/containerd" "$RUN/kubelet" "$RUN/cni-ipam"
  $NSX nohup containerd --config "$W/conf/containerd.toml" > "$W/logs/containerd.log" 2>&1 &
  echo $! > "$RUN/containerd.pid"
  for _ in $(seq 1 100); do [ -S "$RUN/containerd/containerd.sock" ] && break; sleep 0.1; done
  ctr --address "$RUN/containerd/containerd.sock" -n k8s.io images import "$W/images/pause.tar" >/dev/null
  ctr --address "$RUN/containerd/containerd.sock" -n k8s.io images import "$W/images/busybox.tar" >/dev/null
  $NSX nohup "$BIN/kubelet" --config="$W/conf/kubelet-config.yaml" --kubeconfig="$P/kubelet.kubeconfig" \
    --container-runtime=remote --container-runtime-endpoint="unix://$RUN/containerd/containerd.sock" \
    --root-dir="$RUN/kubelet" --cert-dir="$RUN/kubelet/pki" --hostname-override=$NODE_NAME --node-ip=$NODE_IP \
    --pod-infra-container-image=localhost/pause:rondo > "$W/logs/kubelet.log" 2>&1 &
  echo $! > "$RUN/kubelet.pid"
  for i in $(seq 1 180); do
    "$BIN/kubectl" --kubeconfig "$P/admin.kubeconfig" get node $NODE_NAME \
      -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True && break
    [ "$i" = 180 ] && { log "the node did not become Ready in 3 min"; tail -20 "$W/logs/kubelet.log" >&2; exit 1; }
    sleep 1
  done
  log "node Ready"
  printed
}

printed() {
  echo "KUBECONFIG=$P/admin.kubeconfig"
  echo "REGISTRY=$REGISTRY"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) answers ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
