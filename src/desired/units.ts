// As the docker CLI and Compose take them: 512m, 512M, 512mb, 1.5g, 100b or a byte count.
const SIZE = /^(\d+(?:\.\d+)?)(b|[kmg]b?)?$/;
const FACTOR: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Parses a Compose-style size (`512m`, `1.5g`, or a byte count) into bytes. */
export function parseSize(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = SIZE.exec(v.trim().toLowerCase());
  if (!m) throw new Error(`invalid size ${JSON.stringify(v)}: use a number with b, k, m or g, such as 512m`);
  return Math.round(Number(m[1]) * (FACTOR[(m[2] ?? '').charAt(0)] ?? 1));
}

/** Formats bytes the way a person writes them in a manifest: 512m, 1g, 1.5g. */
export function formatSize(bytes: number): string {
  for (const unit of ['g', 'm', 'k'] as const) {
    const f = FACTOR[unit]!;
    if (bytes >= f && (bytes / f) * 100 === Math.round((bytes / f) * 100)) return `${bytes / f}${unit}`;
  }
  return `${bytes}b`;
}

/** Parses `500ms`, `10s` or `2m` into milliseconds. */
export function parseDuration(v: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(v.trim());
  if (!m) throw new Error(`invalid duration ${JSON.stringify(v)}: use a number with ms, s or m, such as 10s`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}
