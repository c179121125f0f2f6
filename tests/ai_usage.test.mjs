// AI usage and spend through the built Worker: OpenAI and Anthropic Admin
// API reports (fakes speaking the documented shapes, paginated with
// has_more), synced per model and whole UTC day, exactly; an incremental
// sync asking only for the last days; 429s waited out.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { userClient } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';
import { anthropic, openai } from './fakes/keyed.mjs';
import { awayFromBoundary } from './helpers/clock.mjs';

const issuer = newIssuer();
const OPENAI_KEY = 'sk-admin-Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8';
const ANTHROPIC_KEY = 'sk-ant-admin01-Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8';
const DAY = 86400_000;
let worker, oai, ant;
const api = userClient(() => worker, issuer);

// The Worker cuts at its own UTC midnight: the file's days must not move
// under it while it runs.
await awayFromBoundary(DAY, 5 * 60_000);
const today = Math.floor(Date.now() / DAY) * DAY;
const dayKey = (n) => new Date(today - n * DAY).toISOString().slice(0, 10);

/** 50 days of usage for two models, deterministic; none today. */
function seed(fake, models) {
  for (let n = 1; n <= 50; n++) {
    fake.usage[dayKey(n)] = Object.fromEntries(
      models.map((m, i) => [m, { input: 1000 * ((n * 7 + i * 13) % 40) + 17, output: 100 * ((n * 3 + i) % 20) + 3, embedding: i === 0 ? 500 * n : 0, cost: ((n * 11 + i) % 30) / 100 }]),
    );
  }
  // Usage today exists at the provider, but today is not over.
  fake.usage[dayKey(0)] = Object.fromEntries(models.map((m) => [m, { input: 999, output: 9, cost: 0.01 }]));
}

before(async () => {
  oai = await openai({ adminKeys: [OPENAI_KEY] });
  ant = await anthropic({ adminKeys: [ANTHROPIC_KEY] });
  seed(oai, ['gpt-4o-mini-2024-07-18', 'gpt-4o-2024-08-06']);
  seed(ant, ['claude-sonnet-4-20250514', 'claude-3-5-haiku-20241022']);
  worker = await startWorker({ vars: workerVars(issuer, { OPENAI_API_BASE: oai.url, ANTHROPIC_API_BASE: ant.url }) });
});
after(async () => {
  await worker?.stop();
  await oai?.close();
  await ant?.close();
});

async function settle(id, runId, ms = 120_000) {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
    const run = await api('user_ai', 'GET', `/api/v1/datasources/${id}/sync-runs/${runId}`);
    if (['succeeded', 'partial', 'failed'].includes(run.body.status)) return run.body;
  }
  assert.fail('the run did not finish');
}

