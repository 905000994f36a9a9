/**
 * Gives every app a small integer id: an app keeps the id it has (from the
 * state file or its container's label); a new app gets the lowest free id whose
 * host port (portBase + id) no app publishes otherwise. Pure.
 */
export function allocateIds(apps: string[], known: ReadonlyMap<string, number>, takenPorts: ReadonlySet<number>, portBase: number): Map<string, number> {
  const ids = new Map<string, number>();
  const used = new Set<number>();
  for (const app of apps) {
    const id = known.get(app);
    if (id !== undefined && id > 0 && !used.has(id)) {
      ids.set(app, id);
      used.add(id);
    }
  }
  // Ids of apps that are known but not desired right now stay reserved: their
  // container may still run on that port (a frozen or not-yet-removed app).
  for (const [app, id] of known) if (!apps.includes(app)) used.add(id);
  let next = 1;
  for (const app of apps) {
    if (ids.has(app)) continue;
    while (used.has(next) || takenPorts.has(portBase + next)) next++;
    ids.set(app, next);
    used.add(next);
  }
  return ids;
}
