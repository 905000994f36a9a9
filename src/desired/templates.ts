import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Templates } from './vhost.js';

const BUILTIN = new URL('../../templates/', import.meta.url).pathname;

/**
 * Vhost templates: `<kind>.conf`, then `container.conf`, looked up first in
 * the --templates directory, then in the ones hdactl ships.
 */
export function loadTemplates(overrideDir?: string): Templates {
  const dirs = [...(overrideDir ? [overrideDir] : []), BUILTIN];
  const cache = new Map<string, string>();
  const find = (name: string): string | undefined => {
    for (const dir of dirs) {
      const file = path.join(dir, name);
      if (existsSync(file)) return readFileSync(file, 'utf8');
    }
    return undefined;
  };
  return {
    forKind(kind: string): string {
      let t = cache.get(kind);
      if (t === undefined) {
        t = find(`${kind}.conf`) ?? find('container.conf') ?? '';
        cache.set(kind, t);
      }
      return t;
    },
  };
}
