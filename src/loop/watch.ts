import { statSync } from 'node:fs';
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
  on: { manifest(file: string): void; manifestsReplaced(): void; vhost(file: string): void; error(err: unknown): void },
): DirWatcher[] {
  let firstScan!: () => void;
  const filesScanned = new Promise<void>((resolve) => (firstScan = resolve));
  const watchFiles = () => {
    const w = watch(manifests, { ignoreInitial: true, depth: 0, ignored: (p, stats) => Boolean(stats?.isFile()) && !isManifestFile(path.basename(p)) });
    for (const ev of ['add', 'change', 'unlink'] as const) w.on(ev, (file: string) => on.manifest(file));
    w.on('all', () => rewatchIfReplaced());
    w.on('error', on.error);
    w.once('ready', () => firstScan());
    return w;
  };
  // A watch stays on the directory it was set on: once another takes its
  // name (mv manifests manifests.old && git clone … manifests; rm -rf and
  // cp -r; a symlink switched to another checkout), it sees none of the new
  // one's files. What the name points at is told by its device, inode and
  // birth time (rm -rf and cp -r can give the new one the old inode), looked
  // at whenever the parent or the directory itself reports anything: the
  // files' watch then starts over on the new directory.
  const identity = (): string => {
    try {
      const st = statSync(manifests);
      return `${st.dev}:${st.ino}:${st.birthtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  let watched = identity();
  let files = watchFiles();
  const rewatchIfReplaced = () => {
    const now = identity();
    if (now === watched) return;
    watched = now;
    void files.close();
    files = watchFiles();
    files.once('ready', () => on.manifestsReplaced());
  };
  const parent = path.dirname(manifests);
  // followSymlinks: false, so that a symlink switched is an event here; raw
  // events too, since a swap done in one go can end before chokidar looks.
  const swaps = watch(parent, { ignoreInitial: true, depth: 0, followSymlinks: false, ignorePermissionErrors: true, ignored: (p) => p !== parent && p !== manifests });
  swaps.on('error', on.error);
  swaps.once('ready', () => {
    swaps.on('all', rewatchIfReplaced);
    swaps.on('raw', rewatchIfReplaced);
  });
  // hdactl's own temp files live in VHOST_TEMP_DIR, which is not watched.
  const v = watch(vhostDir, { ignoreInitial: true, depth: 0, ignored: (p, stats) => (Boolean(stats?.isFile()) && !p.endsWith('.conf')) || path.basename(p) === VHOST_TEMP_DIR });
  for (const ev of ['add', 'change', 'unlink'] as const) v.on(ev, (file: string) => on.vhost(file));
  v.on('error', on.error);
  return [
    { ready: Promise.all([filesScanned, scanned(swaps)]).then(() => undefined), close: () => Promise.all([files.close(), swaps.close()]).then(() => undefined) },
    { ready: scanned(v), close: () => v.close() },
  ];
}
