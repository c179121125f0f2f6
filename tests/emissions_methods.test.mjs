// Emissions methods through the built Worker: location-based Scope 2 from
// the region's half-hourly grid intensity (the NESO Carbon Intensity API, a
// fake speaking its shapes) where every value of a day has one, with no T&D
// on top, against the DESNZ national factor; and recomputation: a pinned
// edition, a deploy with other factors, new intensity, each restating the
// lines it changes and keeping what they were.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { d1 } from './helpers/d1.mjs';
import { preciseSum } from './helpers/sum.mjs';
import { userClient } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';
import { octopus } from './fakes/keyed.mjs';
import { carbonIntensity } from './fakes/intensity.mjs';
import { flooredNow } from './helpers/clock.mjs';

const issuer = newIssuer();
const KEY = 'sk_live_Reg10nalKeyAbCdEf';
const MPAN = '1055544433322';
const HALF = 1800_000;
const DAY = 86400_000;
const REGION = 12; // the fake's grid supply point group _H
// DESNZ UK factors per kWh as published (typed apart from factors/).
const DESNZ = {
  2024: { gen: 0.20705, td: 0.0183, wttGen: 0.0459, wttTd: 0.00397 },
  2025: { gen: 0.177, td: 0.01853, wttGen: 0.0459, wttTd: 0.00397 },
  2026: { gen: 0.13096, td: 0.01299, wttGen: 0.03682, wttTd: 0.00359 },
};
const edition = (ms) => DESNZ[Math.min(2026, new Date(ms).getUTCFullYear())];
let worker, octo, ci;
const api = userClient(() => worker, issuer);
const now = flooredNow(HALF);
const FROM = new Date(now - 30 * DAY).toISOString().slice(0, 10);
const TO = new Date(now + DAY).toISOString().slice(0, 10);
let elec;

before(async () => {
  octo = await octopus({ accounts: { 'A-R1R2R3R4': { key: KEY, mpan: MPAN } } });
  elec = [];
  for (let t = now - 10 * DAY, i = 0; t < now - DAY; t += HALF, i++) elec.push([t, ((i * 7919) % 1500 + 1) / 1000]);
  octo.series[`electricity:${MPAN}`] = elec;
  ci = await carbonIntensity();
  worker = await startWorker({ vars: workerVars(issuer, { OCTOPUS_API_BASE: octo.url, CARBON_INTENSITY_API_BASE: ci.url }) });
});
after(async () => {
  await worker?.stop();
  await octo?.close();
  await ci?.close();
});

const sum = preciseSum;
const close = (got, want, what) => assert.ok(Math.abs(got - want) <= Math.abs(want) * 1e-9, `${what}: ${got} vs ${want}`);
const tick = async () => assert.equal((await worker.scheduled('*/15 * * * *')).status, 200);

async function connectAndSync(user, settings) {
  const created = await api(user, 'POST', '/api/v1/datasources', { integration_id: 'octopus-energy', credentials: { api_key: KEY, account_number: 'A-R1R2R3R4' }, settings });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const started = await api(user, 'POST', `/api/v1/datasources/${created.body.id}/sync`);
  for (const end = Date.now() + 90_000; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
    const run = (await api(user, 'GET', `/api/v1/datasources/${created.body.id}/sync-runs/${started.body.id}`)).body;
    if (run.status === 'succeeded') return created.body.id;
    assert.ok(!['failed', 'partial'].includes(run.status), JSON.stringify(run));
  }
  assert.fail('the run did not finish');
}

const totals = async (user) => (await api(user, 'GET', `/api/v1/emissions/summary?from=${FROM}&to=${TO}`)).body.totals;
const national = () => ({
  loc: sum(elec.map(([t, q]) => q * edition(t).gen)),
  s3: sum(elec.flatMap(([t, q]) => [q * edition(t).td, q * edition(t).wttGen, q * edition(t).wttTd])),
});

let idR, idN;
const days = () => new Set(elec.map(([t]) => Math.floor(t / DAY))).size;

