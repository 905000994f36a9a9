#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { EngineError } from '../adapters/docker/errors.js';
import { SETTING_FLAGS } from '../config/settings.js';
import { commands, type CommandContext } from './commands.js';

const USAGE = `hdactl: declarative app manager for Amahi-style home servers

Usage: hdactl <command> [options]

Commands:
  validate [DIR]     check the manifests (default: --manifests); exit 1 on any problem
  plan               show what apply would change; exit 0 in sync, 2 changes pending, 1 error
  apply              make the containers and vhosts match the manifests
  status             one line per app: state, image, URL, host port, last error
  run                the daemon: watch manifests, containers and vhosts, and keep them converged
  events             recent events from the running daemon
  apache-config      print the Apache snippet that includes hdactl's vhosts
  version            hdactl's version (also --version)
  help               this text

Options (a flag beats an HDACTL_* variable, which beats hdactl.yaml):
  --manifests DIR      manifests directory (./manifests)
  --data-root DIR      app data; relative volumes live in DIR/<app>/ (./.hdactl/data)
  --state-dir DIR      state file and lock (./.hdactl)
  --domain NAME        vhosts are <hostname>.NAME (hda.local)
  --port-base N        web host port = N + app id (35000)
  --vhost-dir DIR      managed Apache vhost files (./.hdactl/vhosts)
  --apachectl CMD      Apache control command, may carry arguments, or none (apachectl if on PATH)
  --vhost-port N       port of <VirtualHost *:N> (80)
  --templates DIR      vhost templates overriding the built-in ones
  --instance NAME      manage only containers labelled with this instance (default)
  --concurrency N      apps applied in parallel (4)
  --listen ADDR:PORT   status server of run, or none (127.0.0.1:9469)
  --resync DURATION    full resync period of run (60s)
  --engine-timeout DURATION
                       how long a Docker Engine call waits for its answer (60s)
  --log-level LEVEL    fatal, error, warn, info, debug, trace or silent
  --config FILE        settings file instead of ./hdactl.yaml
  -o, --output FORMAT  text (default) or json, for plan, status and events
  --allow-empty        plan and apply only: remove every app when the manifests
                       define none (otherwise an empty directory removes nothing)
  -h, --help           this text
  --version            hdactl's version
`;

/** The commands that print `-o json`. */
const JSON_COMMANDS = new Set(['plan', 'status', 'events']);

async function main(argv: string[]): Promise<number> {
  const options = Object.fromEntries(Object.keys(SETTING_FLAGS).map((f) => [f, { type: 'string' as const }]));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { ...options, config: { type: 'string' }, output: { type: 'string', short: 'o' }, 'allow-empty': { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } },
    });
  } catch (err) {
    process.stderr.write(`hdactl: ${(err as Error).message}\nRun hdactl help for the commands and options.\n`);
    return 1;
  }
  const [name, ...rest] = parsed.values.version ? ['version'] : parsed.positionals;
  if (!name || name === 'help' || parsed.values.help) {
    process.stdout.write(USAGE);
    return name || parsed.values.help ? 0 : 1;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`hdactl: unknown command "${name}"\nRun hdactl help for the commands.\n`);
    return 1;
  }
  const { output, help: _help, version: _version, 'allow-empty': allowEmpty, ...flags } = parsed.values as Record<string, string | undefined> & { 'allow-empty'?: boolean };
  if (output !== undefined && output !== 'text' && output !== 'json') {
    process.stderr.write(`hdactl: -o ${output} is not a format: use text or json\n`);
    return 1;
  }
  if (output === 'json' && !JSON_COMMANDS.has(name)) {
    process.stderr.write(`hdactl: -o json is for ${[...JSON_COMMANDS].join(', ')}; ${name} prints text (hdactl plan -o json shows what apply would do)\n`);
    return 1;
  }
  if (rest.length > (name === 'validate' ? 1 : 0)) {
    process.stderr.write(`hdactl: ${name} takes ${name === 'validate' ? 'at most one directory' : 'no arguments'}, not "${rest.join(' ')}"${name === 'validate' ? '' : ': options start with --'}\n`);
    return 1;
  }
  if (allowEmpty && name !== 'plan' && name !== 'apply') {
    process.stderr.write(`hdactl: --allow-empty is for plan and apply: run hdactl apply --allow-empty once to remove every app\n`);
    return 1;
  }
  const ctx: CommandContext = { flags, args: rest, json: output === 'json', allowEmpty: allowEmpty === true };
  return command(ctx);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Expected failures get one line a person can act on, not a stack trace.
    const message = err instanceof EngineError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`hdactl: ${message}\n`);
    if (process.env.HDACTL_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  },
);
