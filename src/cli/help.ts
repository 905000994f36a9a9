/**
 * The help texts: `hdactl help` lists every command and option;
 * `hdactl help CMD` and `hdactl CMD --help` show one command with only the
 * options it reads.
 */
import { SETTING_FLAGS } from '../config/settings.js';

const OPTIONS: Record<string, string> = {
  manifests: '--manifests DIR      manifests directory (./manifests)',
  'data-root': '--data-root DIR      app data; relative volumes live in DIR/<app>/ (./.hdactl/data)',
  'state-dir': '--state-dir DIR      state file and lock (./.hdactl)',
  domain: '--domain NAME        vhosts are <hostname>.NAME (hda.local)',
  'port-base': '--port-base N        web host port = N + app id (35000)',
  'vhost-dir': '--vhost-dir DIR      managed Apache vhost files (./.hdactl/vhosts)',
  apachectl: '--apachectl CMD      Apache control command, may carry arguments, or none (apachectl if on PATH)',
  'vhost-port': '--vhost-port N       port of <VirtualHost *:N> (80)',
  templates: '--templates DIR      vhost templates overriding the built-in ones',
  instance: '--instance NAME      manage only containers labelled with this instance (default)',
  concurrency: '--concurrency N      apps applied in parallel (4)',
  listen: '--listen ADDR:PORT   status server of run, or none (127.0.0.1:9469)',
  resync: '--resync DURATION    full resync period of run (60s)',
  'engine-timeout': '--engine-timeout DURATION\n                       how long a Docker Engine call waits for its answer (60s)',
  'log-level': '--log-level LEVEL    fatal, error, warn, info, debug, trace or silent\n                       (info for run, warn otherwise)',
  config: '--config FILE        settings file instead of ./hdactl.yaml',
  output: '-o, --output FORMAT  text (default) or json, for plan, status and events',
  'allow-empty': '--allow-empty        plan and apply only: remove every app when the manifests\n                       define none (otherwise an empty directory removes nothing)',
  help: '-h, --help           this text',
  version: '--version            hdactl\'s version',
};

/** The options every command that reads the manifests and the Engine takes. */
const PASS = ['manifests', 'data-root', 'state-dir', 'domain', 'port-base', 'vhost-dir', 'vhost-port', 'templates', 'instance', 'engine-timeout', 'log-level', 'config'];

interface CommandHelp {
  args?: string;
  summary: string;
  /** What it does, in a few lines, and its exit status. */
  about: string;
  options: string[];
  /** Options that mean something narrower for this command than OPTIONS says. */
  optionText?: Record<string, string>;
}

export const COMMAND_HELP: Record<string, CommandHelp> = {
  validate: {
    args: '[DIR]',
    summary: 'check the manifests (default: --manifests); exit 1 on any problem',
    about: `Checks every manifest in DIR against the schema and against each other
(names, host names and host ports claimed twice, unknown \${VARIABLES},
the volume policy). Prints each problem as FILE:LINE:COL: app NAME: message.
Touches neither the Engine nor Apache.

Exit status: 0 all valid, 1 any problem.`,
    options: ['manifests', 'data-root', 'state-dir', 'domain', 'port-base', 'templates', 'config'],
  },
  plan: {
    summary: 'show what apply would change; exit 0 in sync, 2 changes pending, 1 error',
    about: `Compares the manifests with the containers (one Engine call) and the vhost
files, and prints one line per change with its reason. Changes nothing.

Exit status: 0 in sync, 2 changes pending, 1 a manifest problem, an app
left as it runs, or an error.`,
    options: [...PASS, 'output', 'allow-empty'],
  },
  apply: {
    summary: 'make the containers and vhosts match the manifests',
    about: `Creates, updates, starts, stops and removes containers and writes the
vhost files until they match the manifests, then reloads Apache once
(after its configtest). Prints one line per app with its outcome. Every
valid app is applied even when another manifest has a problem. Refused
while an hdactl run (or another apply) works on the same --state-dir,
except --allow-empty over manifests that define no app.

Exit status: 0 every app applied, 1 any failure, manifest problem or refusal.`,
    options: [...PASS, 'apachectl', 'concurrency', 'allow-empty'],
  },
  status: {
    summary: 'one line per app: state, image, URL, host port, last error',
    about: `Asks the running daemon (at --listen) for its status; without a daemon,
computes the table from the Engine and the files, with each app's last
failure as the state file recorded it.

Exit status: 0 the table was printed (whatever it says), 1 an error.`,
    options: [...PASS, 'listen', 'output'],
    optionText: { instance: '--instance NAME      show the apps of this instance, from its daemon if it answers (default)' },
  },
  run: {
    summary: 'the daemon: watch manifests, containers and vhosts, and keep them converged',
    about: `Applies every change to the manifests directory, the app containers and the
vhost files as it happens, and every --resync. Serves its status, events
and metrics on --listen. Stops cleanly on SIGINT or SIGTERM; one daemon per
state directory. Started while an apply works there, it waits for the
apply to finish.

Exit status: 0 stopped by a signal, 1 it could not start (another daemon
holds the state directory, a bad setting). It reads the settings once:
restart it after changing hdactl.yaml.`,
    options: [...PASS, 'apachectl', 'concurrency', 'listen', 'resync'],
  },
  events: {
    summary: 'recent events from the running daemon',
    about: `Prints what the daemon at --listen did and why, oldest first: installs,
updates, removals, repaired drift, manifest problems, failures and their
retries. The daemon keeps the most recent ones in memory.

Exit status: 0 the events were printed (or there are none yet), 1 no
daemon of this --instance answers on --listen.`,
    options: ['listen', 'instance', 'config', 'output'],
    optionText: { instance: '--instance NAME      ask the daemon of this instance (default)' },
  },
  'apache-config': {
    summary: 'print the Apache snippet that includes hdactl\'s vhosts',
    about: `Prints the lines to add to Apache's configuration once, so that it reads
the vhost files in --vhost-dir.`,
    options: ['vhost-dir', 'config'],
  },
  version: { summary: "hdactl's version (also --version)", about: "Prints hdactl's version.", options: [] },
  help: { args: '[COMMAND]', summary: 'this text, or one command\'s', about: 'Lists the commands and options, or shows one command with the options it reads.', options: [] },
};

const indent = (line: string) => `  ${line}`;

/** `hdactl help`: every command and every option. */
export function usage(): string {
  const commands = Object.entries(COMMAND_HELP).map(([name, c]) => indent(`${`${name} ${c.args ?? ''}`.trimEnd().padEnd(17)}  ${c.summary}`));
  return `hdactl: declarative app manager for Amahi-style home servers

Usage: hdactl <command> [options]
       hdactl help <command>   (or hdactl <command> --help) for one command

Commands:
${commands.join('\n')}

Options (a flag beats an HDACTL_* variable, which beats hdactl.yaml):
${Object.values(OPTIONS).map(indent).join('\n')}
`;
}

/** `hdactl help CMD`: one command, the options it reads, and its exit status. */
export function commandUsage(name: string): string {
  const c = COMMAND_HELP[name]!;
  const options = [...c.options, 'help'].map((o) => indent(c.optionText?.[o] ?? OPTIONS[o]!));
  return `hdactl ${name}: ${c.summary}

Usage: hdactl ${name}${c.args ? ` ${c.args}` : ''}${c.options.length ? ' [options]' : ''}

${c.about}

Options${c.options.some((o) => o in SETTING_FLAGS) ? ' (a flag beats an HDACTL_* variable, which beats hdactl.yaml)' : ''}:
${options.join('\n')}
`;
}
