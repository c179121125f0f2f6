// Webhooks through the built Worker: a customer's own endpoint (Standard
// Webhooks: the official test vector's scheme, signed here with node's
// crypto), verified on the raw bytes before anything is parsed or stored;
// every tamper refused with nothing stored; repeats acknowledged once;
// rotation with both secrets in the grace period; a burst of deliveries,
// some repeated and some concurrent, ingested exactly once each; and Xero's
// intent-to-receive check.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { d1 } from './helpers/d1.mjs';
import { userClient } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';
import { octopus } from './fakes/keyed.mjs';
import { flooredNow } from './helpers/clock.mjs';

const issuer = newIssuer();
const XERO_KEY = 'test-webhook-key';
const secretOf = (byte) => 'whsec_' + Buffer.alloc(32, byte).toString('base64');
const BG_NEW = secretOf(1);
const BG_OLD = secretOf(2);
const OCTO_SECRET = secretOf(3);
const OCTO_KEY = 'sk_live_Pu5hPu5hPu5hAbCdEf';
const OCTO_MPAN = '1066554433221';
let worker, octo;
const api = userClient(() => worker, issuer);

before(async () => {
  octo = await octopus({ accounts: { 'A-P1P2P3P4': { key: OCTO_KEY, mpan: OCTO_MPAN } } });
  const t = flooredNow();
  octo.series[`electricity:${OCTO_MPAN}`] = Array.from({ length: 96 }, (_, i) => [t - (96 - i) * 1800_000, 0.5]);
  worker = await startWorker({
    vars: workerVars(issuer, {
      XERO_WEBHOOK_KEY: XERO_KEY,
      BRITISH_GAS_WEBHOOK_SECRETS: `${BG_NEW},${BG_OLD}`,
      OCTOPUS_ENERGY_WEBHOOK_SECRETS: OCTO_SECRET,
      OCTOPUS_API_BASE: octo.url,
    }),
  });
});
after(async () => {
  await worker?.stop();
  await octo?.close();
});

