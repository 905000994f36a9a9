#!/usr/bin/env node
// Bundles the CLI into dist/ with esbuild. A one-shot command such as
// `hdactl plan` spends most of its time loading modules, not reconciling:
// one ESM file (plus a chunk for `hdactl run`) loads without resolving and
// compiling hundreds of CommonJS files.
//
// dockerode requires its BuildKit session code (gRPC, protobufjs) at load,
// though only `buildImage` with BuildKit uses it; hdactl never builds images,
// so that file is replaced with a stub that throws if it is ever called.
// docker-modem loads ssh2 (for DOCKER_HOST=ssh://...) at load, too: its ssh
// agent is wrapped so that ssh2 is required on the first ssh connection only.
// pino-pretty stays external: it is required only when logging to a terminal.
import { build } from 'esbuild';
import { chmod, rm } from 'node:fs/promises';

const ROOT = new URL('..', import.meta.url).pathname;

const noBuildkit = {
  name: 'no-buildkit',
  setup(b) {
    b.onResolve({ filter: /^\.\/(session|buildkit)$/ }, (args) =>
      /[\\/]dockerode[\\/]lib$/.test(args.resolveDir) ? { path: args.path, namespace: 'no-buildkit' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'no-buildkit' }, () => ({
      contents: "module.exports = function () { throw new Error('hdactl does not build images: BuildKit sessions are left out of its bundle'); };",
      loader: 'js',
    }));
  },
};

const lazySsh = {
  name: 'lazy-ssh',
  setup(b) {
    b.onResolve({ filter: /^\.\/ssh$/ }, (args) =>
      /[\\/]docker-modem[\\/]lib$/.test(args.resolveDir) ? { path: `${args.resolveDir}/ssh.js`, namespace: 'lazy-ssh' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-ssh' }, (args) => ({
      contents: `module.exports = function (opt) { return require(${JSON.stringify(args.path)})(opt); };`,
      resolveDir: ROOT,
      loader: 'js',
    }));
  },
};

await rm(`${ROOT}dist`, { recursive: true, force: true });
await build({
  absWorkingDir: ROOT,
  entryPoints: { 'cli/main': 'src/cli/main.ts' },
  outdir: 'dist',
  // Every output file sits in dist/cli, so paths relative to a module (../../schemas, ../../templates) hold as in src/.
  chunkNames: 'cli/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  external: ['pino-pretty', 'ssh2'],
  // Bundled CommonJS (dockerode, ajv, yaml) still calls require() for Node's built-ins.
  banner: { js: "import { createRequire as __hdactlRequire } from 'node:module'; const require = __hdactlRequire(import.meta.url);" },
  plugins: [noBuildkit, lazySsh],
  logLevel: 'warning',
});
await chmod(`${ROOT}dist/cli/main.js`, 0o755);
