#!/usr/bin/env bash
# Installs what Rondo needs on Debian/Ubuntu when it is missing, and leaves what is there alone.
#   runtime: every program the runtime starts (src/platform/host-programs.ts lists them; a test
#            checks this script against it): Docker engine and Debian's docker CLI, Caddy, the
#            CNCF registry, git, ssh, debootstrap, a static busybox, Prometheus (and promtool), HAProxy
#   test:    runtime + chromium (the console's browser tests) + nginx with njs and wrk (the gateway
#            bench's peer and load generator) + openssh-server (a git host over
#            ssh, not started as a service), a PostgreSQL server on 127.0.0.1:5432 and a running
#            Docker engine (both started if they do not answer)
# INSTALL_DEPS_DRY_RUN=1 prints the packages instead of installing them; with
# INSTALL_DEPS_ASSUME_MISSING=1 as well, it lists everything a fresh machine would get.
set -euo pipefail
mode=${1:-runtime}

have() { [[ -z ${INSTALL_DEPS_ASSUME_MISSING:-} ]] && command -v "$1" >/dev/null 2>&1; }
apt_install() {
  if [[ -n ${INSTALL_DEPS_DRY_RUN:-} ]]; then
    printf 'would install: %s\n' "$*"
    return 0
  fi
  if ! have apt-get; then
    echo "install-deps: apt-get not found; install these yourself: $*" >&2
    return 1
  fi
  echo "install-deps: installing $*" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

need=()
have git || need+=(git)
# git reaches ssh:// repositories through the ssh client.
have ssh || need+=(openssh-client)
# dockerd, and /usr/bin/docker: Debian's CLI has BuildKit (another docker on PATH may not).
{ have dockerd && have /usr/bin/docker; } || need+=(docker.io)
have caddy || need+=(caddy)
have docker-registry || need+=(docker-registry)
# `rondo images bootstrap` builds Debian base images with debootstrap.
{ have debootstrap || have /usr/sbin/debootstrap; } || need+=(debootstrap)
# Base images, task sandboxes and test images copy busybox into FROM scratch: the static build.
# ldd refuses a static executable, so a busybox that ldd reads is the dynamic one.
if ! have busybox || ldd "$(command -v busybox)" >/dev/null 2>&1; then need+=(busybox-static); fi
# The node stack's Node.js LTS comes from the npm registry, fetched by the host's npm.
have npm || need+=(npm)
# Essential on Debian, listed so a trimmed image says what it lacks.
have ldd || need+=(libc-bin)
have tar || need+=(tar)
have sh || need+=(dash)
# The console's browser tests drive Debian's Chromium (Playwright cannot download one here).
if [[ $mode == test ]]; then have /usr/bin/chromium || need+=(chromium); fi
if ((${#need[@]})); then apt_install "${need[@]}"; fi

# Prometheus (metrics): `rondo up` runs its own on loopback. The package would also start the
# system's on :9090; a policy-rc.d that denies starts keeps it from doing so.
if ! have prometheus || ! have promtool || ! have prometheus-alertmanager; then
  added_policy=
  if [[ -z ${INSTALL_DEPS_DRY_RUN:-} && ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && added_policy=1
  fi
  status=0
  apt_install prometheus prometheus-alertmanager || status=$?
  if [[ -n $added_policy ]]; then rm -f /usr/sbin/policy-rc.d; fi
  ((status == 0)) || exit "$status"
fi

# HAProxy: the gateway G7 chose (docs/decisions.md). test (and bench): its peers in
# `npm run bench gateway`, nginx with njs, and wrk. The packages would also start the system's
# haproxy and nginx (on :80); a policy-rc.d that denies starts keeps them from doing so.
services=()
have haproxy || services+=(haproxy)
if [[ $mode == test ]]; then
  have nginx || services+=(nginx)
  if [[ -n ${INSTALL_DEPS_ASSUME_MISSING:-} || ! -e /usr/lib/nginx/modules/ngx_http_js_module.so ]]; then
    services+=(libnginx-mod-http-js)
  fi
  have wrk || services+=(wrk)
fi
if ((${#services[@]})); then
  added_policy=
  if [[ -z ${INSTALL_DEPS_DRY_RUN:-} && ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && added_policy=1
  fi
  status=0
  apt_install "${services[@]}" || status=$?
  if [[ -n $added_policy ]]; then rm -f /usr/sbin/policy-rc.d; fi
  ((status == 0)) || exit "$status"
fi

if [[ $mode == test && -n ${INSTALL_DEPS_DRY_RUN:-} ]]; then exit 0; fi
if [[ $mode == test && ! -x /usr/sbin/sshd ]]; then
  # Tests run their own sshd on loopback (a git host over ssh). The package would also start the
  # system's sshd on port 22; a policy-rc.d that denies starts keeps it from doing so.
  added_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && added_policy=1
  fi
  status=0
  apt_install openssh-server || status=$?
  if [[ -n $added_policy ]]; then rm -f /usr/sbin/policy-rc.d; fi
  ((status == 0)) || exit "$status"
fi

if [[ $mode == test ]]; then
  # The Docker engine: started in the background when nothing answers (no systemd here).
  # A wedged dockerd accepts the connection and never answers: bound every question.
  docker_answers() { timeout 10 docker info >/dev/null 2>&1; }
  # A dockerd left by an earlier run (a session that ended mid-test) may still be starting or
  # stopping; a second dockerd would refuse its pid file, so wait for the first to answer or go.
  if ! docker_answers && pgrep -x dockerd >/dev/null; then
    echo "install-deps: waiting for the running dockerd" >&2
    deadline=$((SECONDS + 90))
    while ((SECONDS < deadline)); do
      docker_answers && break
      pgrep -x dockerd >/dev/null || break
      sleep 1
    done
    if ! docker_answers && pgrep -x dockerd >/dev/null; then
      echo "install-deps: the running dockerd does not answer; stopping it" >&2
      pkill -TERM -x dockerd
      for _ in $(seq 1 30); do pgrep -x dockerd >/dev/null || break; sleep 1; done
      pkill -KILL -x dockerd 2>/dev/null || true
    fi
  fi
  # dockerd's own containerd, left by a dockerd that was killed, makes the next dockerd time out
  # waiting for it ("failed to start containerd"): stop it first, and retry once.
  start_dockerd() {
    pkill -TERM -f 'containerd --config /var/run/docker/containerd/containerd.toml' 2>/dev/null || true
    for _ in $(seq 1 15); do pgrep -f 'containerd --config /var/run/docker/containerd' >/dev/null || break; sleep 1; done
    pkill -KILL -f 'containerd --config /var/run/docker/containerd/containerd.toml' 2>/dev/null || true
    # The pid files of a dockerd and containerd that were killed name processes that are gone.
    rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    local pid=$! deadline=$((SECONDS + 120))
    while ((SECONDS < deadline)); do
      docker_answers && return 0
      kill -0 "$pid" 2>/dev/null || return 1
      sleep 1
    done
    return 1
  }
  if ! docker_answers; then
    echo "install-deps: starting dockerd" >&2
    if ! start_dockerd; then
      echo "install-deps: dockerd did not start; the end of /var/log/dockerd.log:" >&2
      tail -n 15 /var/log/dockerd.log >&2
      echo "install-deps: starting dockerd again" >&2
      if ! start_dockerd; then
        echo "install-deps: dockerd did not start; the end of /var/log/dockerd.log:" >&2
        tail -n 30 /var/log/dockerd.log >&2
        exit 1
      fi
    fi
  fi

  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then apt_install postgresql; fi
    have pg_ctlcluster || apt_install postgresql-common
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
    if [[ -z $version ]]; then
      version=$(ls /usr/lib/postgresql | sort -V | tail -1)
      pg_createcluster "$version" main >/dev/null
    fi
    conf=/etc/postgresql/$version/main
    # Tests connect as postgres over loopback without a password, as on the CI machines.
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"; then
      sed -i '1i host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    pg_isready -h 127.0.0.1 -p 5432
  fi
fi
