import type { AppStatus, StatusDocument } from './model.js';
import { imageText } from './status.js';

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function stateOf(a: AppStatus): { label: string; cls: string } {
  const cond = (t: string) => a.conditions.find((c) => c.type === t)?.status === 'True';
  if (cond('Degraded')) return { label: `${a.state} · degraded`, cls: 'bad' };
  if (cond('Progressing')) return { label: `${a.state} · updating`, cls: 'warn' };
  if (cond('Ready')) return { label: a.state, cls: 'ok' };
  return { label: a.state, cls: 'warn' };
}

function limits(a: AppStatus): string {
  const parts = [a.limits.memory && `mem ${a.limits.memory}`, a.limits.cpus !== undefined && `cpu ${a.limits.cpus}`, a.limits.pids !== undefined && `pids ${a.limits.pids}`].filter(Boolean);
  return parts.length ? parts.join(', ') : 'none';
}

/**
 * The read-only status page for the home-server owner: one row per app and
 * the recent events. It reloads itself every few seconds; it needs no script.
 */
export function renderPage(doc: StatusDocument, refreshSeconds = 3): string {
  const rows = doc.apps.map((a) => {
    const s = stateOf(a);
    // An app whose manifest is invalid has no known URL; only a valid one without `web` is headless.
    const url = a.url ? `<a href="${esc(a.url)}">${esc(a.url)}</a>` : `<span class="dim">${a.state === 'invalid' ? '-' : 'headless'}</span>`;
    return `<tr data-app="${esc(a.app)}"><td class="app">${esc(a.app)}</td><td><span class="pill ${s.cls}">${esc(s.label)}</span></td><td>${url}</td><td class="port">${esc(a.hostPort || '-')}</td><td>${esc(imageText(a))}</td><td class="nowrap">${esc(limits(a))}</td><td>${esc(a.restartCount ?? '-')}</td><td class="err">${esc(a.lastError ?? '')}${a.nextRetry ? `<div class="dim">next retry ${esc(a.nextRetry)}</div>` : ''}</td></tr>`;
  });
  // A file that cannot be parsed names no app: this list is the only place it shows.
  const problems = doc.problems.length
    ? `<h2 class="err">Manifest problems</h2><p class="dim">The apps they name are left as they are (a new one is not installed), and while a file cannot be parsed no app is removed.</p><ul class="problems">${doc.problems.map((p) => `<li><code>${esc(p.text)}</code></li>`).join('\n')}</ul>`
    : '';
  const events = doc.events.slice(0, 30).map((e) => `<li><time>${esc(e.time)}</time> <b>${esc(e.app)}</b> ${esc(e.type)}: ${esc(e.message)}</li>`);
  const engine = doc.engine.reachable
    ? `<span class="pill ok">Engine reachable</span>`
    : `<span class="pill bad">Engine unreachable</span> <span class="err">${esc(doc.engine.message ?? '')}</span>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${refreshSeconds}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hdactl: ${doc.apps.length} ${doc.apps.length === 1 ? 'app' : 'apps'}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222;background:#fafafa}
h1{font-size:1.3rem;margin:0 0 .5rem} table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #e4e4e4;vertical-align:top}
th{background:#f0f0f0;font-weight:600}.app{font-weight:600}.app,.pill,.nowrap{white-space:nowrap}.dim{color:#888}.err{color:#a40000;max-width:32rem;word-break:break-word}
.pill{display:inline-block;padding:0 .5rem;border-radius:1rem;font-size:.85em}
.ok{background:#dff3e0;color:#145214}.warn{background:#fff3cd;color:#6b4e00}.bad{background:#fbdcdc;color:#8a0000}
ul{padding-left:1.2rem} time{color:#888;font-family:monospace} .problems{color:#a40000;word-break:break-word}
</style></head><body>
<h1>hdactl</h1>
<p>${engine} · last pass ${esc(doc.lastPass ?? 'not yet')}</p>
${problems}
<table><thead><tr><th>App</th><th>State</th><th>URL</th><th class="nowrap" title="the app's web port on this machine, past Apache">Host port</th><th>Image</th><th>Limits</th><th>Restarts</th><th>Last error</th></tr></thead>
<tbody>${rows.join('\n') || '<tr><td colspan="8" class="dim">no apps yet: add a manifest</td></tr>'}</tbody></table>
<h2>Recent events</h2><ul>${events.join('\n') || '<li class="dim">none</li>'}</ul>
</body></html>`;
}
