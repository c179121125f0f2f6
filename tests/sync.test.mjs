// The sync engine through the built Worker: a manual sync queued on the
// local Queue, consumed slice by slice, Octopus half-hourly data for both
// meters across many pages with exact totals, raw pages kept, throttling
// waited out, a failed page resumed, a corrected reading restated, one run
// at a time per datasource, the cron queueing due datasources, pausing and
// resuming, and the activity API summing UK days across the clock changes.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { d1 } from './helpers/d1.mjs';
import { userClient } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';
import { octopus } from './fakes/keyed.mjs';
import { flooredNow } from './helpers/clock.mjs';

const issuer = newIssuer();
const KEY = 'sk_live_Aa1Bb2Cc3Dd4Ee5Ff6Gg';
const MPAN = '1012345678901';
const MPRN = '1234567890';
const HALF_HOUR = 1800_000;
let worker, octo;
const api = userClient(() => worker, issuer);

/** Half-hourly values from `from` to `to` (ms), deterministic. */
function series(from, to, salt) {
  const out = [];
  for (let t = from, i = 0; t < to; t += HALF_HOUR, i++) out.push([t, Math.round(((i * 7919 + salt) % 2000) + 1) / 1000]);
  return out;
}

const day = (iso) => Date.parse(`${iso}T00:00:00Z`);
const now = flooredNow(HALF_HOUR);

before(async () => {
  octo = await octopus({ accounts: { 'A-1B2C3D4E': { key: KEY, mpan: MPAN } } });
  // A year and a fortnight of electricity (so both clock changes fall well
  // inside it whatever today is; the horizon is 396 days) and two months of
  // gas, in pages of 1,000 intervals.
  octo.series[`electricity:${MPAN}`] = series(now - 380 * 86400_000, now - 86400_000, 1);
  octo.series[`gas:${MPRN}`] = series(now - 60 * 86400_000, now - 2 * 86400_000, 2);
  octo.pageCap = 1000;
  worker = await startWorker({ vars: workerVars(issuer, { OCTOPUS_API_BASE: octo.url }) });
});
after(async () => {
  await worker?.stop();
  await octo?.close();
});

async function settle(id, runId, ms = 60_000, user = 'user_sync') {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
    const run = await api(user, 'GET', `/api/v1/datasources/${id}/sync-runs/${runId}`);
    if (['succeeded', 'partial', 'failed'].includes(run.body.status)) return run.body;
  }
  assert.fail('the run did not finish');
}

const sum = (rows) => rows.reduce((s, [, v]) => s + v, 0);

let id;
test('a manual sync stores a year of half-hourly electricity and gas in m3 as kWh, exactly', async () => {
  const created = await api('user_sync', 'POST', '/api/v1/datasources', { integration_id: 'octopus-energy', credentials: { api_key: KEY, account_number: 'A-1B2C3D4E' } });
  assert.equal(created.status, 201);
  id = created.body.id;
  octo.throttleConsumption = 1; // the first consumption call is throttled
  const started = await api('user_sync', 'POST', `/api/v1/datasources/${id}/sync`);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  assert.equal(started.body.status, 'queued');
  assert.equal(started.headers.get('location'), `/api/v1/datasources/${id}/sync-runs/${started.body.id}`);
  const again = await api('user_sync', 'POST', `/api/v1/datasources/${id}/sync`);
  assert.equal(again.status, 409);
  assert.match(again.body.detail, new RegExp(started.body.id));

  const run = await settle(id, started.body.id);
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  const elec = octo.series[`electricity:${MPAN}`];
  const gas = octo.series[`gas:${MPRN}`];
  assert.equal(run.inserted, elec.length + gas.length);
  assert.ok(run.pages >= 18, `${run.pages} pages`);

  const [e] = d1(worker, `SELECT COUNT(*) AS n, SUM(quantity) AS kwh, MIN(period_start) AS first, COUNT(DISTINCT raw_sha256) AS pages, MAX(region) AS region FROM activity_data WHERE datasource_id = '${id}' AND activity_type = 'electricity_import'`);
  assert.equal(e.n, elec.length);
  assert.ok(Math.abs(e.kwh - sum(elec)) < 1e-6, `${e.kwh} vs ${sum(elec)}`);
  assert.equal(e.first, new Date(elec[0][0]).toISOString().replace('.000', ''));
  assert.equal(e.region, '12', 'GSP _H is NESO region 12 (South England)');
  const [g] = d1(worker, `SELECT COUNT(*) AS n, SUM(quantity) AS kwh, MAX(conversion) AS conversion FROM activity_data WHERE datasource_id = '${id}' AND activity_type = 'gas'`);
  assert.equal(g.n, gas.length);
  assert.ok(Math.abs(g.kwh - (sum(gas) * 1.02264 * 39.5) / 3.6) < 1e-6);
  assert.match(g.conversion, /"volume_correction":1.02264/);

  const ds = (await api('user_sync', 'GET', `/api/v1/datasources/${id}`)).body;
  assert.equal(ds.sync_state, 'idle');
  assert.ok(ds.last_synced_at);
  assert.ok(Date.parse(ds.next_sync_at) > Date.now() + 23 * 3600_000, 'the next daily sync is scheduled');
});

