// Emissions through the built Worker: a year of Octopus half-hourly
// electricity (spanning two reporting years) and two months of gas, synced
// and turned into emission lines in the same writes; the summary equals
// the published factors times the stored values, both Scope 2 methods side
// by side (a REGO-backed tariff is zero market-based, unchanged
// location-based), and a corrected reading restates its lines.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { d1 } from './helpers/d1.mjs';
import { preciseSum } from './helpers/sum.mjs';
import { userClient } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';
import { octopus } from './fakes/keyed.mjs';
import { flooredNow } from './helpers/clock.mjs';

const issuer = newIssuer();
const KEY = 'sk_live_Em1ss10nsKeyAbCdEf';
const MPAN = '1099887766554';
const MPRN = '1234567890'; // the fake account's gas meter
const HALF_HOUR = 1800_000;
const DAY = 86400_000;
let worker, octo;
const api = userClient(() => worker, issuer);

// DESNZ UK factors, kg CO2e per kWh, as published (typed here apart from
// factors/desnz.toml): generation, T&D, WTT generation, WTT T&D, gas
// (gross CV), gas WTT.
const DESNZ = {
  2025: { gen: 0.177, td: 0.01853, wttGen: 0.0459, wttTd: 0.00397, gas: 0.18296, gasWtt: 0.03021 },
  2026: { gen: 0.13096, td: 0.01299, wttGen: 0.03682, wttTd: 0.00359, gas: 0.18231, gasWtt: 0.03021 },
};
// A reporting year takes the latest edition not after it: 2026's until
// DESNZ publishes 2027's.
const editionYear = (ms) => Math.min(2026, new Date(ms).getUTCFullYear());
const desnz = (ms) => DESNZ[editionYear(ms)];

function series(from, to, salt) {
  const out = [];
  for (let t = from, i = 0; t < to; t += HALF_HOUR, i++) out.push([t, Math.round(((i * 7919 + salt) % 2000) + 1) / 1000]);
  return out;
}
const now = flooredNow(HALF_HOUR);
const FROM = new Date(now - 400 * DAY).toISOString().slice(0, 10);
const TO = new Date(now + DAY).toISOString().slice(0, 10);

before(async () => {
  octo = await octopus({ accounts: { 'A-E1E2E3E4': { key: KEY, mpan: MPAN } } });
  octo.series[`electricity:${MPAN}`] = series(now - 365 * DAY, now - DAY, 3);
  octo.series[`gas:${MPRN}`] = series(now - 60 * DAY, now - 2 * DAY, 4);
  worker = await startWorker({ vars: workerVars(issuer, { OCTOPUS_API_BASE: octo.url }) });
});
after(async () => {
  await worker?.stop();
  await octo?.close();
});

async function settle(user, id, runId) {
  for (const end = Date.now() + 90_000; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
    const run = await api(user, 'GET', `/api/v1/datasources/${id}/sync-runs/${runId}`);
    if (['succeeded', 'partial', 'failed'].includes(run.body.status)) return run.body;
  }
  assert.fail('the run did not finish');
}

async function connectAndSync(user, settings) {
  const created = await api(user, 'POST', '/api/v1/datasources', { integration_id: 'octopus-energy', credentials: { api_key: KEY, account_number: 'A-E1E2E3E4' }, settings });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const started = await api(user, 'POST', `/api/v1/datasources/${created.body.id}/sync`);
  const run = await settle(user, created.body.id, started.body.id);
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  return created.body.id;
}

