// The webhook scenario of `npm run bench`: signed deliveries (Standard
// Webhooks) to a user's generic endpoint, served directly by workerd with
// the bindings of wrangler.toml (R2 keeps each delivery's bytes, D1 the
// delivery record, its run and its reading). Every delivery is distinct
// (its own id and half-hour reading), signed before the clock starts; a
// closed loop of CONCURRENCY senders posts them and times each answer.
// Afterwards the stored rows are counted against what was sent. The
// per-endpoint rate limit (600 per 10 s) is kept under by the number sent
// per run; a 429 would fail the scenario rather than be hidden.

import { createHmac } from 'node:crypto';
import { wranglerBindings } from './sync.mjs';

const DELIVERIES = Number(process.env.BENCH_WEBHOOKS ?? 500);
const CONCURRENCY = 4;

const now = () => performance.timeOrigin + performance.now();

function sign(secret, id, ts, body) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`;
}

export async function webhookBench(h) {
  const persistDir = h.freshDatabase();
  const bindings = await wranglerBindings(h.root);
  const cfg = await h.config({ persistDir, baselinePort: null, bindings });
  const server = await h.startServer(cfg);
  const app = `http://127.0.0.1:${cfg.appPort}`;
  const user = 'user_bench_webhooks';
  const call = async (method, p, body) => {
    const res = await fetch(`${app}${p}`, {
      method,
      headers: { authorization: `Bearer ${h.token(user)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json() };
  };
  try {
    const ds = await call('POST', '/api/v1/datasources', { integration_id: 'generic-webhook', display_name: 'Bench BMS' });
    if (ds.status !== 201) throw new Error(`creating the datasource: ${ds.status} ${JSON.stringify(ds.body)}`);
    const ep = await call('POST', `/api/v1/datasources/${ds.body.id}/webhook-endpoints`);
    if (ep.status !== 201) throw new Error(`creating the endpoint: ${ep.status} ${JSON.stringify(ep.body)}`);
    const url = `${app}${ep.body.url_path}`;
    const ts = Math.floor(Date.now() / 1000);
    const start = Date.UTC(2026, 0, 1);
    const jobs = Array.from({ length: DELIVERIES }, (_, i) => {
      const at = new Date(start + i * 1800_000).toISOString().replace('.000', '');
      const end = new Date(start + (i + 1) * 1800_000).toISOString().replace('.000', '');
      const body = JSON.stringify([{ type: 'electricity', start: at, end, quantity: 0.25 + (i % 9) / 10, unit: 'kWh', reference: 'BENCH-METER' }]);
      const id = `msg_bench_${i}`;
      return { body, headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sign(ep.body.secret, id, ts, body) } };
    });
    const latencies = [];
    let next = 0;
    const t0 = now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < jobs.length) {
          const job = jobs[next++];
          const s = now();
          const res = await fetch(url, { method: 'POST', headers: job.headers, body: job.body });
          const answer = await res.json();
          latencies.push(now() - s);
          if (res.status !== 200 || answer.outcome !== 'ingested') throw new Error(`a delivery was answered ${res.status} ${JSON.stringify(answer)}`);
        }
      }),
    );
    const wall = now() - t0;
    const route = (await h.stats(server)).lastByRoute['POST /api/v1/webhooks/generic/{source}'];
    const [stored] = h.d1(persistDir, `SELECT (SELECT COUNT(*) FROM webhook_deliveries) AS deliveries, (SELECT COUNT(*) FROM activity) AS readings, (SELECT COUNT(*) FROM sync_runs WHERE trigger = 'webhook') AS runs`);
    if (stored.deliveries !== DELIVERIES || stored.readings !== DELIVERIES || stored.runs !== DELIVERIES) {
      throw new Error(`stored ${JSON.stringify(stored)} for ${DELIVERIES} deliveries`);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
    return {
      deliveries: DELIVERIES,
      concurrency: CONCURRENCY,
      per_s: DELIVERIES / (wall / 1000),
      p50_ms: pct(50),
      p99_ms: pct(99),
      d1_statements: route?.d1_statements,
      stored_checked: true,
    };
  } finally {
    await h.stopServer(server);
    h.removeDatabase(persistDir);
  }
}

export function webhookTable(w) {
  return [
    `Webhooks: ${w.deliveries} distinct signed deliveries (Standard Webhooks, one reading each) to a generic endpoint, ${w.concurrency} senders, closed loop; every delivery's record, run and reading checked in D1`,
    '',
    '| deliveries/s | p50 ms | p99 ms | D1 statements per delivery |',
    '| ---: | ---: | ---: | ---: |',
    `| ${w.per_s.toFixed(0)} | ${w.p50_ms.toFixed(1)} | ${w.p99_ms.toFixed(1)} | ${w.d1_statements ?? '-'} |`,
  ].join('\n');
}