test('a corrected reading is restated on the next incremental sync, and nothing else is rewritten', async () => {
  const elec = octo.series[`electricity:${MPAN}`];
  const last = elec.at(-1);
  last[1] = 9.999;
  const before = octo.consumptionCalls;
  const started = await api('user_sync', 'POST', `/api/v1/datasources/${id}/sync`);
  const run = await settle(id, started.body.id);
  assert.equal(run.status, 'succeeded');
  assert.equal(run.updated, 1);
  assert.equal(run.inserted, 0);
  assert.equal(octo.consumptionCalls - before, 2, 'one page per meter: only the lookback is re-read');
  const [row] = d1(worker, `SELECT quantity, previous_quantity, restated_at FROM activity_data WHERE datasource_id = '${id}' AND activity_type = 'electricity_import' ORDER BY period_start DESC LIMIT 1`);
  assert.equal(row.quantity, 9.999);
  assert.notEqual(row.previous_quantity, null);
  assert.ok(row.restated_at);
});

test('a page that fails mid-sync is retried and the run resumes with nothing missing or doubled', async () => {
  octo.failPage = octo.consumptionCalls + 3;
  const started = await api('user_sync', 'POST', `/api/v1/datasources/${id}/sync`, { mode: 'full' });
  assert.equal(started.status, 202);
  // While the run waits to retry, the failing stream says why.
  let failing;
  for (const end = Date.now() + 30_000; !failing && Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
    failing = (await api('user_sync', 'GET', `/api/v1/datasources/${id}`)).body.streams.find((st) => st.last_error);
  }
  assert.ok(failing, 'a stream shows its last error');
  assert.match(failing.last_error, /Server error/);
  const run = await settle(id, started.body.id, 120_000);
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  assert.equal(run.inserted, 0);
  const [e] = d1(worker, `SELECT COUNT(*) AS n, COUNT(DISTINCT period_start) AS distinct_starts FROM activity_data WHERE datasource_id = '${id}' AND activity_type = 'electricity_import'`);
  assert.equal(e.n, octo.series[`electricity:${MPAN}`].length);
  assert.equal(e.distinct_starts, e.n);
  const runs = (await api('user_sync', 'GET', `/api/v1/datasources/${id}/sync-runs`)).body;
  assert.equal(runs.pagination.total, 3);
  assert.equal(runs.data[0].id, started.body.id, 'newest first');
  const streams = (await api('user_sync', 'GET', `/api/v1/datasources/${id}`)).body.streams;
  assert.deepEqual(streams.map((st) => [st.kind, st.last_error]).sort(), [['electricity', null], ['gas', null]]);
  assert.ok(streams.every((st) => st.first_period && st.last_period));
});

/** The UTC instants of UK midnight on the spring and autumn clock-change days of `year`. */
function clockChangeDays(year) {
  const lastSunday = (month) => {
    const end = new Date(Date.UTC(year, month + 1, 0));
    return new Date(Date.UTC(year, month, end.getUTCDate() - end.getUTCDay()));
  };
  return [lastSunday(2), lastSunday(9)].map((d) => d.toISOString().slice(0, 10));
}