/** Every stored value of a user's datasource. */
async function values(user, id) {
  const out = [];
  for (let page = 1; ; page++) {
    const res = await api(user, 'GET', `/api/v1/activity?datasource_id=${id}&from=${FROM}&to=${TO}&per_page=1000&page=${page}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    out.push(...res.body.data);
    if (out.length >= res.body.pagination.total) return out;
  }
}

/** What the published factors give for those values, summed carefully. */
function expected(vals, market) {
  const acc = { scope_1: [], scope_2_location: [], scope_2_market: [], scope_3: [] };
  for (const v of vals) {
    const f = desnz(Date.parse(v.period_start));
    if (v.activity_type === 'electricity_import') {
      acc.scope_2_location.push(v.quantity * f.gen);
      acc.scope_2_market.push(market === 'rego' ? 0 : v.quantity * f.gen);
      acc.scope_3.push(v.quantity * f.td, v.quantity * f.wttGen, v.quantity * f.wttTd);
    } else if (v.activity_type === 'gas') {
      assert.equal(v.unit, 'kWh');
      acc.scope_1.push(v.quantity * f.gas);
      acc.scope_3.push(v.quantity * f.gasWtt);
    }
  }
  return Object.fromEntries(Object.entries(acc).map(([k, xs]) => [k, preciseSum(xs)]));
}

const close = (got, want, what) => assert.ok(want === 0 ? got === 0 : Math.abs(got - want) / Math.abs(want) < 1e-9, `${what}: ${got} vs ${want}`);

let idA, idB;

test('a synced year becomes emissions equal to the published factors times the stored values, across two reporting years', async () => {
  idA = await connectAndSync('user_em_a');
  const vals = await values('user_em_a', idA);
  const years = new Set(vals.map((v) => new Date(v.period_start).getUTCFullYear()));
  assert.equal(years.size, 2, 'the year spans two reporting years');
  const want = expected(vals, 'grid');
  const res = await api('user_em_a', 'GET', `/api/v1/emissions/summary?from=${FROM}&to=${TO}&group_by=scope`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const t = res.body.totals;
  for (const k of ['scope_1', 'scope_2_location', 'scope_2_market', 'scope_3']) close(t[k], want[k], k);
  close(t.total, want.scope_1 + want.scope_2_location + want.scope_3, 'total (location)');
  assert.equal(res.body.unit, 'kgCO2e');
  assert.deepEqual(res.body.data.map((r) => r.group), ['scope_1', 'scope_2', 'scope_3']);

  // By month: the months add up to the whole.
  const months = (await api('user_em_a', 'GET', `/api/v1/emissions/summary?from=${FROM}&to=${TO}&group_by=month`)).body.data;
  assert.ok(months.length >= 12);
  close(months.reduce((s, m) => s + m.scope_2_location, 0), want.scope_2_location, 'months');

  // Every line cites its factor, edition and the publication's row.
  const [cite] = d1(worker, "SELECT f.factor_id, f.reference, f.edition, f.edition_choice, f.factor FROM emission_lines l JOIN emission_factors f ON f.id = l.factor WHERE l.line = 's2_location' LIMIT 1");
  assert.match(cite.factor_id, /^desnz-202[56]\/electricity\.uk\.generation$/);
  assert.equal(cite.reference, '7_400_4000_5_1');
  assert.equal(cite.edition_choice, 'reporting_year');
});

test('a REGO-backed tariff is zero market-based and unchanged location-based', async () => {
  idB = await connectAndSync('user_em_b', { scope2_market: { basis: 'rego_backed' } });
  const vals = await values('user_em_b', idB);
  const want = expected(vals, 'rego');
  const t = (await api('user_em_b', 'GET', `/api/v1/emissions/summary?from=${FROM}&to=${TO}&method=market`)).body.totals;
  assert.equal(t.scope_2_market, 0);
  close(t.scope_2_location, want.scope_2_location, 'location');
  close(t.total, want.scope_1 + want.scope_3, 'total (market)');
});

test('a corrected reading restates its emission lines, keeping what they were; bad queries are 400s', async () => {
  const before = (await api('user_em_a', 'GET', `/api/v1/emissions/summary?from=${FROM}&to=${TO}`)).body.totals;
  const elec = octo.series[`electricity:${MPAN}`];
  const i = elec.length - 10;
  const [t, old] = elec[i];
  elec[i] = [t, old + 1.5];
  const started = await api('user_em_a', 'POST', `/api/v1/datasources/${idA}/sync`);
  assert.equal((await settle('user_em_a', idA, started.body.id)).status, 'succeeded');
  const after = (await api('user_em_a', 'GET', `/api/v1/emissions/summary?from=${FROM}&to=${TO}`)).body.totals;
  const f = desnz(t);
  close(after.scope_2_location - before.scope_2_location, 1.5 * f.gen, 'the correction, location');
  const shown = (await api('user_em_a', 'GET', `/api/v1/emissions/summary?from=${FROM}&to=${TO}`)).body.display;
  assert.equal(shown.unit, 'tCO2e');
  assert.equal(shown.totals.scope_2_location, Math.round(after.scope_2_location) / 1000, 'each total rounded once, to the kg');
  const dayStart = (t - (t % DAY)) / 1000;
  const restated = d1(worker, `SELECT line, kgco2e, previous_kgco2e FROM emission_lines WHERE restated_at IS NOT NULL AND day = ${dayStart}`);
  assert.equal(restated.length, 5, 'every line of the corrected value\'s day');
  assert.equal(d1(worker, 'SELECT COUNT(*) AS n FROM emission_lines WHERE restated_at IS NOT NULL')[0].n, 5, 'and nothing else');
  for (const r of restated) assert.ok(r.kgco2e > r.previous_kgco2e, JSON.stringify(r));
  // The lines themselves: the corrected day's, with the factor each cites.
  const day = new Date(t - (t % DAY)).toISOString().slice(0, 10);
  const listed = (await api('user_em_a', 'GET', `/api/v1/emissions?datasource_id=${idA}&scope=2&from=${day}&to=${new Date(t - (t % DAY) + DAY).toISOString().slice(0, 10)}`)).body;
  assert.equal(listed.pagination.total, 2, 'location and market');
  const loc = listed.data.find((l) => l.line === 's2_location');
  assert.ok(loc.restated_at && loc.previous_kgco2e < loc.kgco2e, JSON.stringify(loc));
  close(loc.kgco2e, loc.quantity * f.gen, 'a line is its day\'s quantity times its factor');
  assert.deepEqual([loc.factor_ref, loc.factor_unit, loc.edition_choice], ['7_400_4000_5_1', 'kWh', 'reporting_year']);
  const dayMs = t - (t % DAY);
  assert.equal(loc.value_count, elec.filter(([at]) => at >= dayMs && at < dayMs + DAY).length, 'the day\'s values');
  // The chain from figure to bytes: the raw pages the day's values were read from.
  const dayVals = (await values('user_em_a', idA)).filter((v) => v.activity_type === 'electricity_import' && Date.parse(v.period_start) >= dayMs && Date.parse(v.period_start) < dayMs + DAY);
  assert.deepEqual(loc.raw_sha256, [...new Set(dayVals.map((v) => v.raw_sha256))].sort());
  assert.ok(loc.raw_sha256.length === 2 && loc.raw_sha256.every((h) => /^[0-9a-f]{64}$/.test(h)), 'the first sync\'s page and the correcting one');
  close(loc.co2_kgco2e, loc.quantity * { 2025: 0.17489, 2026: 0.12943 }[editionYear(t)], 'the CO2 part, as published');
  const all = (await api('user_em_a', 'GET', `/api/v1/emissions?from=${FROM}&to=${TO}&per_page=1`)).body;
  assert.ok(all.pagination.total > 365 * 5, `${all.pagination.total} lines`);
  assert.equal((await api('user_em_a', 'GET', '/api/v1/emissions?scope=4')).status, 400);
  for (const q of ['group_by=week', 'method=both', 'from=2030-01-01', 'colour=red']) {
    const res = await api('user_em_a', 'GET', `/api/v1/emissions/summary?${q}`);
    assert.equal(res.status, 400, q);
    assert.equal(res.body.status, 400);
  }
  assert.equal((await worker.fetch('/api/v1/emissions/summary')).status, 401);
});

test('the factors held are public, with their editions and sources; an unknown edition is a 400', async () => {
  const res = await worker.fetch('/api/v1/emission-factors?edition=desnz-2025&key=electricity.uk');
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(body.data.map((f) => f.key).sort(), ['electricity.uk.generation', 'electricity.uk.td_losses', 'electricity.uk.wtt_generation', 'electricity.uk.wtt_td_losses']);
  const gen = body.data.find((f) => f.key === 'electricity.uk.generation');
  assert.deepEqual([gen.kgco2e, gen.ref, gen.unit, gen.co2], ['0.17700', '7_400_4000_5_1', 'kWh', '0.17489'], 'the published digits, as strings');
  assert.equal(body.editions.length, 1);
  assert.ok(body.editions[0].sources.length >= 2);
  const all = await (await worker.fetch('/api/v1/emission-factors')).json();
  assert.deepEqual(all.editions.map((e) => e.year), [2023, 2024, 2025, 2026]);
  const bad = await worker.fetch('/api/v1/emission-factors?edition=desnz-1999');
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).detail, /desnz-2023/);
});
