import type Docker from 'dockerode';
import { docker, eventually, httpGet } from './world.js';

/** What the Engine reports about a container, by name or id. */
export async function inspect(nameOrId: string): Promise<Docker.ContainerInspectInfo> {
  return docker.getContainer(nameOrId).inspect();
}

/** True when the Engine knows no container of that name or id. */
export async function isGone(nameOrId: string): Promise<boolean> {
  try {
    await inspect(nameOrId);
    return false;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return true;
    throw err;
  }
}

/**
 * Polls a page on 127.0.0.1:<port> until it answers 200 with a body that
 * contains `text`, and returns the body.
 */
export async function pageWith(port: number, text: string, host?: string): Promise<string> {
  const res = await eventually(async () => {
    const r = await httpGet(port, host);
    return r?.status === 200 && r.body.includes(text) ? r : undefined;
  });
  return res.body;
}

/** The non-empty lines of a command's output. */
export function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '');
}
