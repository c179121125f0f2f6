// Data people send, through the built Worker: CSV files (raw and from a
// browser form) and typed readings, validated row by row and stored whole or
// not at all, the same bytes twice changing nothing, corrections restated,
// and what was stored read back through GET /api/v1/activity, summed by UK
// day across both clock changes.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { d1 } from './helpers/d1.mjs';
import { expectProblem, userClient } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';

const issuer = newIssuer();
let worker;
const api = userClient(() => worker, issuer);

before(async () => {
  worker = await startWorker({ vars: workerVars(issuer) });
});
after(async () => {
  await worker?.stop();
});

/** Sends a body as the user, with a content type. */
async function send(user, path, body, type) {
  const res = await worker.fetch(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${issuer.token(user)}`, ...(type ? { 'content-type': type } : {}) },
    body,
  });
  return res;
}

async function upload(user, id, csv, query = '') {
  const res = await send(user, `/api/v1/datasources/${id}/uploads${query}`, csv, 'text/csv');
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const rows = (id) => d1(worker, `SELECT COUNT(*) AS n FROM activity_data WHERE datasource_id = '${id}'`)[0].n;
const runs = (id) => d1(worker, `SELECT COUNT(*) AS n FROM sync_runs WHERE datasource_id = '${id}'`)[0].n;

/** Half-hourly UK wall-clock rows for one local day, as a CSV body. */
function ukDay(date, kwh) {
  const lines = ['start,end,quantity,unit,reference'];
  // Build the local day's half hours from UTC, so the clock changes show.
  const [y, m, d] = date.split('-').map(Number);
  const lastSunday = (month) => {
    const t = new Date(Date.UTC(y, month + 1, 0));
    return Date.UTC(y, month, t.getUTCDate() - t.getUTCDay(), 1);
  };
  const offset = (ms) => (ms >= lastSunday(2) && ms < lastSunday(9) ? 3600_000 : 0);
  // Local midnight in UTC: try both offsets.
  const midnight = Date.UTC(y, m - 1, d) - offset(Date.UTC(y, m - 1, d) - 3600_000);
  const next = Date.UTC(y, m - 1, d + 1) - offset(Date.UTC(y, m - 1, d + 1) - 3600_000);
  let n = 0;
  for (let t = midnight; t < next; t += 1800_000, n++) {
    lines.push(`${new Date(t).toISOString().replace('.000', '')},${new Date(t + 1800_000).toISOString().replace('.000', '')},${kwh},kWh,MPAN-1`);
  }
  return { csv: lines.join('\n') + '\n', n };
}

let energy;
test('a file-upload integration connects without credentials and offers its templates', async () => {
  const created = await api('user_up', 'POST', '/api/v1/datasources', { integration_id: 'british-gas', display_name: 'Head office bills' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.status, 'active');
  assert.equal(created.body.credential_hint, null);
  assert.equal(created.body.coverage, null);
  energy = created.body.id;

  const catalog = await worker.fetch('/api/v1/integrations/british-gas');
  assert.equal((await catalog.json()).status, 'file_upload', 'the catalog entry is real now');

  const list = await (await worker.fetch('/api/v1/uploads/templates')).json();
  const electricity = list.data.find((t) => t.type === 'electricity');
  assert.deepEqual(electricity.columns.map((c) => c.name).slice(0, 4), ['start', 'end', 'quantity', 'unit']);
  const csv = await worker.fetch('/api/v1/uploads/templates/gas.csv');
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type'), /^text\/csv/);
  assert.match(csv.headers.get('content-disposition'), /filename="gas.csv"/);
  const template = await csv.text();
  assert.match(template.split('\r\n')[0], /^start,end,quantity,unit,reference,estimated,calorific_value,tariff$/);
  // The template itself is a valid upload.
  const ok = await upload('user_up', energy, template, '?type=gas');
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  assert.equal(ok.body.inserted, 2);
  await expectProblem(assert, await worker.fetch('/api/v1/uploads/templates/coal.csv'), 404);
  // A datasource that takes files has nothing to sync: the state of the
  // target, not the request, is the problem (409, as `check` answers).
  const sync = await api('user_up', 'POST', `/api/v1/datasources/${energy}/sync`, {});
  assert.equal(sync.status, 409, JSON.stringify(sync.body));
  assert.match(sync.body.detail, /cannot sync/);
  const endpoints = await api('user_up', 'POST', `/api/v1/datasources/${energy}/webhook-endpoints`);
  assert.equal(endpoints.status, 201, 'file-fed datasources take pushes too');
});

test('a good file is stored whole as an upload run; the same file again changes nothing', async () => {
  const csv = 'type,start,end,quantity,unit,reference,estimated\n' +
    'electricity,2026-01-01,2026-01-31,1200.5,kWh,1012345678901,no\n' +
    'electricity,01/02/2026,28/02/2026,1.1,MWh,1012345678901,E\n' +
    'gas,2026-01-01,2026-01-31,100,m3,9876543210,no\n';
  const first = await upload('user_up', energy, csv);
  assert.equal(first.status, 201, JSON.stringify(first.body));
  assert.equal(first.body.trigger, 'upload');
  assert.equal(first.body.status, 'succeeded');
  assert.equal(first.body.inserted, 3);
  assert.match(first.body.upload_sha256, /^[0-9a-f]{64}$/);
  assert.equal(first.headers.get('location'), `/api/v1/datasources/${energy}/sync-runs/${first.body.id}`);
  const before = [rows(energy), runs(energy)];

  const again = await upload('user_up', energy, csv);
  assert.equal(again.status, 200);
  assert.equal(again.body.id, first.body.id, 'the earlier run answers');
  assert.deepEqual([rows(energy), runs(energy)], before, 'nothing written');

  const values = (await api('user_up', 'GET', `/api/v1/activity?datasource_id=${energy}&from=2025-12-01&to=2026-03-01`)).body;
  const feb = values.data.find((v) => v.activity_type === 'electricity_import' && v.period_start === '2026-02-01T00:00:00Z');
  assert.equal(feb.quantity, 1100, 'MWh stored as kWh');
  assert.equal(feb.estimated, true);
  assert.equal(feb.conversion.factor, 1000);
  assert.equal(feb.raw_sha256, first.body.upload_sha256, 'each value traces to the file');
  const gas = values.data.find((v) => v.reference === '9876543210');
  assert.ok(Math.abs(gas.quantity - (100 * 1.02264 * 39.5) / 3.6) < 1e-9);
  assert.equal(gas.period_end, '2026-02-01T00:00:00Z', 'an end date is inclusive');

  const ds = (await api('user_up', 'GET', `/api/v1/datasources/${energy}`)).body;
  assert.equal(ds.last_run.id, first.body.id);
  assert.ok(ds.last_synced_at);
  assert.equal(ds.coverage.to, '2026-03-01T00:00:00Z');
});

test('a corrected file restates the value it changes and rewrites nothing else', async () => {
  const csv = 'type,start,end,quantity,unit,reference\n' +
    'electricity,2026-01-01,2026-01-31,1210,kWh,1012345678901\n' +
    'electricity,2026-02-01,2026-02-28,1100,kWh,1012345678901\n';
  const res = await upload('user_up', energy, csv);
  assert.equal(res.status, 201);
  assert.deepEqual([res.body.inserted, res.body.updated, res.body.unchanged], [0, 2, 0], 'the estimate became actual, January moved');
  const jan = (await api('user_up', 'GET', `/api/v1/activity?datasource_id=${energy}&activity_type=electricity_import&from=2026-01-01&to=2026-01-02`)).body.data;
  assert.equal(jan.length, 1);
  assert.equal(jan[0].quantity, 1210);
  assert.equal(jan[0].previous_quantity, 1200.5);
  assert.equal(jan[0].restated, true);
  const feb = d1(worker, `SELECT previous_quantity, estimated FROM activity_data WHERE datasource_id = '${energy}' AND period_start = '2026-02-01T00:00:00Z'`)[0];
  assert.deepEqual([feb.previous_quantity, feb.estimated], [null, 0], 'same quantity: not restated, only no longer estimated');
});

test('a bad file gets a 422 naming each bad row and stores nothing', async () => {
  const before = [rows(energy), runs(energy)];
  const csv = 'type,start,end,quantity,unit,reference\n' +
    'electricity,2026-03-01,2026-03-31,10,kWh,M1\n' +
    'electricity,2026-04-01,2026-03-01,10,kWh,M1\n' +
    'fuel,2026-04-01,2026-04-30,10,litres,VAN\n' +
    'gas,2026-04-01,2026-04-30,"1,200",kWh,M2\n';
  const res = await send('user_up', `/api/v1/datasources/${energy}/uploads`, csv, 'text/csv');
  const problem = await expectProblem(assert, res, 422);
  assert.deepEqual(problem.errors.map((e) => e.field), ['rows[3].end', 'rows[4].type', 'rows[5].quantity', 'rows']);
  assert.match(problem.errors[3].message, /3 row\(s\) have errors; nothing was stored/);
  assert.deepEqual([rows(energy), runs(energy)], before);

  // A quantity that would not stay a finite number once converted (MWh to kWh).
  const huge = await upload('user_up', energy, 'type,start,end,quantity,unit\nelectricity,2026-03-01,2026-03-31,8.2e307,MWh\n');
  assert.equal(huge.status, 422, JSON.stringify(huge.body));
  assert.equal(huge.body.errors[0].field, 'rows[2].quantity');

  // The query is checked whatever the file holds: no such type, another
  // parameter, or a type this integration does not carry.
  const good = 'type,start,end,quantity,unit\nelectricity,2026-03-01,2026-03-31,10,kWh\n';
  for (const [query, status, field] of [['?type=plutonium', 400, 'type'], ['?kind=gas', 400, 'kind'], ['?type=gas&type=gas', 400, 'type'], ['?type=tokens', 422, 'type']]) {
    const res = await send('user_up', `/api/v1/datasources/${energy}/uploads${query}`, good, 'text/csv');
    assert.equal((await expectProblem(assert, res, status)).field, field, query);
  }
  assert.deepEqual([rows(energy), runs(energy)], before);

  await expectProblem(assert, await send('user_up', `/api/v1/datasources/${energy}/uploads`, '{"a":1}', 'application/json'), 415);
  await expectProblem(assert, await send('user_up', `/api/v1/datasources/${energy}/uploads`, ' \n', 'text/csv'), 422);
  await expectProblem(assert, await send('user_other', `/api/v1/datasources/${energy}/uploads`, csv, 'text/csv'), 404);
});

test('a file past the upload limit is refused while it streams', async () => {
  const chunk = Buffer.alloc(1024 * 1024, 'a');
  let sent = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (sent >= 9) return controller.close();
      sent++;
      controller.enqueue(chunk);
    },
  });
  const res = await worker.fetch(`/api/v1/datasources/${energy}/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${issuer.token('user_up')}`, 'content-type': 'text/csv' },
    body,
    duplex: 'half',
  });
  const problem = await expectProblem(assert, res, 413);
  assert.match(problem.detail, new RegExp(`${8 * 1024 * 1024} bytes`));
});

test('a browser form upload works, and UK days sum across both clock changes', async () => {
  const spring = ukDay('2026-03-29', 0.5);
  const autumn = ukDay('2026-10-25', 0.5);
  assert.equal(spring.n, 46);
  assert.equal(autumn.n, 50);
  const csv = spring.csv + autumn.csv.split('\n').slice(1).join('\n');
  const form = new FormData();
  form.append('note', 'smart meter export');
  form.append('file', new Blob([csv], { type: 'text/csv' }), 'export.csv');
  const res = await worker.fetch(`/api/v1/datasources/${energy}/uploads?type=electricity`, {
    method: 'POST',
    headers: { authorization: `Bearer ${issuer.token('user_up')}` },
    body: form,
  });
  const run = await res.json();
  assert.equal(res.status, 201, JSON.stringify(run));
  assert.equal(run.inserted, 96);

  const days = async (tz) =>
    (await api('user_up', 'GET', `/api/v1/activity?datasource_id=${energy}&granularity=day&tz=${tz}&from=2026-03-27&to=2026-10-27&per_page=400`)).body;
  const uk = await days('Europe/London');
  assert.equal(uk.tz, 'Europe/London');
  const byDay = Object.fromEntries(uk.data.filter((b) => b.unit === 'kWh').map((b) => [b.period, b]));
  assert.equal(byDay['2026-03-29'].records, 46);
  assert.equal(byDay['2026-03-29'].quantity, 23);
  assert.equal(byDay['2026-03-29'].period_start, '2026-03-29T00:00:00Z');
  assert.equal(byDay['2026-03-29'].period_end, '2026-03-29T23:00:00Z', 'a 23-hour day');
  assert.equal(byDay['2026-10-25'].records, 50);
  assert.equal(byDay['2026-10-25'].period_start, '2026-10-24T23:00:00Z');
  assert.equal(Object.keys(byDay).length, 2);
  const utc = Object.fromEntries((await days('UTC')).data.map((b) => [b.period, b.records]));
  assert.deepEqual(utc, { '2026-03-29': 46, '2026-10-24': 2, '2026-10-25': 48 });
  const month = (await api('user_up', 'GET', `/api/v1/activity?datasource_id=${energy}&granularity=month&tz=Europe/London&from=2026-01-01&to=2026-12-01`)).body;
  assert.deepEqual(month.data.filter((b) => b.activity_type === 'electricity_import').map((b) => [b.period, b.records]), [['2026-01', 1], ['2026-02', 1], ['2026-03', 46], ['2026-10', 50]]);
  await expectProblem(assert, await worker.fetch('/api/v1/activity?tz=Mars/Olympus', { headers: { authorization: `Bearer ${issuer.token('user_up')}` } }), 400);
});

test('manual readings are validated like files, stored as a run, and repeatable', async () => {
  const created = await api('user_up', 'POST', '/api/v1/datasources', { integration_id: 'manual-entry', display_name: 'Depot' });
  assert.equal(created.status, 201);
  const id = created.body.id;
  const readings = [
    { type: 'fuel', start: '2026-01-01', end: '2026-01-31', quantity: 412.5, unit: 'litres', reference: 'VAN-7', fuel: 'diesel' },
    { type: 'fuel', start: '2026-01-01', end: '2026-01-31', quantity: 20, unit: 'gallons', reference: 'VAN-7', fuel: 'petrol' },
    { type: 'refrigerants', start: '2026-02-03', end: '2026-02-03', quantity: 1.5, unit: 'kg', reference: 'Chiller', refrigerant: 'R-410A' },
  ];
  const res = await api('user_up', 'POST', `/api/v1/datasources/${id}/readings`, readings);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.trigger, 'manual');
  assert.equal(res.body.inserted, 3, 'diesel and petrol for one van and month are two values');
  const again = await api('user_up', 'POST', `/api/v1/datasources/${id}/readings`, readings);
  assert.equal(again.status, 200);
  assert.equal(again.body.id, res.body.id);

  const bad = await api('user_up', 'POST', `/api/v1/datasources/${id}/readings`, [{ type: 'fuel', start: '2026-01-01', end: '2026-01-31', quantity: 5, unit: 'litres' }, { type: 'coal' }]);
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.body.errors.map((e) => e.field), ['[0].fuel', '[1].type', 'rows']);
  const fuels = (await api('user_up', 'GET', `/api/v1/activity?datasource_id=${id}&activity_type=fuel&from=2026-01-01&to=2026-02-01`)).body.data;
  assert.deepEqual(fuels.map((f) => [f.detail, f.unit, Math.round(f.quantity * 1000) / 1000]).sort(), [['diesel', 'litres', 412.5], ['petrol', 'litres', 90.922]]);
  const audit = (await api('user_up', 'GET', `/api/v1/datasources/${id}/audit`)).body.data.map((e) => e.action);
  assert.ok(audit.includes('manual'), 'typed readings are audited with who entered them');

  // Its runs go with a disconnected datasource, as the datasource itself does.
  const run = `/api/v1/datasources/${id}/sync-runs/${res.body.id}`;
  assert.equal((await api('user_up', 'GET', run)).status, 200);
  assert.equal((await api('user_up', 'DELETE', `/api/v1/datasources/${id}`)).status, 204);
  const gone = await api('user_up', 'GET', run);
  assert.equal(gone.status, 404);
  assert.equal(gone.body.type, '/problems/not-found');
});

test('uploaded fuel, travel, hotel nights and spend become Scope 1 and 3 lines by their published factors', async () => {
  const created = await api('user_up_em', 'POST', '/api/v1/datasources', { integration_id: 'csv-upload', display_name: 'Travel and fleet' });
  assert.equal(created.status, 201);
  const id = created.body.id;
  const csv = 'type,start,end,quantity,unit,reference,estimated,detail\n' +
    'fuel,2025-03-01,2025-03-31,612.5,litres,VAN-07,no,diesel\n' +
    'fuel,2025-03-01,2025-03-31,1,litres,Boiler,no,coal\n' +
    'travel,2025-03-12,2025-03-12,412,miles,Trip 4,no,rail\n' +
    'travel,2025-03-20,2025-03-24,11020,km,Trip 7,no,flight_long_haul\n' +
    'travel,2025-03-20,2025-03-24,4,nights,Trip 7,no,hotel_london\n' +
    'spend,2023-06-01,2023-06-30,1000,GBP,Supplier 42,no,Printing & Stationery\n';
  const res = await upload('user_up_em', id, csv);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const t = (await api('user_up_em', 'GET', `/api/v1/emissions/summary?datasource_id=${id}&from=2023-01-01&to=2025-12-31&group_by=category`)).body;
  const near = (got, want, what) => assert.ok(Math.abs(got - want) <= want * 1e-9, `${what}: ${got} vs ${want}`);
  // DESNZ 2025: diesel 2.57082 per litre; national rail 0.03546 per
  // passenger km; long-haul with radiative forcing 0.15282; London hotel
  // 11.5 a night. Coal has no factor held: no line, not a guess.
  near(t.totals.scope_1, 612.5 * 2.57082, 'diesel');
  const travel = 412 * 1.609344 * 0.03546 + 11020 * 0.15282 + 4 * 11.5;
  const spend = 1000 * 1.244 * (292.655 / 304.702) * 0.296;
  near(t.totals.scope_3, travel + spend, 'travel, hotel and spend');
  near(t.totals.scope_3_spend_based, spend, 'spend, labelled');
  assert.deepEqual(t.data.map((g) => g.group), ['business_travel', 'fuel_combustion', 'purchased_goods_and_services']);
  // Without radiative forcing, the flight is recomputed at once.
  const put = await api('user_up_em', 'PUT', `/api/v1/datasources/${id}`, { settings: { flight_radiative_forcing: false } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const again = (await api('user_up_em', 'GET', `/api/v1/emissions/summary?datasource_id=${id}&from=2023-01-01&to=2025-12-31`)).body.totals;
  near(again.scope_3, travel - 11020 * (0.15282 - 0.09043) + spend, 'without RF');
});

test('runs started in the same second list newest first, and the newest is the last run', async () => {
  const id = (await api('user_up_order', 'POST', '/api/v1/datasources', { integration_id: 'british-gas' })).body.id;
  const made = [];
  for (let i = 1; i <= 4; i++) {
    const res = await upload('user_up_order', id, `type,start,end,quantity,unit\nelectricity,2026-05-01,2026-05-31,${i},kWh\n`);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    made.push(res.body);
  }
  const seconds = new Set(made.map((r) => r.queued_at)).size;
  const listed = (await api('user_up_order', 'GET', `/api/v1/datasources/${id}/sync-runs`)).body.data;
  assert.deepEqual(listed.map((r) => r.id), made.map((r) => r.id).reverse(), `queued in ${seconds} distinct second(s)`);
  assert.equal((await api('user_up_order', 'GET', `/api/v1/datasources/${id}`)).body.last_run.id, made.at(-1).id);
  const inList = (await api('user_up_order', 'GET', '/api/v1/datasources')).body.data.find((d) => d.id === id);
  assert.equal(inList.last_run.id, made.at(-1).id);
});