/** Every raw value of a datasource, all pages. */
async function values(id) {
  const out = [];
  for (let page = 1; ; page++) {
    const res = await api('user_ai', 'GET', `/api/v1/activity?datasource_id=${id}&per_page=1000&page=${page}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    out.push(...res.body.data);
    if (out.length >= res.body.pagination.total) return out;
  }
}

function expected(fake, pick) {
  const sums = {};
  for (let n = 1; n <= 50; n++) {
    for (const [model, u] of Object.entries(fake.usage[dayKey(n)])) {
      for (const [key, q] of pick(model, u)) sums[key] = (sums[key] ?? 0) + q;
    }
  }
  return sums;
}

function totals(vals) {
  const sums = {};
  for (const v of vals) {
    const key = `${v.activity_type}|${v.detail}|${v.unit}`;
    sums[key] = (sums[key] ?? 0) + v.quantity;
  }
  for (const k of Object.keys(sums)) sums[k] = Math.round(sums[k] * 1e6) / 1e6;
  return sums;
}

const round = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v * 1e6) / 1e6]));

for (const vendor of ['openai', 'anthropic']) {
  test(`${vendor}: a first sync stores daily tokens per model and daily spend, exactly, without today`, async () => {
    const fake = vendor === 'openai' ? oai : ant;
    const created = await api('user_ai', 'POST', '/api/v1/datasources', { integration_id: vendor, credentials: { admin_key: vendor === 'openai' ? OPENAI_KEY : ANTHROPIC_KEY } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    fake.throttleUsage = 1;
    const started = await api('user_ai', 'POST', `/api/v1/datasources/${id}/sync`);
    assert.equal(started.status, 202);
    const run = await settle(id, started.body.id);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    const got = totals(await values(id));
    const want = round(
      expected(fake, (model, u) =>
        vendor === 'openai'
          ? [
              [`ai_tokens|${model}|input_tokens`, u.input + (u.embedding || 0)],
              [`ai_tokens|${model}|output_tokens`, u.output],
              [`spend|${model}, input|USD`, u.cost],
            ]
          : [
              [`ai_tokens|${model}|input_tokens`, u.input],
              [`ai_tokens|${model}|output_tokens`, u.output],
              [`spend|${model} Usage - Input Tokens|USD`, u.cost],
            ],
      ),
    );
    // Zero-cost days still store a zero: compare the keys with a value.
    assert.deepEqual(got, want);
    const vals = await values(id);

    // Tokens are a Scope 3 estimate: Epoch AI's kWh per token (6e-7 out,
    // 2.2e-7 in) times the DESNZ grid factor of the day's edition. The
    // provider's cost is not counted again spend-based.
    const GRID = { 2025: 0.177, 2026: 0.13096 };
    const KWH = { output_tokens: 0.0000006, input_tokens: 0.00000022 };
    const est = vals.filter((v) => v.activity_type === 'ai_tokens').reduce((s, v) => s + v.quantity * KWH[v.unit] * GRID[Math.min(2026, new Date(v.period_start).getUTCFullYear())], 0);
    const from = new Date(today - 400 * DAY).toISOString().slice(0, 10);
    const t = (await api('user_ai', 'GET', `/api/v1/emissions/summary?datasource_id=${id}&from=${from}`)).body.totals;
    assert.ok(est > 0 && Math.abs(t.scope_3_estimated - est) <= est * 1e-9, `${t.scope_3_estimated} vs ${est}`);
    assert.equal(t.scope_3, t.scope_3_estimated);
    assert.equal(t.scope_3_spend_based, 0, 'the cost is the same usage: not counted twice');
    assert.ok(vals.every((v) => Date.parse(v.period_end) <= today), "today's bucket waits for tomorrow");
    assert.ok(vals.every((v) => Date.parse(v.period_end) - Date.parse(v.period_start) === DAY));
    // 396 days in pages of 31 buckets: 13 per report (the throttled call is not one).
    assert.equal(fake.usageRequests.length, (vendor === 'openai' ? 3 : 2) * 13);
    const ds = (await api('user_ai', 'GET', `/api/v1/datasources/${id}`)).body;
    assert.equal(ds.coverage.to, new Date(today - 0).toISOString().replace('.000', ''));

    // Late data for yesterday, and the incremental sync asks only for the last days.
    fake.usageRequests.length = 0;
    const model = Object.keys(fake.usage[dayKey(1)])[0];
    fake.usage[dayKey(1)][model].output += 5;
    const again = await api('user_ai', 'POST', `/api/v1/datasources/${id}/sync`);
    const second = await settle(id, again.body.id);
    assert.equal(second.status, 'succeeded');
    assert.equal(second.updated, 1, JSON.stringify(second));
    assert.equal(second.inserted, 0);
    assert.ok(fake.usageRequests.every((r) => r.from >= today - 3 * DAY), JSON.stringify(fake.usageRequests));
  });
}

test('exactly the five syncing providers are available, each saying what its sync yields', async () => {
  const res = await worker.fetch('/api/v1/integrations?status=available&per_page=100');
  const ids = (await res.json()).data.map((i) => i.id).sort();
  assert.deepEqual(ids, ['anthropic', 'enphase', 'octopus-energy', 'openai', 'xero']);
  const types = { anthropic: ['ai_tokens', 'spend'], enphase: ['solar_generation', 'electricity_consumption', 'electricity_import', 'electricity_export'], 'octopus-energy': ['electricity_import', 'electricity_export', 'gas'], openai: ['ai_tokens', 'spend'], xero: ['spend'] };
  for (const id of ids) {
    const detail = await (await worker.fetch(`/api/v1/integrations/${id}`)).json();
    assert.deepEqual(detail.syncs.activity_types, types[id], id);
    assert.equal(detail.granularity, detail.syncs.granularity, id);
    assert.equal(detail.history, detail.syncs.history, id);
  }
  const solaredge = await (await worker.fetch('/api/v1/integrations/solaredge')).json();
  assert.equal(solaredge.status, 'coming_soon');
  assert.equal(solaredge.syncs, undefined);
});
