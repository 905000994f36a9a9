import { readFileSync } from 'node:fs';
import type { ErrorObject } from 'ajv';
import type { ManifestDoc } from './load.js';
import type { Problem } from './problem.js';
import type { AppManifest } from './types.generated.js';
import { validateApp } from './validators.generated.js';

/** Reads a schema shipped in the package's schemas/ directory. */
export function loadSchema(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../../schemas/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

// The validators are compiled from the schemas ahead of time (scripts/gen-types.mjs);
// the schema itself is read for the app-name rule and for the hints in messages.
const appSchema = loadSchema('app.schema.json');

const APP_NAME = new RegExp((appSchema.properties as Record<string, { pattern: string }>).app!.pattern);

/** True for a valid app name. An invalid one in a manifest is a typo, not a rename. */
export function isAppName(name: string): boolean {
  return APP_NAME.test(name);
}

/** A manifest document that passed the schema, typed. */
export interface ValidDoc {
  doc: ManifestDoc;
  manifest: AppManifest;
  /**
   * The document failed the schema, and `manifest` is what is left without
   * the fields that failed: checked further, so that one run reports every
   * problem, but never applied.
   */
  partial?: true;
}

/**
 * Checks one document against the app schema; problems carry positions and a
 * hint. A document whose problems are all in fields it could do without also
 * comes back as `partial`, for the checks that follow.
 */
export function checkSchema(doc: ManifestDoc): { valid?: ValidDoc; partial?: ValidDoc; problems: Problem[] } {
  if (validateApp(doc.value)) return { valid: { doc, manifest: doc.value }, problems: [] };
  const errors = validateApp.errors ?? [];
  const problems = toProblems(doc, errors, appSchema);
  const rest = withoutFailedFields(doc.value, errors);
  return { problems, ...(rest ? { partial: { doc, manifest: rest, partial: true as const } } : {}) };
}

/** `value` without the top-level fields that `errors` are about, if that is a valid manifest. */
function withoutFailedFields(value: unknown, errors: ErrorObject[]): AppManifest | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const failed = new Set<string>();
  for (const e of errors) {
    const top = e.instancePath.split('/')[1];
    if (top !== undefined) failed.add(unescapePointer(top));
    else if (e.keyword === 'additionalProperties') failed.add(String(e.params.additionalProperty));
    else return undefined; // about the document as a whole: a required field missing
  }
  const rest = Object.fromEntries(Object.entries(value).filter(([key]) => !failed.has(key)));
  return validateApp(rest) ? rest : undefined;
}

