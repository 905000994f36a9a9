import path from 'node:path';

/** The volume policy from hdactl.yaml: extra absolute roots a manifest may mount. */
export interface VolumePolicy {
  allow: string[];
}

/** Paths that are always allowed though they sit under a denied root. */
const ALWAYS_ALLOWED = ['/etc/localtime', '/etc/timezone'];
/** Roots that no policy can open: mounting them hands the host to the container. */
const DENIED_ROOTS = ['/etc', '/proc', '/sys', '/dev', '/root', '/boot'];
const DOCKER_SOCKETS = ['/var/run/docker.sock', '/run/docker.sock'];

/** True when `p` is `root` or below it (both normalised, absolute). */
export function within(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);
}

/** True for the few system files any app may mount (/etc/localtime). */
export function alwaysAllowed(p: string): boolean {
  return ALWAYS_ALLOWED.includes(path.posix.normalize(p).replace(/\/+$/, ''));
}

/**
 * Checks an absolute host path against the policy. Returns why it is denied,
 * with what to do about it, or undefined when it is allowed.
 */
export function checkHostPath(raw: string, policy: VolumePolicy): string | undefined {
  const p = path.posix.normalize(raw).replace(/\/+$/, '') || '/';
  if (p === '/') return 'mounting / is never allowed: mount the directory the app needs';
  if (DOCKER_SOCKETS.includes(p) || path.posix.basename(p) === 'docker.sock') {
    return 'mounting the Docker socket is never allowed: it gives the app root on the host';
  }
  // A directory that holds the socket hands it over just the same (allow: [/run] would).
  if (DOCKER_SOCKETS.some((sock) => within(sock, p))) return `mounting ${p} is never allowed: it holds the Docker socket, which gives the app root on the host`;
  if (ALWAYS_ALLOWED.includes(p)) return undefined;
  const denied = DENIED_ROOTS.find((r) => within(p, r));
  if (denied) return `mounting ${p} is never allowed (${denied} is a system directory): use a relative source such as ./data`;
  if (policy.allow.some((r) => within(p, path.posix.normalize(r).replace(/\/+$/, '') || '/'))) return undefined;
  return `host path ${p} is not allowed by the volume policy: add it under volumePolicy.allow in hdactl.yaml, or use a relative source such as ./data`;
}

/**
 * Resolves a relative volume source under the app's data directory. Returns
 * the absolute path, or an error when it escapes that directory.
 */
export function resolveRelative(source: string, appDataDir: string): { path?: string; error?: string } {
  const abs = path.posix.normalize(path.posix.join(appDataDir, source));
  if (!within(abs, appDataDir)) return { error: `${source} escapes the app's data directory ${appDataDir}: keep relative sources below ./` };
  return { path: abs };
}
