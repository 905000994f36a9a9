#!/usr/bin/env bash
# Starts a private Apache instance for hdactl's vhosts, never touching the
# system Apache's config: its own ServerRoot, pid file and logs under DIR,
# Listen on 127.0.0.1:PORT, mod_proxy + mod_proxy_http, and
# IncludeOptional VHOST_DIR/*.conf. Prints the --apachectl command to use.
# Usage: apache-up.sh DIR VHOST_DIR PORT
set -euo pipefail
dir="$(mkdir -p "$1" && cd "$1" && pwd)"; vhosts="$(mkdir -p "$2" && cd "$2" && pwd)"; port="$3"
mods=/usr/lib/apache2/modules
mkdir -p "$dir/empty"
cat > "$dir/httpd.conf" <<CONF
ServerRoot $dir
PidFile $dir/httpd.pid
ErrorLog $dir/error.log
LogLevel warn
Listen 127.0.0.1:$port
ServerName 127.0.0.1
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule setenvif_module $mods/mod_setenvif.so
LoadModule proxy_module $mods/mod_proxy.so
LoadModule proxy_http_module $mods/mod_proxy_http.so
User www-data
Group www-data
LogFormat "%h %l %u %t \"%r\" %>s %b" combined
# Names no app claims land here, not on the first app: an empty site
# (403 for /, 404 for any other path).
<VirtualHost *:$port>
  ServerName default.invalid
  DocumentRoot $dir/empty
</VirtualHost>
IncludeOptional $vhosts/*.conf
CONF
export APACHE_RUN_DIR="$dir" APACHE_LOCK_DIR="$dir" APACHE_LOG_DIR="$dir"
if [ -f "$dir/httpd.pid" ] && kill -0 "$(cat "$dir/httpd.pid")" 2>/dev/null; then
  /usr/sbin/apache2 -f "$dir/httpd.conf" -k graceful
else
  /usr/sbin/apache2 -f "$dir/httpd.conf" -k start
fi
for _ in $(seq 1 50); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null || (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "/usr/sbin/apache2 -f $dir/httpd.conf"
    exit 0
  fi
  sleep 0.2
done
echo "apache-up: Apache did not answer on 127.0.0.1:$port; see $dir/error.log" >&2
exit 1