/** The `webhook-signature` of a delivery (Standard Webhooks, v1). */
function sign(secret, id, ts, body) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`;
}

function deliver(path, { secret, id, ts = Math.floor(Date.now() / 1000), body, headers = {} }) {
  const h = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sign(secret, id, ts, body), ...headers };
  for (const [k, v] of Object.entries(h)) if (v === undefined) delete h[k];
  return worker.fetch(path, { method: 'POST', headers: h, body });
}

const reading = (day, kwh, ref = 'SUBMETER-1') => ({ type: 'electricity', start: day, end: day, quantity: kwh, unit: 'kWh', reference: ref });
const counts = (id) => d1(worker, `SELECT (SELECT COUNT(*) FROM webhook_deliveries WHERE datasource_id = '${id}') AS deliveries, (SELECT COUNT(*) FROM sync_runs WHERE datasource_id = '${id}') AS runs, (SELECT COUNT(*) FROM activity_data WHERE datasource_id = '${id}') AS values_`)[0];

let ds, endpoint;

test('an endpoint is created with its secret shown once; a signed push is ingested, and a repeat acknowledged once', async () => {
  const created = await api('user_wh', 'POST', '/api/v1/datasources', { integration_id: 'generic-webhook', display_name: 'BMS' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  ds = created.body.id;
  const res = await api('user_wh', 'POST', `/api/v1/datasources/${ds}/webhook-endpoints`);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  endpoint = res.body;
  assert.match(endpoint.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(endpoint.url_path, `/api/v1/webhooks/generic/${endpoint.source}`);
  const listed = await api('user_wh', 'GET', `/api/v1/datasources/${ds}/webhook-endpoints`);
  assert.equal(listed.body.data.length, 1);
  assert.ok(!JSON.stringify(listed.body).includes(endpoint.secret.slice(6, 20)), 'never shown again');
  assert.ok(!JSON.stringify(d1(worker, 'SELECT * FROM webhook_endpoints')).includes(endpoint.secret.slice(6, 20)), 'sealed at rest');
  // Another user can neither list nor use it.
  assert.equal((await api('user_wh_other', 'GET', `/api/v1/datasources/${ds}/webhook-endpoints`)).status, 404);

  const body = JSON.stringify([reading('2026-03-01', 120.5), reading('2026-03-02', 98.25)]);
  const first = await deliver(endpoint.url_path, { secret: endpoint.secret, id: 'msg_first', body });
  assert.equal(first.status, 200, await first.clone().text());
  const got = await first.json();
  assert.deepEqual([got.outcome, got.values], ['ingested', 2]);
  const again = await deliver(endpoint.url_path, { secret: endpoint.secret, id: 'msg_first', body });
  assert.deepEqual([again.status, (await again.json()).outcome], [200, 'duplicate']);
  assert.deepEqual(counts(ds), { deliveries: 1, runs: 1, values_: 2 });
  const vals = (await api('user_wh', 'GET', `/api/v1/activity?datasource_id=${ds}&from=2026-03-01&to=2026-03-03`)).body.data;
  assert.deepEqual(vals.map((v) => v.quantity).sort(), [120.5, 98.25].sort());
  const deliveries = (await api('user_wh', 'GET', `/api/v1/datasources/${ds}/webhook-deliveries`)).body.data;
  assert.deepEqual(deliveries.map((d) => [d.delivery_id, d.outcome, d.run_id === got.run_id]), [['msg_first', 'ingested', true]]);
});

test('every tamper is refused with nothing stored but a count; an unknown endpoint is a 404', async () => {
  const before = counts(ds);
  const now = Math.floor(Date.now() / 1000);
  const body = JSON.stringify([reading('2026-03-05', 1)]);
  const good = (id) => ({ secret: endpoint.secret, id, body });
  const flipped = body.replace('"quantity":1', '"quantity":9');
  const other = 'whsec_' + Buffer.alloc(32, 9).toString('base64');
  const cases = [
    ['body changed after signing', () => worker.fetch(endpoint.url_path, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': 'msg_t1', 'webhook-timestamp': String(now), 'webhook-signature': sign(endpoint.secret, 'msg_t1', now, body) }, body: flipped })],
    ['one bit of the signature flipped', () => deliver(endpoint.url_path, { ...good('msg_t2'), headers: { 'webhook-signature': sign(endpoint.secret, 'msg_t2', now, body).replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) } })],
    ['stale timestamp', () => deliver(endpoint.url_path, { ...good('msg_t3'), ts: now - 400 })],
    ['future timestamp', () => deliver(endpoint.url_path, { ...good('msg_t4'), ts: now + 400 })],
    ['wrong secret', () => deliver(endpoint.url_path, { ...good('msg_t5'), secret: other })],
    ['missing signature', () => deliver(endpoint.url_path, { ...good('msg_t6'), headers: { 'webhook-signature': undefined } })],
    ['missing id', () => deliver(endpoint.url_path, { ...good('msg_t7'), headers: { 'webhook-id': undefined } })],
    ['malformed timestamp', () => deliver(endpoint.url_path, { ...good('msg_t8'), headers: { 'webhook-timestamp': 'yesterday' } })],
    ['malformed signature', () => deliver(endpoint.url_path, { ...good('msg_t9'), headers: { 'webhook-signature': 'v1,***' } })],
    ['another id than signed (a replay under a new id)', () => deliver(endpoint.url_path, { ...good('msg_t10'), headers: { 'webhook-id': 'msg_first_replayed' } })],
  ];
  for (const [what, send] of cases) {
    const res = await send();
    assert.equal(res.status, 401, what);
    const problem = await res.json();
    assert.equal(problem.status, 401, what);
    assert.ok(!res.headers.get('www-authenticate'), 'a signer has no token to send');
  }
  const unknown = await deliver('/api/v1/webhooks/generic/src_doesnotexist00000000000000', good('msg_t11'));
  assert.equal(unknown.status, 404);
  // A valid signature over something that is not readings: 422, nothing stored.
  const bad = JSON.stringify([{ type: 'electricity', start: 'soon', quantity: -1, unit: 'parsecs' }]);
  const invalid = await deliver(endpoint.url_path, { secret: endpoint.secret, id: 'msg_t12', body: bad });
  assert.equal(invalid.status, 422);
  assert.ok((await invalid.json()).errors.length > 0);
  // Too large, declared or streamed: 413 before any verification.
  const big = JSON.stringify([reading('2026-03-06', 1, 'X'.repeat(300_000))]);
  assert.equal((await deliver(endpoint.url_path, { secret: endpoint.secret, id: 'msg_t13', body: big })).status, 413);
  const chunked = await worker.fetch(endpoint.url_path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': 'msg_t14', 'webhook-timestamp': String(now), 'webhook-signature': sign(endpoint.secret, 'msg_t14', now, big) },
    body: new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); } }),
    duplex: 'half',
  });
  assert.equal(chunked.status, 413);
  assert.deepEqual(counts(ds), before, 'nothing stored');
  const refused = d1(worker, `SELECT SUM(count) AS n FROM webhook_refusals WHERE source = 'generic'`)[0].n;
  assert.equal(refused, cases.length + 2, 'each refusal counted (the unknown endpoint and the bad payload too)');
});

test('rotation: both secrets verify in the grace period, only the new one after it', async () => {
  const old = endpoint.secret;
  const rotated = await api('user_wh', 'POST', `/api/v1/datasources/${ds}/webhook-endpoints/${endpoint.id}/rotate`);
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  const fresh = rotated.body.secret;
  assert.ok(fresh !== old && /^whsec_/.test(fresh));
  assert.ok(Date.parse(rotated.body.previous_until) - Date.now() > 23.9 * 3600_000, '24 hours of grace');
  const body = (d) => JSON.stringify([reading(d, 5)]);
  assert.equal((await deliver(endpoint.url_path, { secret: old, id: 'msg_r1', body: body('2026-04-01') })).status, 200, 'the old secret, in the grace period');
  assert.equal((await deliver(endpoint.url_path, { secret: fresh, id: 'msg_r2', body: body('2026-04-02') })).status, 200, 'the new one');
  // The grace period ends.
  d1(worker, `UPDATE webhook_endpoints SET previous_until = '2020-01-01T00:00:00Z' WHERE id = '${endpoint.id}'`);
  assert.equal((await deliver(endpoint.url_path, { secret: old, id: 'msg_r3', body: body('2026-04-03') })).status, 401, 'the old one, after it');
  assert.equal((await deliver(endpoint.url_path, { secret: fresh, id: 'msg_r4', body: body('2026-04-04') })).status, 200);
  endpoint.secret = fresh;
});

test('a burst of a few thousand deliveries to four endpoints, some repeated and some concurrent, is stored once per id and every reading ingested once', async () => {
  // Three more endpoints on the datasource: each has its own rate limit.
  const endpoints = [endpoint];
  for (let i = 0; i < 3; i++) endpoints.push((await api('user_wh', 'POST', `/api/v1/datasources/${ds}/webhook-endpoints`)).body);
  const before = counts(ds);
  const distinct = 2000;
  const jobs = [];
  for (let i = 0; i < distinct; i++) {
    const at = new Date(Date.UTC(2024, 0, 1) + i * 1800_000).toISOString().replace('.000', '');
    const end = new Date(Date.UTC(2024, 0, 1) + (i + 1) * 1800_000).toISOString().replace('.000', '');
    const e = endpoints[i % endpoints.length];
    const job = { e, id: `msg_burst_${i}`, body: JSON.stringify([{ type: 'electricity', start: at, end, quantity: 1 + (i % 7), unit: 'kWh', reference: 'BURST' }]) };
    jobs.push(job);
    if (i % 5 === 0) jobs.push(job); // sent again, maybe at the same time
    if (i % 11 === 0) jobs.push(job, job);
  }
  const statuses = {};
  let next = 0;
  const sender = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      for (;;) {
        const res = await deliver(job.e.url_path, { secret: job.e.secret, id: job.id, body: job.body });
        // Past an endpoint's limit: wait as told, as a sender does.
        if (res.status === 429) {
          statuses.limited = (statuses.limited ?? 0) + 1;
          await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after')) * 1000));
          continue;
        }
        // The same id is being processed by a concurrent attempt: retry.
        if (res.status === 409) {
          statuses.in_flight = (statuses.in_flight ?? 0) + 1;
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        const outcome = res.status === 200 ? (await res.json()).outcome : res.status;
        statuses[outcome] = (statuses[outcome] ?? 0) + 1;
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, sender));
  assert.equal(statuses.ingested, distinct, JSON.stringify(statuses));
  assert.equal(statuses.duplicate, jobs.length - distinct, JSON.stringify(statuses));
  const after = counts(ds);
  assert.equal(after.deliveries - before.deliveries, distinct, 'one record per distinct id');
  assert.equal(after.runs - before.runs, distinct, 'one run per distinct delivery');
  assert.equal(after.values_ - before.values_, distinct, 'every reading once');
  const [sum] = d1(worker, `SELECT SUM(quantity) AS kwh FROM activity_data WHERE datasource_id = '${ds}' AND source_ref = 'BURST'`);
  let want = 0;
  for (let i = 0; i < distinct; i++) want += 1 + (i % 7);
  assert.equal(sum.kwh, want);
  for (const e of endpoints.slice(1)) assert.equal((await api('user_wh', 'DELETE', `/api/v1/datasources/${ds}/webhook-endpoints/${e.id}`)).status, 204);
});

test('a delivery another attempt is processing is a 409; one whose attempt died is taken over after the lease', async () => {
  const body = JSON.stringify([reading('2026-06-01', 3)]);
  const row = (id, at) => d1(worker, `INSERT INTO webhook_deliveries (source, scope, delivery_id, datasource_id, user_id, received_at, payload_sha256, outcome) VALUES ('generic', '${endpoint.id}', '${id}', '${ds}', 'user_wh', '${at}', 'x', 'processing')`);
  row('msg_inflight', new Date().toISOString().replace(/\.\d+Z$/, 'Z'));
  const busy = await deliver(endpoint.url_path, { secret: endpoint.secret, id: 'msg_inflight', body });
  assert.equal(busy.status, 409);
  row('msg_abandoned', new Date(Date.now() - 120_000).toISOString().replace(/\.\d+Z$/, 'Z'));
  const taken = await deliver(endpoint.url_path, { secret: endpoint.secret, id: 'msg_abandoned', body });
  assert.equal(taken.status, 200);
  assert.equal((await taken.json()).outcome, 'ingested');
  assert.equal(d1(worker, `SELECT outcome FROM webhook_deliveries WHERE delivery_id = 'msg_abandoned'`)[0].outcome, 'ingested');
});

test('a deleted endpoint no longer receives', async () => {
  const del = await api('user_wh', 'DELETE', `/api/v1/datasources/${ds}/webhook-endpoints/${endpoint.id}`);
  assert.equal(del.status, 204);
  const res = await deliver(endpoint.url_path, { secret: endpoint.secret, id: 'msg_after_delete', body: JSON.stringify([reading('2026-05-01', 1)]) });
  assert.equal(res.status, 404);
  assert.equal(d1(worker, `SELECT secret FROM webhook_endpoints WHERE id = '${endpoint.id}'`)[0].secret, '', 'its secret destroyed');
  assert.equal((await api('user_wh', 'GET', `/api/v1/datasources/${ds}/webhook-endpoints`)).body.data.length, 0);
});

test('Xero: intent-to-receive answers 200 empty for a good signature and 401 empty for a bad one', async () => {
  // PROVIDERS.md's vector: this body under this key has this signature.
  const body = '{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}';
  const good = await worker.fetch('/api/v1/webhooks/xero', { method: 'POST', headers: { 'content-type': 'application/json', 'x-xero-signature': 'Rmagmj6jUO+tWCm+ab470p+XpvFKxe3rlSHQVg+BcDk=' }, body });
  assert.equal(good.status, 200);
  assert.equal(await good.text(), '');
  const bad = await worker.fetch('/api/v1/webhooks/xero', { method: 'POST', headers: { 'content-type': 'application/json', 'x-xero-signature': 'Rmagmj6jUO+tWCm+ab470p+XpvFKxe3rlSHQVg+BcDj=' }, body });
  assert.equal(bad.status, 401);
  assert.equal(await bad.text(), '');
  const unsigned = await worker.fetch('/api/v1/webhooks/xero', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(unsigned.status, 401);
  assert.equal(d1(worker, `SELECT COUNT(*) AS n FROM webhook_deliveries WHERE source = 'xero'`)[0].n, 0, 'nothing stored for the handshake');
});

test('a supplier\'s push about a meter reaches every datasource naming it: readings ingested once, data_available syncs', async () => {
  const MPAN = '1012345678901';
  const created = await api('user_bg', 'POST', '/api/v1/datasources', { integration_id: 'british-gas', display_name: 'Office bills' });
  assert.equal(created.status, 201);
  const bg = created.body.id;
  // An earlier bill names the meter: that alone routes nothing (anyone can
  // type anyone's MPAN); a push reaches this datasource by naming it, as the
  // customer told the supplier.
  const csv = `start,end,quantity,unit,reference\n2026-01-01,2026-01-31,1000,kWh,${MPAN}\n`;
  const up = await worker.fetch(`/api/v1/datasources/${bg}/uploads?type=electricity`, { method: 'POST', headers: { authorization: `Bearer ${issuer.token('user_bg')}`, 'content-type': 'text/csv' }, body: csv });
  assert.equal(up.status, 201);
  const readings = [{ type: 'electricity', start: '2026-02-01', end: '2026-02-28', quantity: 870.5, unit: 'kWh', reference: MPAN }];
  const byMeter = await deliver('/api/v1/webhooks/british-gas', { secret: BG_NEW, id: 'bg_evt_0', body: JSON.stringify({ event: 'readings', mpan: MPAN, readings }) });
  assert.deepEqual([byMeter.status, (await byMeter.json()).datasources], [200, []], 'an uploaded reference does not route');
  const body = JSON.stringify({ event: 'readings', mpan: MPAN, datasource_id: bg, readings });
  // Signed with the secret being rotated out: still valid.
  const res = await deliver('/api/v1/webhooks/british-gas', { secret: BG_OLD, id: 'bg_evt_1', body });
  assert.equal(res.status, 200, await res.clone().text());
  const got = await res.json();
  assert.deepEqual(got.datasources.map((d) => [d.datasource_id, d.outcome]), [[bg, 'ingested']]);
  const again = await (await deliver('/api/v1/webhooks/british-gas', { secret: BG_NEW, id: 'bg_evt_1', body })).json();
  assert.deepEqual(again.datasources.map((d) => d.outcome), ['duplicate']);
  const vals = (await api('user_bg', 'GET', `/api/v1/activity?datasource_id=${bg}&from=2026-01-01&to=2026-03-01`)).body.data;
  assert.deepEqual(vals.map((v) => v.quantity).sort((a, b) => a - b), [870.5, 1000]);
  assert.equal((await api('user_bg', 'GET', `/api/v1/datasources/${bg}/webhook-deliveries`)).body.data.length, 1);
  // Another supplier's secret, a meter nobody has, a body that is not a push.
  assert.equal((await deliver('/api/v1/webhooks/british-gas', { secret: OCTO_SECRET, id: 'bg_evt_2', body })).status, 401);
  const nobody = await deliver('/api/v1/webhooks/british-gas', { secret: BG_NEW, id: 'bg_evt_3', body: JSON.stringify({ event: 'data_available', mpan: '1099999999999' }) });
  assert.deepEqual([nobody.status, (await nobody.json()).datasources], [200, []]);
  const invalid = await deliver('/api/v1/webhooks/british-gas', { secret: BG_NEW, id: 'bg_evt_4', body: JSON.stringify({ event: 'readings', mpan: MPAN, datasource_id: bg }) });
  assert.equal(invalid.status, 422);
  assert.equal((await invalid.json()).errors[0].field, 'readings');
  // Readings that do not validate: 422 before anything is recorded.
  const badReadings = await deliver('/api/v1/webhooks/british-gas', { secret: BG_NEW, id: 'bg_evt_5', body: JSON.stringify({ event: 'readings', mpan: MPAN, datasource_id: bg, readings: [{ type: 'electricity', quantity: -3 }] }) });
  assert.equal(badReadings.status, 422);
  assert.equal(d1(worker, `SELECT COUNT(*) AS n FROM webhook_deliveries WHERE delivery_id IN ('bg_evt_4', 'bg_evt_5')`)[0].n, 0);

  // Octopus: "new data" queues an incremental sync of the account's datasource.
  const oc = await api('user_oc', 'POST', '/api/v1/datasources', { integration_id: 'octopus-energy', credentials: { api_key: OCTO_KEY, account_number: 'A-P1P2P3P4' } });
  assert.equal(oc.status, 201, JSON.stringify(oc.body));
  const push = await deliver('/api/v1/webhooks/octopus-energy', { secret: OCTO_SECRET, id: 'oc_evt_1', body: JSON.stringify({ event: 'data_available', mpan: OCTO_MPAN }) });
  assert.equal(push.status, 200);
  const [queued] = (await push.json()).datasources;
  assert.equal(queued.outcome, 'sync_queued');
  let run;
  for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
    run = (await api('user_oc', 'GET', `/api/v1/datasources/${oc.body.id}/sync-runs/${queued.run_id}`)).body;
    if (['succeeded', 'failed', 'partial'].includes(run.status)) break;
  }
  assert.deepEqual([run.status, run.trigger, run.mode], ['succeeded', 'webhook', 'incremental']);
  assert.equal(run.inserted, 96);
});
