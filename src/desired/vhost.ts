import { createHash } from 'node:crypto';

/** Vhost templates by app kind. */
export interface Templates {
  /** The template for a kind: `<kind>.conf` when there is one, else `container.conf`. */
  forKind(kind: string): string;
}

/** Values a vhost template is filled with. */
export interface VhostValues {
  app: string;
  fqdn: string;
  aliases: string[];
  hostPort: number;
  vhostPort: number;
  appRoot: string;
}

/** The first line of every file hdactl owns; without it a file is never touched. */
export const VHOST_MARK = '# Managed by hdactl; edits are reverted. Remove this header to take the file over.';

/**
 * Renders a vhost file: Amahi's placeholders (APP_HOSTNAME, APP_PORT,
 * APP_ROOT_DIR, plus VHOST_PORT and a line APP_ALIASES) filled in, under a
 * header that names the app and hashes the body.
 */
export function renderVhost(template: string, v: VhostValues): string {
  const body = template
    .split('\n')
    .flatMap((line) => {
      if (line.trim() !== 'APP_ALIASES') return [line];
      const indent = line.slice(0, line.indexOf('APP_ALIASES'));
      return v.aliases.length ? [`${indent}ServerAlias ${v.aliases.join(' ')}`] : [];
    })
    .join('\n')
    .replaceAll('APP_HOSTNAME', v.fqdn)
    .replaceAll('APP_PORT', String(v.hostPort))
    .replaceAll('APP_ROOT_DIR', v.appRoot)
    .replaceAll('VHOST_PORT', String(v.vhostPort));
  return `${VHOST_MARK}\n# hdactl-app: ${v.app}\n# hdactl-sha256: ${bodyHash(body)}\n${body}`;
}

/** Hash of a vhost body, as written in its header. */
export function bodyHash(body: string): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 16);
}

/** The host name a vhost answers for: its `ServerName`. */
export function vhostServerName(content: string): string | undefined {
  return /^\s*ServerName\s+(\S+)/m.exec(content)?.[1];
}

/** Reads the header of a vhost file: the app it names and whether its body still matches its hash. */
export function readVhostHeader(content: string): { app: string; intact: boolean } | undefined {
  const lines = content.split('\n');
  if (lines[0] !== VHOST_MARK) return undefined;
  const app = /^# hdactl-app: (\S+)$/.exec(lines[1] ?? '')?.[1];
  const hash = /^# hdactl-sha256: ([0-9a-f]+)$/.exec(lines[2] ?? '')?.[1];
  if (!app || !hash) return undefined;
  return { app, intact: bodyHash(lines.slice(3).join('\n')) === hash };
}
