#!/usr/bin/env bash
# Starts dockerd in the background when no Engine answers, and waits until it does.
# Uses an Engine that is already running (DOCKER_HOST or /var/run/docker.sock) as is.
set -euo pipefail
if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  exit 0
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
