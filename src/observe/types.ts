import type { ContainerSpec, Limits } from '../desired/model.js';

/** Labels hdactl puts on every container it owns. Nothing without them is ever changed. */
export const LABEL = {
  app: 'org.amahi.hdactl.app',
  instance: 'org.amahi.hdactl.instance',
  specHash: 'org.amahi.hdactl.spec-hash',
  spec: 'org.amahi.hdactl.spec',
  limits: 'org.amahi.hdactl.limits',
  id: 'org.amahi.hdactl.id',
  generation: 'org.amahi.hdactl.generation',
} as const;

/**
 * The name a container is renamed to while its replacement is created: it
 * keeps its labels, so a pass that finds it knows it is a leftover of `app`.
 */
export function asideName(app: string, containerId: string): string {
  return `${app}${ASIDE_MARK}${containerId.slice(0, 8)}`;
}
export const ASIDE_MARK = '-hdactl-old-';

/** Container states as the Engine reports them. */
export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** A container hdactl owns, as observed through one list call. */
export interface ObservedContainer {
  id: string;
  name: string;
  app: string;
  state: ContainerState;
  /** Human status from the Engine, e.g. "Exited (137) 3 seconds ago". */
  status: string;
  specHash: string;
  /** The spec it was created from (from its label), for explaining a recreate. */
  spec?: ContainerSpec;
  /** The limits it runs with: its label, or the state file after a live update. */
  limits: Limits;
  appId?: number;
  generation?: string;
}

/** A managed vhost file, as found in the vhost directory. */
export interface ObservedVhost {
  app: string;
  file: string;
  content: string;
  /** False when the body no longer matches the hash in its header: edited by hand. */
  intact: boolean;
}

/** Everything observed in one pass. */
export interface Observed {
  /** Containers of this hdactl instance. */
  containers: ObservedContainer[];
  /**
   * Names of containers this hdactl does not own: an app of that name is a
   * conflict. Each maps to the instance of the other hdactl that manages it,
   * if one does (its labels say so).
   */
  foreignNames: Map<string, string | undefined>;
  /** Managed vhost files by app. */
  vhosts: Map<string, ObservedVhost>;
  /** `<app>.conf` files without hdactl's header: never touched. */
  foreignVhosts: Set<string>;
}