/** Turns ajv errors into problems that say what to do, dropping the noise of anyOf branches. */
export function toProblems(doc: ManifestDoc, errors: ErrorObject[], schema: Record<string, unknown>, root = 'manifest'): Problem[] {
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const seen = new Set<string>();
  const problems: Problem[] = [];
  // A required field that a misspelt key is taken for is said once, at the key (`imgae`: did you mean "image"?).
  const allowedAt = (e: ErrorObject) => Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
  const guessed = new Set(errors.filter((e) => e.keyword === 'additionalProperties').map((e) => `${e.instancePath}|${didYouMean(String(e.params.additionalProperty), allowedAt(e))}`));
  for (const e of errors) {
    if (e.keyword !== 'anyOf' && [...anyOfPaths].some((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`))) continue;
    const segments = e.instancePath.split('/').slice(1).map(unescapePointer).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    const field = segments.length ? segments.join('.') : root;
    let message: string;
    let at = segments;
    let key = false;
    switch (e.keyword) {
      case 'required':
        if (guessed.has(`${e.instancePath}|${String(e.params.missingProperty)}`)) continue;
        message = `missing required field "${String(e.params.missingProperty)}": add it`;
        break;
      case 'additionalProperties': {
        const extra = String(e.params.additionalProperty);
        const allowed = allowedAt(e);
        const guess = didYouMean(extra, allowed);
        message = guess
          ? `unknown field "${extra}": did you mean "${guess}"?`
          : `unknown field "${extra}": allowed fields are ${allowed.join(', ')}`;
        at = [...segments, extra];
        key = true;
        break;
      }
      case 'type':
        message = `${field} must be ${String(e.params.type).replace(/,(?=[^,]*$)/, ' or ').replace(/,/g, ', ')}, not ${describe(e.data)}`;
        // A string of a set form (stopTimeout: 10 for 10s): say the form too, not just "string".
        if ((e.parentSchema as { pattern?: string } | undefined)?.pattern) message += `: ${hint(e, schema)}`;
        break;
      case 'enum':
        message = `${field} must be one of ${(e.params.allowedValues as unknown[]).join(', ')}, not ${describe(e.data)}`;
        break;
      case 'anyOf': {
        // A mapping can only be meant for the branch that takes mappings: say what is wrong with it there.
        const inBranch = isMapping(e.data)
          ? errors.filter((x) => x !== e && (x.instancePath === e.instancePath || x.instancePath.startsWith(`${e.instancePath}/`)) && !(x.keyword === 'type' && x.instancePath === e.instancePath))
          : [];
        if (inBranch.length) {
          problems.push(...toProblems(doc, inBranch, schema, root));
          continue;
        }
        message = `${field} ${describe(e.data)} is not valid: ${hint(e, schema)}`;
        break;
      }
      case 'pattern': {
        // The field's description says what it takes in words; the regex only when there is none.
        const words = hint(e, schema);
        message = `${field} ${describe(e.data)} is not valid${words === noHint(schema) ? ` (${e.message ?? e.keyword})` : ''}: ${words}`;
        const fixed = inLowerCase(e, segments[0]);
        if (fixed !== undefined) message += `${/[.!?]$/.test(message) ? '' : '.'} Did you mean ${JSON.stringify(fixed)}?`;
        break;
      }
      case 'propertyNames':
        continue; // the name's own pattern error says it, with the rule
      default:
        message = `${field} ${describe(e.data)} is not valid (${e.message ?? e.keyword}): ${hint(e, schema)}`;
    }
    const dedupe = `${at.join('.')}|${message}`;
    if (seen.has(dedupe)) continue;
    seen.add(dedupe);
    problems.push({ ...doc.locate(at, key), app: doc.appName, message });
  }
  return problems;
}

/**
 * The value in lower case, when that is all it lacks (`Photos` for an app,
 * `Nginx:Latest` for an image, whose tag keeps its case); else undefined.
 */
function inLowerCase(e: ErrorObject, topField: string | number | undefined): string | undefined {
  if (typeof e.data !== 'string' || typeof e.schema !== 'string') return undefined;
  const value = e.data;
  // An image's tag and digest are case-sensitive: lower-case only what comes before them.
  const tagAt = topField === 'image' ? value.search(/(:[^:/]*)?(@.*)?$/) : value.length;
  const fixed = value.slice(0, tagAt).toLowerCase() + value.slice(tagAt);
  return fixed !== value && new RegExp(e.schema).test(fixed) ? fixed : undefined;
}

function hint(e: ErrorObject, schema: Record<string, unknown>): string {
  const parent = e.parentSchema as { description?: string; items?: unknown } | undefined;
  if (parent?.description) return lowerFirst(parent.description);
  // anyOf under items: the description sits on the array that holds it.
  const top = e.instancePath.split('/')[1];
  const props = schema.properties as Record<string, { description?: string }> | undefined;
  return lowerFirst(props?.[top ?? '']?.description ?? noHint(schema));
}

/** Where to read more when a field says nothing of itself: the schema's own file. */
function noHint(schema: Record<string, unknown>): string {
  return `see schemas/${String(schema.$id ?? 'app.schema.json').split('/').pop()}`;
}

/** A description as the rest of a sentence: "Memory limit" → "memory limit", "A name" → "a name", "CPU cores" as it is. */
export function lowerFirst(s: string): string {
  return /^[A-Z]([a-z]|\s)/.test(s) ? s.charAt(0).toLowerCase() + s.slice(1) : s;
}

function isMapping(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The closest candidate within a small edit distance, or the one the word abbreviates, for "did you mean" hints. */
export function didYouMean(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3))) return best;
  // An abbreviation (proto for protocol, mem for memory) that fits one field only.
  const longer = word.length >= 3 ? candidates.filter((c) => c.toLowerCase().startsWith(word.toLowerCase())) : [];
  return longer.length === 1 ? longer[0] : undefined;
}

/** Damerau-Levenshtein (optimal string alignment): a swap like imgae/image costs 1. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
