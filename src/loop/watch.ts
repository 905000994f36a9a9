import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { VHOST_TEMP_DIR } from '../adapters/vhost/store.js';
import { isManifestFile } from '../manifest/load.js';

/**
 * Watches the manifests directory (its files, not subdirectories) and the
 * vhost directory. chokidar uses the kernel's notifications: no polling.
 */
export function watchDirs(manifests: string, vhostDir: string, on: { manifest(file: string): void; vhost(file: string): void }): FSWatcher[] {
  const m = watch(manifests, { ignoreInitial: true, depth: 0, ignored: (p, stats) => Boolean(stats?.isFile()) && !isManifestFile(path.basename(p)) });
  for (const ev of ['add', 'change', 'unlink'] as const) m.on(ev, (file: string) => on.manifest(file));
  // A directory replaced as a whole (some git operations) shows up as unlinkDir/addDir.
  m.on('addDir', (dir: string) => dir === manifests && on.manifest(path.join(manifests, '.dir')));
  // hdactl's own temp files live in VHOST_TEMP_DIR, which is not watched.
  const v = watch(vhostDir, { ignoreInitial: true, depth: 0, ignored: (p, stats) => (Boolean(stats?.isFile()) && !p.endsWith('.conf')) || path.basename(p) === VHOST_TEMP_DIR });
  for (const ev of ['add', 'change', 'unlink'] as const) v.on(ev, (file: string) => on.vhost(file));
  return [m, v];
}
