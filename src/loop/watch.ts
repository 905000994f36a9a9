import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { VHOST_TEMP_DIR } from '../adapters/vhost/store.js';
import { isManifestFile } from '../manifest/load.js';

/** Watchers that can be waited on (their first scan) and closed as one. */
export interface DirWatcher {
  ready: Promise<void>;
  close(): Promise<void>;
}

const scanned = (w: FSWatcher) => new Promise<void>((resolve) => w.once('ready', () => resolve()));

/**
 * Watches the manifests directory (its files, not subdirectories) and the
 * vhost directory. chokidar uses the kernel's notifications: no polling.
 * `manifestsReplaced` is called when the manifests directory has gone or been
 * replaced, once the new watch is ready: its files changed without an event each.
 */
export function watchDirs(
  manifests: string,
  vhostDir: string,
  on: { manifest(file: string): void; manifestsReplaced(): void; vhost(file: string): void },
): DirWatcher[] {
  let firstScan!: () => void;
  const filesScanned = new Promise<void>((resolve) => (firstScan = resolve));
  const watchFiles = () => {
    const w = watch(manifests, { ignoreInitial: true, depth: 0, ignored: (p, stats) => Boolean(stats?.isFile()) && !isManifestFile(path.basename(p)) });
    for (const ev of ['add', 'change', 'unlink'] as const) w.on(ev, (file: string) => on.manifest(file));
    w.once('ready', () => firstScan());
    return w;
  };
  let files = watchFiles();
  // A watch stays on the directory it was set on: once another takes its
  // name (mv manifests manifests.old && git clone … manifests; rm -rf and
  // cp -r; a symlink switched to another checkout), it sees none of the new
  // one's files. The parent sees the name change hands: the files' watch then
  // starts over on the new directory. followSymlinks: false, so that a
  // symlink switched is an event here.
  const parent = path.dirname(manifests);
  const swaps = watch(parent, { ignoreInitial: true, depth: 0, followSymlinks: false, ignored: (p) => p !== parent && p !== manifests });
  // Attached after the first scan, which reports a symlinked directory as added.
  swaps.once('ready', () => swaps.on('all', () => {
    void files.close();
    files = watchFiles();
    files.once('ready', () => on.manifestsReplaced());
  }));
  // hdactl's own temp files live in VHOST_TEMP_DIR, which is not watched.
  const v = watch(vhostDir, { ignoreInitial: true, depth: 0, ignored: (p, stats) => (Boolean(stats?.isFile()) && !p.endsWith('.conf')) || path.basename(p) === VHOST_TEMP_DIR });
  for (const ev of ['add', 'change', 'unlink'] as const) v.on(ev, (file: string) => on.vhost(file));
  return [
    { ready: Promise.all([filesScanned, scanned(swaps)]).then(() => undefined), close: () => Promise.all([files.close(), swaps.close()]).then(() => undefined) },
    { ready: scanned(v), close: () => v.close() },
  ];
}
