import { readFile } from 'node:fs/promises';

/** Socket states as /proc/net/tcp{,6} writes them. */
const LISTEN = '0A';
const TIME_WAIT = '06';

/** TCP ports that sockets on this host hold (any address), by kind. */
export interface HostTcpPorts {
  /** Ports something listens on. */
  listening: Set<number>;
  /**
   * Ports a new listener cannot bind: listening, or the local port of a
   * connection (outgoing connections' ports come from the kernel's ephemeral
   * range). A closed connection waits out TIME_WAIT for up to a minute, and
   * holds its port meanwhile only if it was an outgoing one: an accepted
   * connection's socket shares its listener's SO_REUSEADDR, as does
   * docker-proxy's next listener, so the Engine can publish that port again
   * at once (checked on Linux 6.18 with Docker 20.10). /proc does not show
   * the flag, so a TIME_WAIT port counts as held only inside the ephemeral
   * range, where outgoing connections' ports come from.
   */
  held: Set<number>;
}

/**
 * The TCP ports sockets on this host hold, from /proc/net/tcp and
 * /proc/net/tcp6: a new app is not given a web port another socket holds,
 * since its id, and so its port, is for life, and the Engine cannot publish
 * a held port. Empty where /proc cannot be read (not Linux): the Engine then
 * reports a port in use at start, as before.
 */
export async function hostTcpPorts(procNet = '/proc/net', ephemeral = ephemeralPortRange()): Promise<HostTcpPorts> {
  const ports: HostTcpPorts = { listening: new Set(), held: new Set() };
  const range = (await ephemeral) ?? { from: 32768, to: 60999 };
  for (const file of ['tcp', 'tcp6']) {
    const text = await readFile(`${procNet}/${file}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local) continue;
      const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (!Number.isInteger(port)) continue;
      if (state === LISTEN) ports.listening.add(port);
      if (state !== TIME_WAIT || (port >= range.from && port <= range.to)) ports.held.add(port);
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
