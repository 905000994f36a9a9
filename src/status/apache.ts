/** The Apache configuration hdactl's vhosts need: the proxy modules and the include. */
export function apacheSnippet(vhostDir: string): string {
  return [
    '# hdactl: Apache serves each web app at <hostname>.<domain> through a vhost in',
    `# ${vhostDir}. On Debian: a2enmod proxy proxy_http, save this as`,
    '# /etc/apache2/sites-available/hdactl.conf, then a2ensite hdactl && apachectl -k graceful.',
    '# It must come after the default site (sites-enabled/000-default.conf): the first vhost',
    '# on an address answers every host name no vhost claims, and requests by IP address.',
    '<IfModule !proxy_module>',
    '  LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so',
    '</IfModule>',
    '<IfModule !proxy_http_module>',
    '  LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so',
    '</IfModule>',
    `IncludeOptional ${vhostDir}/*.conf`,
  ].join('\n');
}