test('the activity API sums the synced year by UK day: 46 and 50 half-hours on the clock-change days', async () => {
  const elec = octo.series[`electricity:${MPAN}`];
  const from = new Date(elec[0][0] + 2 * 86400_000).toISOString().slice(0, 10);
  const to = new Date(elec.at(-1)[0] - 86400_000).toISOString().slice(0, 10);
  const years = [];
  for (let y = Number(from.slice(0, 4)); y <= Number(to.slice(0, 4)); y++) years.push(y);
  const changes = years.flatMap(clockChangeDays).filter((d) => d > from && d < to);
  assert.ok(changes.length >= 2, `a year holds both changes: ${changes}`);
  const q = `datasource_id=${id}&activity_type=electricity_import&granularity=day&tz=Europe/London&from=${from}&to=${to}&per_page=400`;
  const res = await api('user_sync', 'GET', `/api/v1/activity?${q}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const byDay = Object.fromEntries(res.body.data.map((b) => [b.period, b]));
  const counts = changes.map((d) => byDay[d].records);
  for (const [day, n] of changes.map((d, i) => [d, counts[i]])) {
    assert.equal(n, day.slice(5, 7) === '03' ? 46 : 50, `${day} has ${n} half-hours`);
  }
  // The sums are the provider's, to the last digit.
  const want = (day) => {
    const [start, end] = [byDay[day].period_start, byDay[day].period_end].map(Date.parse);
    return elec.filter(([t]) => t >= start && t < end).reduce((s, [, v]) => s + v, 0);
  };
  for (const day of changes) assert.ok(Math.abs(byDay[day].quantity - want(day)) < 1e-9, day);
  const raw = (await api('user_sync', 'GET', `/api/v1/activity?datasource_id=${id}&activity_type=electricity_import&from=${from}&to=${to}&per_page=3`)).body;
  assert.equal(raw.pagination.total, res.body.data.reduce((n, b) => n + b.records, 0));
  const [v] = raw.data;
  assert.match(v.reference, new RegExp(MPAN), 'the meter it came from');
  assert.deepEqual([v.tariff, v.region, v.estimated], ['E-1R-AGILE-24-10-01-C', '12', false]);
  assert.match(v.raw_sha256, /^[0-9a-f]{64}$/);
  assert.equal(Date.parse(v.period_end) - Date.parse(v.period_start), HALF_HOUR);
  const ds = (await api('user_sync', 'GET', `/api/v1/datasources/${id}`)).body;
  assert.equal(ds.coverage.from, new Date(Math.min(elec[0][0], octo.series[`gas:${MPRN}`][0][0])).toISOString().replace('.000', ''));
  assert.equal(ds.last_run.status, 'succeeded');
  // The list shapes each row in SQLite, the newest run nested as an object:
  // it reads the same (a datasource with a run once made the list a 500).
  const listed = (await api('user_sync', 'GET', '/api/v1/datasources')).body.data.find((d) => d.id === id);
  assert.deepEqual(listed.last_run, ds.last_run);
  assert.deepEqual(listed.coverage, ds.coverage);
});

test('the cron queues a due datasource; a manual sync meanwhile is refused, naming the scheduled run', async () => {
  const created = await api('user_cron', 'POST', '/api/v1/datasources', { integration_id: 'octopus-energy', credentials: { api_key: KEY, account_number: 'A-1B2C3D4E' } });
  assert.equal(created.status, 201);
  const cronId = created.body.id;
  // The scheduled run is held at the provider until the checks are done.
  let release;
  octo.delayFor[KEY] = new Promise((r) => (release = r));
  const runs = async () => (await api('user_cron', 'GET', `/api/v1/datasources/${cronId}/sync-runs`)).body.data;
  assert.equal((await worker.scheduled('*/15 * * * *')).status, 200);
  const [scheduled] = await runs();
  assert.equal(scheduled.trigger, 'scheduled');
  const manual = await api('user_cron', 'POST', `/api/v1/datasources/${cronId}/sync`);
  assert.equal(manual.status, 409);
  assert.match(manual.body.detail, new RegExp(scheduled.id));
  // A second tick while it runs queues nothing more.
  assert.equal((await worker.scheduled('*/15 * * * *')).status, 200);
  const held = await runs();
  assert.equal(held.length, 1);
  assert.ok(['queued', 'running'].includes(held[0].status), 'held at the provider all along');
  delete octo.delayFor[KEY];
  release();
  const run = await settle(cronId, scheduled.id, 120_000, 'user_cron');
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  assert.equal(run.inserted, octo.series[`electricity:${MPAN}`].length + octo.series[`gas:${MPRN}`].length);
  const ds = (await api('user_cron', 'GET', `/api/v1/datasources/${cronId}`)).body;
  assert.ok(Date.parse(ds.next_sync_at) > Date.now() + 23 * 3600_000);
  // Not due again: the next tick leaves it alone.
  assert.equal((await worker.scheduled('*/15 * * * *')).status, 200);
  assert.equal(d1(worker, `SELECT COUNT(*) AS n FROM sync_runs WHERE datasource_id = '${cronId}'`)[0].n, 1);
});

test('a paused datasource shows why, and resumes when the user re-enables it', async () => {
  d1(worker, `UPDATE datasources SET sync_state = 'paused', paused_reason = 'paused after 10 failed syncs in a row', sync_failures = 10, next_sync_at = '2099-01-01T00:00:00Z' WHERE id = '${id}'`);
  const paused = (await api('user_sync', 'GET', `/api/v1/datasources/${id}`)).body;
  assert.equal(paused.sync_state, 'paused');
  assert.match(paused.paused_reason, /10 failed syncs/);
  const resumed = await api('user_sync', 'PUT', `/api/v1/datasources/${id}`, { enabled: true });
  assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
  assert.equal(resumed.body.sync_state, 'idle');
  assert.equal(resumed.body.paused_reason, null);
  assert.equal(resumed.body.next_sync_at, null, 'due at once');
  assert.equal((await worker.scheduled('*/15 * * * *')).status, 200);
  const [queued] = d1(worker, `SELECT id FROM sync_runs WHERE datasource_id = '${id}' AND trigger = 'scheduled'`);
  assert.ok(queued, 'the next tick queues it');
  assert.equal((await settle(id, queued.id, 120_000)).status, 'succeeded');
});
