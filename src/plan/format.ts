import type { Action, AppPlan, Change, Plan } from './actions.js';

/** `field a → b, field c → d` */
export function formatChanges(changes: Change[]): string {
  return changes.map((c) => `${c.field} ${c.from} → ${c.to}`).join(', ');
}

const SYMBOL: Record<Action['type'], string> = {
  create: '+', recreate: '~', 'update-limits': '~', start: '>', stop: '.', remove: '-',
  'vhost-create': '+', 'vhost-update': '~', 'vhost-remove': '-',
};

/** What a step does and why, without the app's name: `image a → b`. */
export function describeAction(a: Action): string {
  switch (a.type) {
    case 'create':
      return `image ${a.desired.spec.image}${a.desired.web ? `, web on 127.0.0.1:${a.desired.web.hostPort}` : ''} (${a.reason})`;
    case 'recreate':
    case 'update-limits':
      return formatChanges(a.changes);
    case 'remove':
      return a.container.name === a.container.app ? a.reason : `${a.container.name}: ${a.reason}`;
    default:
      return a.reason;
  }
}

/** One line a person reads at a glance, e.g. `~ recreate gitlab: image a → b`. */
export function formatAction(app: string, a: Action): string {
  const verb = a.type.startsWith('vhost-') ? 'vhost' : a.type;
  return `${SYMBOL[a.type]} ${verb} ${app}: ${describeAction(a)}`;
}

/** The plan as the lines `hdactl plan` prints. */
export function formatPlan(p: Plan): string[] {
  const lines: string[] = [];
  for (const a of p.apps) {
    // Each reason says how the app is left (as it runs, not removed, not created).
    if (a.blocked) lines.push(`! ${a.app}: ${a.blocked}`);
    for (const act of a.actions) lines.push(formatAction(a.app, act));
    if (a.warning) lines.push(`! ${a.app}: ${a.warning}`);
  }
  return lines;
}

/** The plan as plain data for `-o json`. */
export function planToJson(p: Plan): unknown {
  return {
    // An app left as it is (an invalid manifest, a removal held back) is not in sync either: it is what `plan` exits 1 for.
    inSync: p.apps.every((a) => a.actions.length === 0 && !a.blocked),
    apps: p.apps.map((a: AppPlan) => ({
      app: a.app,
      ...(a.blocked ? { blocked: a.blocked } : {}),
      ...(a.warning ? { warning: a.warning } : {}),
      actions: a.actions.map((act) => ({
        type: act.type,
        ...('reason' in act ? { reason: act.reason } : {}),
        ...('changes' in act ? { changes: act.changes } : {}),
        ...('container' in act ? { container: act.container.id.slice(0, 12) } : {}),
        text: formatAction(a.app, act),
      })),
    })),
  };
}
