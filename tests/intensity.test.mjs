// GB regional grid intensity through the built Worker: the sync cron fetches
// the NESO Carbon Intensity API (a fake speaking its real shapes) for every
// region a connected meter is in, once per region however many customers
// are there, backfilled over the horizon in 14-day windows across a few
// ticks, then kept current with revised forecasts replacing old ones.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { d1 } from './helpers/d1.mjs';
import { userClient } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';
import { carbonIntensity } from './fakes/intensity.mjs';

const issuer = newIssuer();
const HALF = 1800_000;
let worker, ci;
const api = userClient(() => worker, issuer);

before(async () => {
  ci = await carbonIntensity();
  worker = await startWorker({ vars: workerVars(issuer, { CARBON_INTENSITY_API_BASE: ci.url }) });
});
after(async () => {
  await worker?.stop();
  await ci?.close();
});

/** A user with an uploaded electricity bill for a meter in `region`. */
async function customer(user, region) {
  const created = await api(user, 'POST', '/api/v1/datasources', { integration_id: 'british-gas' });
  assert.equal(created.status, 201);
  const csv = `start,end,quantity,unit,reference,region\n2026-01-01,2026-01-31,1000,kWh,MPAN-${user},${region}\n`;
  const res = await worker.fetch(`/api/v1/datasources/${created.body.id}/uploads?type=electricity`, {
    method: 'POST',
    headers: { authorization: `Bearer ${issuer.token(user)}`, 'content-type': 'text/csv' },
    body: csv,
  });
  assert.equal(res.status, 201, await res.text());
}

const tick = async () => assert.equal((await worker.scheduled('*/15 * * * *')).status, 200);

test('two customers in one region: intensity is fetched and stored once per half-hour, backfilled over ticks', async () => {
  await customer('user_ci_a', 12);
  await customer('user_ci_b', 12);
  await tick();
  assert.equal(ci.calls.length, 16, 'one refresh spends its budget of 16 windows');
  assert.ok(ci.calls.every((c) => c.region === 12), 'one region, asked once, whoever is in it');
  assert.ok(ci.calls.every((c) => c.to - c.from <= 14 * 86400_000));
  await tick();
  const backfill = ci.calls.length;
  assert.equal(backfill, 29, 'the horizon and two days ahead in 14-day windows');
  const first = ci.calls[0].from;
  const last = ci.calls.at(-1).to;
  const [row] = d1(worker, 'SELECT COUNT(*) AS n, COUNT(DISTINCT period_start) AS d, MIN(period_start) AS lo, MAX(period_start) AS hi, COUNT(DISTINCT region) AS regions FROM grid_intensity');
  assert.equal(row.n, (last - first) / HALF, 'every half-hour once, the boundary period dropped');
  assert.equal(row.d, row.n);
  assert.equal(row.regions, 1);
  assert.equal(row.lo * 1000, first);
  // The stored figure is the API's.
  const t = first + 100 * HALF;
  const [p] = d1(worker, `SELECT forecast, index_label FROM grid_intensity WHERE region = 12 AND period_start = ${t / 1000}`);
  assert.equal(p.forecast, ci.value(12, t));
});

test('each tick re-reads the last day and the next two; a revised forecast replaces the stored one', async () => {
  const now = Date.now();
  const recent = Math.floor((now - 6 * 3600_000) / HALF) * HALF;
  ci.revise[`12:${recent}`] = 333;
  ci.calls.length = 0;
  await tick();
  assert.equal(ci.calls.length, 1, 'up to date: one window');
  assert.ok(ci.calls[0].from <= now - 23 * 3600_000 && ci.calls[0].to >= now + 47 * 3600_000, JSON.stringify(ci.calls[0]));
  const [p] = d1(worker, `SELECT forecast, index_label FROM grid_intensity WHERE region = 12 AND period_start = ${recent / 1000}`);
  assert.deepEqual([p.forecast, p.index_label], [333, 'high']);
  const [r] = d1(worker, 'SELECT cursor, last_error FROM grid_regions WHERE region = 12');
  assert.equal(r.last_error, null);
});