test('the region\'s half-hourly intensity replaces the national factor for location-based Scope 2, with no T&D on top', async () => {
  idR = await connectAndSync('user_rg_r');
  idN = await connectAndSync('user_rg_n', { scope2_location: 'national' });
  // No intensity held yet: both are national.
  const want = national();
  for (const user of ['user_rg_r', 'user_rg_n']) {
    const t = await totals(user);
    close(t.scope_2_location, want.loc, `${user} before intensity`);
    close(t.scope_3, want.s3, `${user} scope 3 before intensity`);
  }
  // Two ticks backfill the region over the horizon; the refresh marks the
  // datasources with values there, and the same tick recomputes them.
  await tick();
  await tick();
  const [held] = d1(worker, `SELECT MIN(period_start) AS lo, MAX(period_start) AS hi FROM grid_intensity WHERE region = ${REGION}`);
  assert.ok(held.lo * 1000 <= elec[0][0] && held.hi * 1000 >= elec.at(-1)[0], 'every half-hour of the data has an intensity');
  const r = await totals('user_rg_r');
  const regional = sum(elec.map(([t, q]) => (q * ci.value(REGION, t)) / 1000));
  close(r.scope_2_location, regional, 'each half-hour times its own intensity');
  close(r.scope_2_market, want.loc, 'market-based is untouched (grid average, no instrument)');
  close(r.scope_3, sum(elec.flatMap(([t, q]) => [q * edition(t).wttGen, q * edition(t).wttTd])), 'well-to-tank stays; T&D is not added on top');
  const n = await totals('user_rg_n');
  close(n.scope_2_location, want.loc, 'a datasource that asks national stays national');
  close(n.scope_3, want.s3, 'with its T&D');

  // The lines say what they are, and what they were.
  const lines = (await api('user_rg_r', 'GET', `/api/v1/emissions?datasource_id=${idR}&from=${FROM}&to=${TO}&per_page=1000`)).body.data;
  const loc = lines.filter((l) => l.line === 's2_location');
  const td = lines.filter((l) => l.line === 's3_td_losses');
  assert.equal(loc.length, days(), 'one per UTC day of values');
  for (const l of loc) {
    assert.equal(l.factor_id, 'neso/regional_half_hourly');
    assert.match(l.factor_ref, /NESO Carbon Intensity API/);
    close(l.factor, l.kgco2e / l.quantity, 'the day\'s effective factor');
    const dayMs = Date.parse(`${l.day}T00:00:00Z`);
    const vals = elec.filter(([t]) => t >= dayMs && t < dayMs + DAY);
    close(l.kgco2e, sum(vals.map(([t, q]) => (q * ci.value(REGION, t)) / 1000)), `${l.day}`);
    close(l.previous_kgco2e, sum(vals.map(([t, q]) => q * edition(t).gen)), `${l.day} was national`);
    assert.ok(l.restated_at);
  }
  assert.ok(td.length === days() && td.every((l) => l.kgco2e === 0 && l.previous_kgco2e > 0 && /not added on top/.test(l.factor_ref)), JSON.stringify(td[0]));
  // Recomputed once: another tick with nothing new changes nothing.
  const before = d1(worker, 'SELECT COUNT(*) AS n, MAX(restated_at) AS last FROM emission_lines WHERE restated_at IS NOT NULL')[0];
  await tick();
  assert.deepEqual(d1(worker, 'SELECT COUNT(*) AS n, MAX(restated_at) AS last FROM emission_lines WHERE restated_at IS NOT NULL')[0], before);
});

