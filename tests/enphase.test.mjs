// Enphase through the built Worker: daily solar production per system from
// energy_lifetime (a fake speaking the documented v4 shapes and counting
// calls per app in fixed windows, as the plans do), and one call budget for
// the whole app: three customers due at once never take the app past its
// plan's limit, and the runs wait for the next window instead of failing.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { userClient } from './helpers/http.mjs';
import { connectOAuth } from './helpers/oauth.mjs';
import { startWorker } from './helpers/worker.mjs';
import { enphase } from './fakes/enphase.mjs';
import { awayFromBoundary, nextWindowAt } from './helpers/clock.mjs';

const issuer = newIssuer();
const DAY = 86400_000;
let worker, en;
const api = userClient(() => worker, issuer);
const LIMIT = { calls: 5, seconds: 5 };
// Production and meter days are cut at the Worker's UTC midnight: the
// file's days must not move under it while it runs.
await awayFromBoundary(DAY, 5 * 60_000);

before(async () => {
  en = await enphase({ clientId: 'enphase-client', clientSecret: 'enphase-secret-Do-Not-Leak', apiKey: 'enphase-app-key' });
  worker = await startWorker({
    vars: workerVars(issuer, {
      ENPHASE_CLIENT_ID: 'enphase-client',
      ENPHASE_CLIENT_SECRET: 'enphase-secret-Do-Not-Leak',
      ENPHASE_API_KEY: 'enphase-app-key',
      ENPHASE_AUTHORIZE_URL: `${en.url}/oauth/authorize`,
      ENPHASE_TOKEN_URL: `${en.url}/oauth/token`,
      ENPHASE_API_BASE: en.url,
      ENPHASE_RATE_LIMITS: `${LIMIT.calls}/${LIMIT.seconds}`,
    }),
  });
});
after(async () => {
  await worker?.stop();
  await en?.close();
});

/** 500 days of production up to and including today (UTC dates). */
function production(salt) {
  const today = Math.floor(Date.now() / DAY) * DAY;
  const start = today - 499 * DAY;
  return { start: new Date(start).toISOString().slice(0, 10), wh: Array.from({ length: 500 }, (_, i) => ((i * 37 + salt) % 90) * 250 + 11), today, startMs: start };
}

async function settle(user, id, runId, ms = 120_000) {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
    const run = await api(user, 'GET', `/api/v1/datasources/${id}/sync-runs/${runId}`);
    if (['succeeded', 'partial', 'failed'].includes(run.body.status)) return run.body;
  }
  assert.fail('the run did not finish');
}

test('three customers due at once share the app budget: the plan limit is never passed, every run succeeds', async () => {
  const users = ['user_en_a', 'user_en_b', 'user_en_c'];
  const ids = [];
  for (const user of users) ids.push(await connectOAuth(worker, api, user, 'enphase'));
  const systems = [];
  for (const [i, user] of users.entries()) {
    const ds = (await api(user, 'GET', `/api/v1/datasources/${ids[i]}`)).body;
    assert.equal(ds.status, 'active');
    const system = ds.provider.systems[0].system_id;
    systems.push(system);
    en.production[system] = production(i * 11);
  }
  // Connecting probed the API; count the sync's calls from a fresh window on.
  await nextWindowAt(LIMIT.seconds * 1000, 50);
  en.windows = {};
  en.windowSystems = {};
  en.limit = LIMIT;

  assert.equal((await worker.scheduled('*/15 * * * *')).status, 200);
  for (const [i, user] of users.entries()) {
    const runs = (await api(user, 'GET', `/api/v1/datasources/${ids[i]}/sync-runs`)).body.data;
    assert.equal(runs.length, 1, 'the cron queued every due datasource');
    const run = await settle(user, ids[i], runs[0].id);
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.attempts, 0, 'waiting for the budget is not a failure');
  }
  assert.equal(en.rejected, 0, 'the provider never had to refuse a call');
  const perWindow = Object.values(en.windows);
  assert.ok(perWindow.every((n) => n <= LIMIT.calls), JSON.stringify(en.windows));
  // Twelve calls are needed (systems, devices and two production pages per
  // customer) at five a window. Slices take half a window and give back
  // what they do not send, so customers share windows (a slice taking the
  // whole window would leave every window to one customer); a discovery
  // cut short by its share is repeated at most once per customer.
  const calls = perWindow.reduce((a, b) => a + b, 0);
  assert.ok(calls >= 12 && calls <= 15, JSON.stringify(en.windows));
  assert.ok(perWindow.length <= 5, `calls per window: ${JSON.stringify(en.windows)}`);
  const shared = Object.values(en.windowSystems).filter((s) => s.size >= 2).length;
  assert.ok(shared >= 1, `no window served two customers: ${JSON.stringify(Object.values(en.windowSystems).map((s) => [...s]))}`);

  // Exact daily production, in kWh: the horizon's days (396) up to yesterday.
  for (const [i, user] of users.entries()) {
    const p = en.production[systems[i]];
    const from = new Date(p.today - 400 * DAY).toISOString().slice(0, 10);
    const to = new Date(p.today + DAY).toISOString().slice(0, 10);
    const vals = (await api(user, 'GET', `/api/v1/activity?datasource_id=${ids[i]}&from=${from}&to=${to}&per_page=1000`)).body.data;
    const held = p.wh.filter((_, d) => p.startMs + d * DAY >= p.today - 396 * DAY && p.startMs + d * DAY < p.today);
    assert.equal(vals.length, held.length);
    const got = vals.reduce((s, v) => s + v.quantity, 0);
    const want = held.reduce((s, w) => s + w / 1000, 0);
    assert.ok(vals.every((v) => v.activity_type === 'solar_generation' && v.unit === 'kWh'));
    assert.ok(Math.abs(got - want) < 1e-6, `${got} vs ${want}`);
    assert.match(vals[0].conversion.day_boundary, /Europe\/London/);
  }
  const catalog = await (await worker.fetch('/api/v1/integrations/enphase')).json();
  assert.equal(catalog.status, 'available');
});

