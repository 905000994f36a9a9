#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { EngineError } from '../adapters/docker/errors.js';
import { SETTING_FLAGS } from '../config/settings.js';
import { didYouMean } from '../manifest/validate.js';
import { commands, type CommandContext } from './commands.js';
import { COMMAND_HELP, commandUsage, usage } from './help.js';


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
    process.stderr.write(`hdactl: ${optionError(err as Error & { code?: string })}\nRun hdactl help for the commands and options.\n`);
    return 1;
  }
  const [name, ...rest] = parsed.values.version ? ['version'] : parsed.positionals;
  if (!name) {
    process.stdout.write(usage());
    return parsed.values.help ? 0 : 1;
  }
  // `hdactl help plan` and `hdactl plan --help` show the same page.
  const helpFor = name === 'help' ? rest[0] : parsed.values.help ? name : undefined;
  if (helpFor !== undefined && !(helpFor in COMMAND_HELP)) return unknown(helpFor);
  if (name === 'help' || parsed.values.help) {
    process.stdout.write(helpFor === undefined ? usage() : commandUsage(helpFor));
    return 0;
  }
  const command = commands[name];
  if (!command) return unknown(name);
  const { output, help: _help, version: _version, 'allow-empty': allowEmpty, ...flags } = parsed.values as Record<string, string | undefined> & { 'allow-empty'?: boolean };
  if (output !== undefined && output !== 'text' && output !== 'json') {
    process.stderr.write(`hdactl: -o ${output} is not a format: use text or json\n`);
    return 1;
  }
  if (output === 'json' && !JSON_COMMANDS.has(name)) {
    process.stderr.write(`hdactl: -o json is for ${[...JSON_COMMANDS].join(', ')}; ${name} prints text${name === 'apply' ? ' (hdactl plan -o json shows what apply would do)' : ''}\n`);
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

/** parseArgs' words for an option it does not know, with the option meant: `--manifest` → `--manifests`. */
function optionError(err: Error & { code?: string }): string {
  const given = /^Unknown option '(--?[^'=]+)/.exec(err.message)?.[1];
  if (err.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || given === undefined) return err.message;
  const known = [...Object.keys(SETTING_FLAGS), 'config', 'output', 'allow-empty', 'help', 'version'];
  const guess = given.startsWith('--') ? didYouMean(given.slice(2), known) : undefined;
  return `unknown option ${given}${guess ? `: did you mean --${guess}?` : ''}`;
}

function unknown(name: string): number {
  const guess = didYouMean(name, Object.keys(COMMAND_HELP));
  process.stderr.write(`hdactl: unknown command "${name}"${guess ? `: did you mean "${guess}"?` : ''}\nRun hdactl help for the commands.\n`);
  return 1;
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
