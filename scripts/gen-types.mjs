// Generates, from schemas/*.json:
//   src/manifest/types.generated.ts       TypeScript types (json-schema-to-typescript)
//   src/manifest/validators.generated.js  ajv validators compiled ahead of time (ajv standalone),
//                                          so no command compiles a schema at start-up,
//                                          and its .d.ts
// `--check` fails when a committed file is stale, so nobody edits them by hand.
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { compileFromFile } from 'json-schema-to-typescript';
import { readFile, writeFile } from 'node:fs/promises';

// Validator name → schema file and the generated type it checks.
const SCHEMAS = { validateApp: 'app.schema.json', validateConfig: 'config.schema.json' };
const TYPES = { validateApp: 'AppManifest', validateConfig: 'HdactlConfig' };
const schemaPath = (file) => new URL(`../schemas/${file}`, import.meta.url).pathname;
const banner = (how) => `/* Generated from schemas/*.json by \`npm run gen:types\` (${how}). Do not edit by hand. */`;

async function types() {
  const options = { bannerComment: '', additionalProperties: false, style: { singleQuote: true } };
  const parts = [];
  for (const file of Object.values(SCHEMAS)) parts.push(await compileFromFile(schemaPath(file), options));
  return `${banner('json-schema-to-typescript')}\n\n${parts.join('\n')}`;
}

async function validators() {
  // The options every hdactl validator is compiled with: all errors, with the failing data and schema for hints.
  const ajv = new Ajv2020.default({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true, code: { source: true, esm: true } });
  addFormats.default(ajv);
  for (const [name, file] of Object.entries(SCHEMAS)) ajv.addSchema(JSON.parse(await readFile(schemaPath(file), 'utf8')), name);
  const code = standaloneCode.default(ajv, Object.fromEntries(Object.keys(SCHEMAS).map((n) => [n, n])));
  if (/\brequire\(/.test(code)) throw new Error('the generated validators need ajv at run time: keep them free of require()');
  return `${banner('ajv standalone')}\n${code}\n`;
}

function declarations() {
  return [
    banner('ajv standalone'),
    "import type { ValidateFunction } from 'ajv';",
    `import type { ${Object.values(TYPES).join(', ')} } from './types.generated.js';`,
    '',
    ...Object.entries(TYPES).map(([name, type]) => `export declare const ${name}: ValidateFunction<${type}>;`),
    '',
  ].join('\n');
}

const outputs = [
  ['src/manifest/types.generated.ts', await types()],
  ['src/manifest/validators.generated.js', await validators()],
  ['src/manifest/validators.generated.d.ts', declarations()],
];
let stale = false;
for (const [file, text] of outputs) {
  const url = new URL(`../${file}`, import.meta.url);
  if (process.argv.includes('--check')) {
    if ((await readFile(url, 'utf8').catch(() => '')) !== text) {
      console.error(`${file} is stale: run \`npm run gen:types\` and commit the result.`);
      stale = true;
    }
  } else {
    await writeFile(url, text);
    console.log(`wrote ${file}`);
  }
}
if (stale) process.exit(1);
if (process.argv.includes('--check')) console.log('generated types and validators are up to date');
