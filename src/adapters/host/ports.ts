import { readFile } from 'node:fs/promises';

/** The socket state /proc/net/tcp{,6} calls TCP_LISTEN. */
const LISTEN = '0A';

/**
 * TCP ports something on this host listens on (any address), from
 * /proc/net/tcp and /proc/net/tcp6, so that a new app is not given a web
 * port another program holds: its id, and so its port, is for life.
 * Empty where /proc cannot be read (not Linux): the Engine then reports a
 * port in use at start, as before.
 */
export async function listeningTcpPorts(procNet = '/proc/net'): Promise<Set<number>> {
  const ports = new Set<number>();
  for (const file of ['tcp', 'tcp6']) {
    const text = await readFile(`${procNet}/${file}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== LISTEN || !local) continue;
      const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (Number.isInteger(port)) ports.add(port);
    }
  }
  return ports;
}

/**
 * The range the kernel picks outgoing connections' local ports from
 * (/proc/sys/net/ipv4/ip_local_port_range; Linux's default is 32768-60999).
 * Undefined where it cannot be read.
 */
export async function ephemeralPortRange(file = '/proc/sys/net/ipv4/ip_local_port_range'): Promise<{ from: number; to: number } | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const [from, to] = text.trim().split(/\s+/).map(Number);
  return Number.isInteger(from) && Number.isInteger(to) ? { from: from!, to: to! } : undefined;
}
