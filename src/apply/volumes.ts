import { lstat, mkdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { DesiredApp } from '../desired/model.js';
import { HostError } from './outcome.js';
import { alwaysAllowed, checkHostPath, within, type VolumePolicy } from '../desired/policy.js';

/**
 * Makes an app's bind-mount sources ready: relative ones are created under
 * `<dataRoot>/<app>/` (never deleted), and every source is checked again on
 * the disk, after symlinks. The manifest check sees paths as written; a
 * symlink can point elsewhere, and one below the data directory may have
 * been made by the app itself, through a mount of a parent directory. The
 * Engine follows symlinks in a bind source, so `./config -> /etc` would hand
 * the host's /etc to the container. Throws, naming the path and the fix,
 * before anything is created, stopped or mounted: a HostError, since the fix
 * (a disk mounted, a symlink replaced) is on the disk, not in the manifest.
 */
export async function prepareVolumes(d: DesiredApp, dataRoot: string, policy: VolumePolicy): Promise<void> {
  const appDir = path.join(dataRoot, d.app);
  for (const v of d.spec.volumes) {
    const problem = v.appData ? await escapesDir(v.source, appDir) : await deniedAfterLinks(v.source, policy);
    if (problem) throw new HostError(`volume source ${v.source} ${problem}`);
  }
  await Promise.all(d.spec.volumes.filter((v) => v.appData).map((v) => mkdir(v.source, { recursive: true })));
}

/**
 * Why `p`, a path below `dir`, leads out of it through a symlink; undefined
 * when it stays inside. `dir` itself may be a symlink (an app's data on
 * another disk).
 */
export async function escapesDir(p: string, dir: string): Promise<string | undefined> {
  const real = await realPathOf(p);
  if ('dangling' in real) return danglingProblem(real.dangling);
  const root = await realPathOf(dir);
  if ('dangling' in root) return danglingProblem(root.dangling);
  if (within(real.path, root.path)) return undefined;
  return `leads through a symlink to ${real.path}, outside the app's data directory ${dir}: replace the symlink with a directory, or mount the target by its own absolute path (allowed in hdactl.yaml's volumePolicy)`;
}

async function deniedAfterLinks(p: string, policy: VolumePolicy): Promise<string | undefined> {
  const real = await realPathOf(p);
  if ('dangling' in real) return danglingProblem(real.dangling);
  if (real.path === p) return undefined; // checked as written when the manifest was read
  if (alwaysAllowed(p)) return undefined; // /etc/localtime is itself a symlink into /usr/share/zoneinfo
  // An allowed root may be a symlink itself (/srv/media -> /mnt/disk/media): allow its target too.
  const roots = await Promise.all(policy.allow.map(async (r) => {
    const rr = await realPathOf(r);
    return 'path' in rr ? [r, rr.path] : [r];
  }));
  const denied = checkHostPath(real.path, { allow: roots.flat() });
  return denied && `leads through a symlink to ${real.path}, and ${denied}`;
}

function danglingProblem(link: string): string {
  return `leads through ${link}, a symlink to a path that does not exist: replace it with a directory, or create its target`;
}

/**
 * The real path of `p`, which need not exist: its deepest existing
 * ancestor's real path, with the rest as written. A symlink to nothing on
 * the way is reported, since creating the rest would follow it.
 */
async function realPathOf(p: string): Promise<{ path: string } | { dangling: string }> {
  const rest: string[] = [];
  let head = path.resolve(p);
  for (;;) {
    try {
      return { path: path.join(await realpath(head), ...rest) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    const isLink = await lstat(head).then((s) => s.isSymbolicLink(), () => false);
    if (isLink) return { dangling: `${head} -> ${await readlink(head)}` };
    const parent = path.dirname(head);
    if (parent === head) return { path: path.resolve(p) };
    rest.unshift(path.basename(head));
    head = parent;
  }
}
