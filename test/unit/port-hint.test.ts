import { describe, expect, it } from 'vitest';
import { withPortHint } from '../../src/apply/apply.js';
import { desiredApps } from './plan-fixture.js';

const [hydra] = desiredApps([{ app: 'hydra', kind: 'container-custom', image: 'linuxserver/hydra:5.3.0', web: 5075, ports: ['2224:22'] }], new Map([['hydra', 4]]));

describe('a host port something else holds', () => {
  it('another container holding an extra port: names the port and the manifest to change', () => {
    const engine = 'start container: driver failed programming external connectivity on endpoint hydra (4c97): Bind for 0.0.0.0:2224 failed: port is already allocated';
    expect(withPortHint(engine, hydra)).toBe(`${engine}. Host port 2224 is taken by another program or container: stop what listens there, or choose another host port in ports: at fixture.yaml#0:1`);
  });

  it('a program holding the web port: says it is the app\'s own port, which no manifest field moves', () => {
    const engine = 'start container: driver failed programming external connectivity on endpoint hydra (fd24): Error starting userland proxy: listen tcp4 127.0.0.1:35004: bind: address already in use';
    expect(withPortHint(engine, hydra)).toBe(`${engine}. Host port 35004 is taken by another program or container: it is hydra's web port (portBase + id 4), so stop what listens there`);
  });

  it('a web port nothing listens on: an outgoing connection holds it, so apply again, and reserve the web ports for good', () => {
    const engine = 'start container: driver failed programming external connectivity on endpoint hydra (fd24): Error starting userland proxy: listen tcp4 127.0.0.1:35004: bind: address already in use';
    const host = { listening: new Set([22, 80]), ephemeral: { from: 32768, to: 60999 } };
    expect(withPortHint(engine, hydra, host)).toBe(`${engine}. Nothing listens on host port 35004, so an outgoing connection holds it (the kernel lends ports 32768-60999 to outgoing connections), and the port is free again once that connection is over (up to a minute after it closes): hdactl run tries again, and after hdactl apply, apply again. To keep the kernel off the apps' web ports for good: sysctl -w net.ipv4.ip_local_reserved_ports=35001-35999, and the same setting in /etc/sysctl.d/`);
  });

  it('a web port a program listens on keeps the "stop what listens there" hint', () => {
    const engine = 'start container: driver failed programming external connectivity on endpoint hydra (fd24): Error starting userland proxy: listen tcp4 127.0.0.1:35004: bind: address already in use';
    expect(withPortHint(engine, hydra, { listening: new Set([35004]) })).toContain('Host port 35004 is taken by another program or container: it is hydra\'s web port');
  });

  it('another container\'s port is never an outgoing connection\'s, whatever listens', () => {
    const engine = 'start container: driver failed programming external connectivity on endpoint hydra (4c97): Bind for 0.0.0.0:2224 failed: port is already allocated';
    expect(withPortHint(engine, hydra, { listening: new Set() })).toContain('Host port 2224 is taken by another program or container: stop what listens there');
  });

  it('any other error is left as the Engine said it', () => {
    expect(withPortHint('start container: no such file', hydra)).toBe('start container: no such file');
  });
});