test('pinning an edition recomputes every line at once, keeping what each was; bad settings are a 422 that changes nothing', async () => {
  const put = await api('user_rg_n', 'PUT', `/api/v1/datasources/${idN}`, { settings: { scope2_location: 'national', emission_factor_edition: 'desnz-2024' } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const t = await totals('user_rg_n');
  close(t.scope_2_location, sum(elec.map(([, q]) => q * DESNZ[2024].gen)), 'every value at the pinned edition');
  const lines = (await api('user_rg_n', 'GET', `/api/v1/emissions?datasource_id=${idN}&scope=2&from=${FROM}&to=${TO}&per_page=1000`)).body.data;
  assert.ok(lines.every((l) => l.edition === 'desnz-2024' && l.edition_choice === 'pinned' && l.restated_at), JSON.stringify(lines[0]));
  const loc = lines.find((l) => l.line === 's2_location');
  close(loc.previous_kgco2e, loc.quantity * edition(Date.parse(loc.day)).gen, 'what it was');

  const bad = await api('user_rg_n', 'PUT', `/api/v1/datasources/${idN}`, { settings: { emission_factor_edition: 'desnz-1999', scope2_location: 'moon' } });
  assert.equal(bad.status, 422, JSON.stringify(bad.body));
  assert.deepEqual(bad.body.errors.map((e) => e.field).sort(), ['settings.emission_factor_edition', 'settings.scope2_location']);
  close((await totals('user_rg_n')).scope_2_location, t.scope_2_location, 'nothing changed');

  const unpin = await api('user_rg_n', 'PUT', `/api/v1/datasources/${idN}`, { settings: { scope2_location: 'national' } });
  assert.equal(unpin.status, 200);
  close((await totals('user_rg_n')).scope_2_location, national().loc, 'back to each year\'s own edition');
});

test('a deploy with other factors or rules recomputes every datasource from the cron, restating only what moved', async () => {
  const want = await totals('user_rg_n');
  const [{ basis }] = d1(worker, `SELECT emissions_basis AS basis FROM datasources WHERE id = '${idR}'`);
  assert.match(basis, /^[0-9a-f]{16}$/);
  // What an older deploy would have left: other figures, another basis.
  const mine = `stream IN (SELECT id FROM activity_streams WHERE datasource_id = '${idN}')`;
  d1(worker, `UPDATE emission_lines SET restated_at = NULL, previous_kgco2e = NULL WHERE ${mine}`);
  d1(worker, `UPDATE emission_lines SET kgco2e = kgco2e * 1.25 WHERE line = 's2_location' AND ${mine}`);
  // And a line of a rule the new deploy no longer has.
  d1(worker, `INSERT INTO emission_lines (stream, day, line, factor, quantity, value_count, kgco2e) SELECT stream, day, 'retired_rule', factor, quantity, value_count, kgco2e FROM emission_lines WHERE line = 's2_location' AND ${mine} LIMIT 1`);
  d1(worker, `UPDATE datasources SET emissions_basis = 'an-older-deploy' WHERE id = '${idN}'`);
  const [retired] = d1(worker, `SELECT kgco2e FROM emission_lines WHERE line = 'retired_rule'`);
  close((await totals('user_rg_n')).scope_2_location, want.scope_2_location * 1.25 + retired.kgco2e, 'the stale figures, counting the retired line');
  await tick();
  const t = await totals('user_rg_n');
  for (const k of ['scope_2_location', 'scope_2_market', 'scope_3']) close(t[k], want[k], k);
  const moved = d1(worker, `SELECT line, kgco2e, previous_kgco2e FROM emission_lines WHERE restated_at IS NOT NULL AND ${mine}`);
  assert.equal(moved.length, days(), 'the location line of each day, nothing else');
  assert.ok(moved.every((m) => m.line === 's2_location' && Math.abs(m.previous_kgco2e - m.kgco2e * 1.25) < 1e-9 * m.previous_kgco2e));
  assert.equal(d1(worker, `SELECT emissions_basis AS b FROM datasources WHERE id = '${idN}'`)[0].b, basis, 'now under this deploy\'s basis');
  assert.equal(d1(worker, `SELECT COUNT(*) AS n FROM emission_lines WHERE line = 'retired_rule'`)[0].n, 0, 'a line no rule gives any more is gone');
});
