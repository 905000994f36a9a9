import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { hostTcpPorts } from '../../src/adapters/host/ports.js';

/** Opens and closes one connection to a fresh listener; `closer` closes first, so its socket waits out TIME_WAIT. */
async function closedConnection(closer: 'client' | 'server'): Promise<{ server: Server; serverPort: number; clientPort: number }> {
  const server = createServer((s) => {
    s.resume();
    if (closer === 'server') s.end();
    else s.on('end', () => s.end());
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const serverPort = (server.address() as AddressInfo).port;
  const client = connect(serverPort, '127.0.0.1');
  await once(client, 'connect');
  const clientPort = client.localPort!;
  client.resume();
  if (closer === 'client') client.end();
  else client.on('end', () => client.end());
  await once(client, 'close');
  return { server, serverPort, clientPort };
}

describe('the ports a new listener cannot bind, read from /proc/net/tcp', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  it('holds a listening port and an open connection\'s local port', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    const local = client.localPort!;
    const ports = await hostTcpPorts();
    client.destroy();
    expect(ports.listening.has(port)).toBe(true);
    expect(ports.held.has(port)).toBe(true);
    expect(ports.held.has(local)).toBe(true);
    expect(ports.listening.has(local)).toBe(false);
  });

  it('holds a closed outgoing connection\'s port in TIME_WAIT inside the ephemeral range, and not a closed accepted one\'s outside it', async () => {
    const out = await closedConnection('client');
    servers.push(out.server);
    const accepted = await closedConnection('server');
    servers.push(accepted.server);
    accepted.server.close();
    await once(accepted.server, 'close');
    // The kernel chose both ports from its range; one narrowed to the outgoing port leaves the accepted one outside, as a test world's ports are.
    const ports = await hostTcpPorts('/proc/net', Promise.resolve({ from: out.clientPort, to: out.clientPort }));
    expect(ports.held.has(out.clientPort)).toBe(true);
    expect(ports.held.has(accepted.serverPort)).toBe(false);
  });
});
