// Generates src/manifest/types.generated.ts from schemas/*.json.
// `--check` fails when the committed file is stale, so nobody edits it by hand.
import { compileFromFile } from 'json-schema-to-typescript';
import { readFile, writeFile } from 'node:fs/promises';

const out = new URL('../src/manifest/types.generated.ts', import.meta.url);
const banner = '/* Generated from schemas/*.json by `npm run gen:types`. Do not edit by hand. */';
const options = { bannerComment: '', additionalProperties: false, style: { singleQuote: true } };
const parts = [];
for (const schema of ['app.schema.json', 'config.schema.json']) {
  parts.push(await compileFromFile(new URL(`../schemas/${schema}`, import.meta.url).pathname, options));
}
const text = `${banner}\n\n${parts.join('\n')}`;
if (process.argv.includes('--check')) {
  const current = await readFile(out, 'utf8').catch(() => '');
  if (current !== text) {
    console.error('src/manifest/types.generated.ts is stale: run `npm run gen:types` and commit the result.');
    process.exit(1);
  }
  console.log('generated types are up to date');
} else {
  await writeFile(out, text);
  console.log('wrote src/manifest/types.generated.ts');
}
