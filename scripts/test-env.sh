#!/usr/bin/env bash
# Brings up everything the test suite and the demo need, on a fresh Debian
# machine as root or on one that already has it: Debian packages, a running
# Docker Engine, and the local test image. Idempotent; safe to run twice.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v apache2 >/dev/null 2>&1 || [ -x /usr/sbin/apache2 ] || need_pkgs+=(apache2)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || need_pkgs+=(busybox-static)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need_pkgs+=(docker-compose)
# The pull tests push to and pull from a private registry on 127.0.0.1:5000.
[ -x /usr/bin/docker-registry ] || need_pkgs+=(docker-registry)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test-env: missing ${need_pkgs[*]}; run as root or install them with apt-get" >&2
    exit 1
  fi
  echo "test-env: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The packages' own service scripts must not start a system Apache or Engine
  # with the system config: we run private instances (see test/support).
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/tmp/hdactl-apt.log 2>&1 \
    || { tail -30 /tmp/hdactl-apt.log >&2; rm -f /usr/sbin/policy-rc.d; exit 1; }
  rm -f /usr/sbin/policy-rc.d
fi

bash "$here/engine-up.sh"
bash "$here/build-image.sh"
