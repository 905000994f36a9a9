#!/usr/bin/env bash
# Builds the local web-app image used by the demo, the tests and the benchmarks.
# No registry is reachable here, so the image is a rootfs made from Debian's
# busybox-static, imported through the Engine's image import API.
# The app serves /www on $PORT (default 80) with a page showing $MESSAGE, and
# traps TERM so that `docker stop` takes milliseconds rather than the 10 s timeout.
set -euo pipefail
image="${1:-hdactl-demo/web:1}"
if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/www" "$root/tmp" "$root/etc"
cp /bin/busybox "$root/bin/busybox"
for tool in sh httpd echo cat sleep mkdir kill ls env wget; do ln -s busybox "$root/bin/$tool"; done
echo 'root:x:0:0:root:/:/bin/sh' > "$root/etc/passwd"
cat > "$root/entrypoint.sh" <<'SH'
#!/bin/sh
# Writes the page from the environment, then serves it until TERM.
mkdir -p /www
printf '<!doctype html><title>%s</title><h1>%s</h1><p>app=%s</p>\n' \
  "${APP:-web}" "${MESSAGE:-hello from hdactl}" "${APP:-web}" > /www/index.html
busybox httpd -f -p "${PORT:-80}" -h /www &
pid=$!
trap 'kill $pid; exit 0' TERM INT
wait $pid
SH
chmod +x "$root/entrypoint.sh"
tar -C "$root" -c . | docker import \
  -c 'ENTRYPOINT ["/entrypoint.sh"]' -c 'EXPOSE 80' -c 'ENV PATH=/bin' \
  -m 'hdactl test web app (busybox httpd)' - "$image" >/dev/null
echo "build-image: built $image"
