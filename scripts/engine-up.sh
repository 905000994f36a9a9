#!/usr/bin/env bash
# Starts dockerd in the background when no Engine answers, and waits until it does.
# Uses an Engine that is already running (DOCKER_HOST or /var/run/docker.sock) as is,
# unless it is stuck: then it restarts the dockerd it started itself, and only that one.
set -euo pipefail
# /version answers even when dockerd is deadlocked (Debian 12's 20.10.24 can
# be, moby/libnetwork#2649): an Engine is up when it lists its containers too.
version_answers=false
if timeout 30 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  version_answers=true
  if timeout 30 docker ps -q >/dev/null 2>&1; then
    exit 0
  fi
fi
alive() { [ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = dockerd ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
pid="$(cat /tmp/hdactl-dockerd.pid 2>/dev/null || true)"
if alive "$pid"; then
  # The dockerd this script started is stuck: restart it (containers come back by their restart policies).
  echo "engine-up: the dockerd started here (pid $pid) does not answer docker ps within 30 s; restarting it"
  # Its containerd must go too: a new dockerd cannot start its own beside it.
  kids="$(pgrep -P "$pid" -x containerd || true)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do alive "$pid" || break; sleep 0.5; done
  if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; sleep 1; fi
  for kid in $kids; do
    for _ in $(seq 1 20); do kill -0 "$kid" 2>/dev/null || break; sleep 0.5; done
    if [ "$(cat "/proc/$kid/comm" 2>/dev/null)" = containerd ]; then kill -9 "$kid" 2>/dev/null || true; fi
  done
  if [ "$(cat /var/run/docker.pid 2>/dev/null)" = "$pid" ]; then rm -f /var/run/docker.pid; fi
elif "$version_answers"; then
  echo "engine-up: the Engine answers /version but not docker ps within 30 s: it is stuck; restart dockerd (systemctl restart docker)" >&2
  exit 1
fi
if [ -n "${DOCKER_HOST:-}" ]; then
  echo "engine-up: DOCKER_HOST=$DOCKER_HOST is set but no Engine answers there" >&2
  exit 1
fi
echo "engine-up: starting dockerd (log: /tmp/hdactl-dockerd.log)"
setsid dockerd >/tmp/hdactl-dockerd.log 2>&1 < /dev/null &
echo $! > /tmp/hdactl-dockerd.pid
for _ in $(seq 1 120); do
  if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    echo "engine-up: Engine $(docker version --format '{{.Server.Version}}') is up"
    exit 0
  fi
  sleep 0.5
done
echo "engine-up: dockerd did not answer within 60 s; last log lines:" >&2
tail -20 /tmp/hdactl-dockerd.log >&2
exit 1