test('a provider 429 (quota, with period_end) is waited out until the period ends, without failing the run', async () => {
  en.limit = null;
  const id = await connectOAuth(worker, api, 'user_en_d', 'enphase');
  const ds = (await api('user_en_d', 'GET', `/api/v1/datasources/${id}`)).body;
  en.production[ds.provider.systems[0].system_id] = production(5);
  // Something else spent this window (the connection's own probe, another
  // tool on the same app): the fake refuses at once.
  en.limit = LIMIT;
  const now = Math.floor(Date.now() / 1000);
  en.windows[now - (now % LIMIT.seconds)] = LIMIT.calls;
  const rejectedBefore = en.rejected;
  const started = await api('user_en_d', 'POST', `/api/v1/datasources/${id}/sync`);
  assert.equal(started.status, 202);
  const run = await settle('user_en_d', id, started.body.id);
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  assert.ok(en.rejected - rejectedBefore <= 1, 'one refusal closes the budget; no call is sent until the period ends');
});

test('a system with a consumption meter also syncs consumption, grid import and export in quarter hours, a week per call', async () => {
  en.limit = null;
  const user = 'user_en_m';
  const id = await connectOAuth(worker, api, user, 'enphase');
  const system = (await api(user, 'GET', `/api/v1/datasources/${id}`)).body.provider.systems[0].system_id;
  en.production[system] = production(9);
  const today = Math.floor(Date.now() / DAY) * DAY;
  // The meter first reported five days ago: earlier starts are moved to it.
  const first = (today - 5 * DAY) / 1000;
  en.meters[system] = { first };
  const put = await api(user, 'PUT', `/api/v1/datasources/${id}`, { settings: { sync_horizon_days: 10 } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  en.telemetryCalls.length = 0;
  const started = await api(user, 'POST', `/api/v1/datasources/${id}/sync`);
  const run = await settle(user, id, started.body.id);
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  // The horizon starts ten days back; the meter's first report, five: the
  // first answer starts there (the API moves the start), so one call of a
  // week covers each meter stream, without walking the empty days before.
  assert.equal(en.telemetryCalls.length, 3, JSON.stringify(en.telemetryCalls));

  const from = new Date(today - 12 * DAY).toISOString().slice(0, 10);
  const to = new Date(today + DAY).toISOString().slice(0, 10);
  for (const [type, kind] of [['electricity_consumption', 'consumption'], ['electricity_import', 'import'], ['electricity_export', 'export']]) {
    const vals = (await api(user, 'GET', `/api/v1/activity?datasource_id=${id}&activity_type=${type}&from=${from}&to=${to}&per_page=1000`)).body.data;
    // Whole UTC days only, up to today's midnight: 5 days of 96 quarter hours.
    const ends = [];
    for (let e = first + 900; e <= today / 1000; e += 900) ends.push(e);
    assert.equal(vals.length, ends.length, `${type}: ${vals.length} values`);
    assert.ok(vals.every((v) => v.unit === 'kWh' && v.reference === `enphase:${system}:${kind}`));
    const want = ends.reduce((s, e) => s + en.wh(kind, e) / 1000, 0);
    const got = vals.reduce((s, v) => s + v.quantity, 0);
    assert.ok(Math.abs(got - want) < 1e-6, `${type}: ${got} vs ${want}`);
  }
  const view = (await api(user, 'GET', `/api/v1/datasources/${id}`)).body;
  assert.deepEqual(view.streams.map((s) => s.stream ?? s.key ?? s.id).length, 4, JSON.stringify(view.streams));

  // Emissions: grid import is Scope 2 and 3; exports and the site's total
  // consumption give nothing (never negative); generation is avoided
  // emissions, reported apart and never netted.
  const GEN = { 2025: [0.177, 0.01853 + 0.0459 + 0.00397], 2026: [0.13096, 0.01299 + 0.03682 + 0.00359] };
  const f = (v) => GEN[Math.min(2026, new Date(v.period_start).getUTCFullYear())];
  const all = [];
  for (let page = 1; ; page++) {
    const res = (await api(user, 'GET', `/api/v1/activity?datasource_id=${id}&from=${from}&to=${to}&per_page=1000&page=${page}`)).body;
    all.push(...res.data);
    if (all.length >= res.pagination.total) break;
  }
  const of = (type, i) => all.filter((v) => v.activity_type === type).reduce((s, v) => s + v.quantity * f(v)[i], 0);
  const t = (await api(user, 'GET', `/api/v1/emissions/summary?from=${from}&to=${to}&group_by=scope`)).body;
  const near = (got, want, what) => assert.ok(want > 0 && Math.abs(got - want) <= want * 1e-9, `${what}: ${got} vs ${want}`);
  near(t.totals.scope_2_location, of('electricity_import', 0), 'import, location-based');
  near(t.totals.scope_3, of('electricity_import', 1), 'import, T&D and well-to-tank');
  near(t.totals.avoided, of('solar_generation', 0), 'generation, avoided');
  near(t.totals.total, t.totals.scope_2_location + t.totals.scope_3, 'the total never nets the avoided');
  assert.deepEqual(t.data.map((g) => g.group), ['avoided', 'scope_2', 'scope_3']);
  const lines = (await api(user, 'GET', `/api/v1/emissions?datasource_id=${id}&from=${from}&to=${to}&per_page=1000`)).body.data;
  assert.ok(!lines.some((l) => ['electricity_export', 'electricity_consumption'].includes(l.activity_type)), 'no line for exports or consumption');
  assert.ok(lines.filter((l) => l.activity_type === 'solar_generation').every((l) => l.scope === 0 && l.method === 'avoided'));
});

test('connection checks draw from the same app budget: past the plan limit a check is refused without calling Enphase', async () => {
  en.limit = null;
  // Three customers (the API's own limiter allows a user five checks a minute).
  const users = ['user_en_p', 'user_en_q', 'user_en_r'];
  const ids = [];
  for (const user of users) ids.push(await connectOAuth(worker, api, user, 'enphase'));
  await nextWindowAt(LIMIT.seconds * 1000, 50);
  en.windows = {};
  en.limit = LIMIT;
  const rejected = en.rejected;
  // Twelve checks: more than two windows hold, however slowly they run.
  const checks = await Promise.all(Array.from({ length: 12 }, (_, i) => api(users[i % 3], 'POST', `/api/v1/datasources/${ids[i % 3]}/check`)));
  en.limit = null;
  const refused = checks.filter((c) => c.status === 503);
  assert.equal(en.rejected, rejected, `the provider never refused a probe: ${JSON.stringify(en.windows)}`);
  assert.ok(Object.values(en.windows).every((n) => n <= LIMIT.calls), JSON.stringify(en.windows));
  assert.ok(refused.length >= 2, checks.map((c) => c.status).join(','));
  assert.match(refused[0].body.detail, /shared call allowance .* spent; try again in \d+ seconds/);
});

test('a check granted in its window\'s last moment waits for the next window, where it is counted', async () => {
  en.limit = null;
  const users = ['user_en_s', 'user_en_t'];
  const ids = [];
  for (const user of users) ids.push(await connectOAuth(worker, api, user, 'enphase'));
  // A call takes 400 ms to reach Enphase, and the check starts 300 ms
  // before a window turns (inside the Worker's margin, a tenth of the
  // window): granted at once and sent, the probe would reach Enphase in
  // the next window, where the budget has not counted it.
  await nextWindowAt(LIMIT.seconds * 1000, LIMIT.seconds * 1000 - 300);
  en.windows = {};
  en.limit = LIMIT;
  en.transitMs = 400;
  const rejected = en.rejected;
  const first = await api(users[0], 'POST', `/api/v1/datasources/${ids[0]}/check`);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  // The window it reached Enphase in holds it: a full window's worth more
  // leaves one refused by the budget, none by Enphase.
  const more = await Promise.all(Array.from({ length: LIMIT.calls }, (_, i) => api(users[1 - (i % 2)], 'POST', `/api/v1/datasources/${ids[1 - (i % 2)]}/check`)));
  en.limit = null;
  en.transitMs = 0;
  assert.equal(en.rejected, rejected, `the provider never refused a probe: ${JSON.stringify(en.windows)}`);
  assert.deepEqual(Object.values(en.windows), [LIMIT.calls], JSON.stringify(en.windows));
  assert.equal(more.filter((c) => c.status === 503).length, 1, more.map((c) => c.status).join(','));
});
