#!/usr/bin/env bash
# `npm start`: applies manifests/ (one demo app) and prints where it answers.
# Builds the demo's local image when it is missing (no registry is reachable
# here), and when Debian's apache2 is installed serves the app through a
# private Apache on 127.0.0.1:8080, never the system one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/engine-up.sh
bash scripts/build-image.sh hdactl-demo/web:1
port="${HDACTL_DEMO_APACHE_PORT:-8080}"
if [ ! -f hdactl.yaml ]; then
  if [ -x /usr/sbin/apache2 ]; then
    ctl="$(bash scripts/apache-up.sh .hdactl/apache .hdactl/vhosts "$port")"
    printf '# Written by npm start for the demo: a private Apache on 127.0.0.1:%s.\napachectl: %s\nvhostPort: %s\n' "$port" "$ctl" "$port" > hdactl.yaml
  else
    printf '# Written by npm start for the demo: no Apache here, vhost files only.\napachectl: none\n' > hdactl.yaml
  fi
  # On a machine where hdactl already runs, its apps (instance default) are
  # not in this checkout's manifests/: under the same instance the demo's
  # apply would take them for deleted apps and remove them.
  printf '# Its own instance, so the demo never touches the apps of another hdactl on this Engine.\ninstance: demo\n' >> hdactl.yaml
elif grep -q '^apachectl: /usr/sbin/apache2 -f' hdactl.yaml; then
  bash scripts/apache-up.sh .hdactl/apache .hdactl/vhosts "$(sed -n 's/^vhostPort: //p' hdactl.yaml)" >/dev/null
fi
node dist/cli/main.js apply
echo
node dist/cli/main.js status
port_in_use="$(sed -n 's/^vhostPort: //p' hdactl.yaml)"
# The demo's web port is 35000 + its id, unless a program already held that port.
host_port="$(node dist/cli/main.js status -o json | node -e '
  let t = ""; process.stdin.on("data", (c) => (t += c)).on("end", () => {
    const { apps } = JSON.parse(t);
    process.stdout.write(String(apps.find((a) => a.app === "demo")?.hostPort ?? ""));
  });')"
echo
echo "The demo app answers on its host port:  curl http://127.0.0.1:${host_port:-35001}/"
if [ -n "$port_in_use" ]; then
  echo "and through Apache as demo.hda.local:   curl -H 'Host: demo.hda.local' http://127.0.0.1:$port_in_use/"
fi
echo "Keep it converged with the daemon:      npx hdactl run   (status page on http://127.0.0.1:9469/)"
