import Docker from 'dockerode';
const d = new Docker();
const N = Number(process.argv[2] ?? 20), C = Number(process.argv[3] ?? 4), doStart = process.argv[4] !== 'nostart';
let t0 = Date.now(); const ids = []; let next = 0; let tc = 0, ts = 0;
async function w() { while (next < N) { const i = next++; let a = Date.now(); const c = await d.createContainer({ name: `exp-${process.pid}-${i}`, Image: 'hdactl-demo/web:1', Labels: { 'exp': String(process.pid) }, ExposedPorts: { '80/tcp': {} }, HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(51000 + i) }] } } }); tc += Date.now() - a; a = Date.now(); if (doStart) await c.start(); ts += Date.now() - a; ids.push(c.id); } }
await Promise.all(Array.from({ length: C }, w));
console.log('create+start', N, 'conc', C, Date.now() - t0, 'ms; sum create', tc, 'sum start', ts);
t0 = Date.now(); next = 0;
async function r() { while (next < ids.length) { const id = ids[next++]; await d.getContainer(id).remove({ force: true }); } }
await Promise.all(Array.from({ length: 8 }, r));
console.log('remove conc 8', Date.now() - t0);
