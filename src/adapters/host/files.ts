import { open, rename } from 'node:fs/promises';
import path from 'node:path';

/**
 * Replaces `file` with `content` so that a crash or a power cut leaves either
 * the old file or the new one, never an empty or half-written one: the
 * content is written to `tmp` (on the same file system) and flushed to disk,
 * then renamed over `file`, and the directory is flushed so that the rename
 * itself lasts. Without the flushes a file system may keep the rename and
 * lose the data (XFS, btrfs, ext4 without auto_da_alloc), and an empty state
 * or vhost file would stop hdactl, or the app's site, until a person fixed it.
 */
export async function replaceFile(file: string, content: string, tmp: string): Promise<void> {
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await syncDir(path.dirname(file));
}

/** Flushes a directory's entries (a rename or removal in it) to disk. */
export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
