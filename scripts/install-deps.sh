#!/usr/bin/env bash
# Installs what Rondo needs on Debian/Ubuntu when it is missing, and leaves what is there alone.
#   runtime: what `make up` needs (Docker engine, Caddy, the CNCF registry, git, debootstrap)
#   test:    runtime + busybox-static (test images), openssh-server (a git host over ssh, not
#            started as a service), a PostgreSQL server on 127.0.0.1:5432 and a
#            running Docker engine (both started if they do not answer)
set -euo pipefail
mode=${1:-runtime}

have() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
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
have dockerd || need+=(docker.io)
have caddy || need+=(caddy)
have docker-registry || need+=(docker-registry)
# `rondo images bootstrap` builds Debian base images with debootstrap.
[[ -x /usr/sbin/debootstrap ]] || need+=(debootstrap)
if [[ $mode == test ]]; then
  # Test images copy busybox into FROM scratch, so it must be the static build.
  if ! have busybox || ! { have file && file -L "$(command -v busybox)" | grep -q 'statically linked'; }; then
    need+=(busybox-static)
  fi
fi
if ((${#need[@]})); then apt_install "${need[@]}"; fi

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
  if ! docker info >/dev/null 2>&1; then
    echo "install-deps: starting dockerd" >&2
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "install-deps: dockerd did not start; see /var/log/dockerd.log" >&2; exit 1; }
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
