// The typed client (client/), as the frontend uses it: the README's calls run
// against the built Worker, with the client's own fetch going through the
// contract check, so a call the client makes and the document describes
// really answers as typed. Types: `npm run client -- --check` (tsc).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiError, createClient } from '../client/index.ts';
import { client, connectByKey, finishOAuth, solarIntegrations, startOAuth } from '../client/examples.ts';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { openai } from './fakes/keyed.mjs';
import { xero } from './fakes/xero.mjs';
import { startWorker } from './helpers/worker.mjs';

const issuer = newIssuer();
const OPENAI_KEY = 'sk-admin-Cc1Dd2Ee3Ff4Gg5Hh6Ii7Jj8';
let worker, oai, xr;

before(async () => {
  oai = await openai({ adminKeys: [OPENAI_KEY] });
  xr = await xero({ clientId: 'xero-client', clientSecret: 'xero-secret' });
  worker = await startWorker({ vars: workerVars(issuer, { OPENAI_API_BASE: oai.url, ...xr.vars }) });
});
after(async () => {
  await worker?.stop();
  await Promise.all([oai?.close(), xr?.close()]);
});

/** fetch for the client, routed through the suite's contract check. */
const checked = (input, init) => worker.fetch(String(input).slice(worker.url.length), init);
/** The client as a signed-in user. */
const apiFor = (user) => createClient({ baseUrl: worker.url, token: () => issuer.token(user), fetch: checked });

test('listing the catalog: typed query parameters, form-exploded arrays', async () => {
  const solar = await solarIntegrations(apiFor('user_c1'));
  assert.ok(solar.length > 0);
  for (const s of solar) {
    assert.equal(s.category, 'solar_battery');
    assert.equal(s.status, 'available');
  }
  const both = await apiFor('user_c1').get('/api/v1/integrations', { query: { category: ['solar_battery', 'ai_platform'], per_page: 100 } });
  assert.deepEqual(new Set(both.data.map((i) => i.category)), new Set(['solar_battery', 'ai_platform']));
});

test('connecting by key: the datasource, or the problem naming why not', async () => {
  const api = apiFor('user_c2');
  const ds = await connectByKey(api, { integration_id: 'openai', credentials: { admin_key: OPENAI_KEY } });
  assert.equal(ds.integration_id, 'openai');
  assert.equal(ds.status, 'active');
  const rejected = await connectByKey(api, { integration_id: 'openai', credentials: { admin_key: 'sk-admin-WrongWrongWrongWrong00' } });
  assert.equal(rejected.type, '/problems/validation-failed');
  assert.equal(rejected.status, 422);
  const got = await api.get('/api/v1/datasources/{id}', { path: { id: ds.id } });
  assert.equal(got.id, ds.id);
});

test('problems are thrown as ApiError with the problem document', async () => {
  const api = apiFor('user_c3');
  await assert.rejects(api.get('/api/v1/datasources/{id}', { path: { id: 'ds_missing' } }), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 404);
    assert.equal(err.problem.type, '/problems/not-found');
    assert.match(err.problem.request_id, /^[0-9a-f]{32}$/);
    return true;
  });
  const anonymous = createClient({ baseUrl: worker.url, fetch: checked });
  await assert.rejects(anonymous.get('/api/v1/datasources'), (err) => err instanceof ApiError && err.status === 401);
});

test('an OAuth connection started and finished through the client', async () => {
  const api = apiFor('user_c4');
  const auth = await startOAuth(api, 'xero');
  assert.ok(auth.authorization_url.startsWith(`${xr.base}/authorize?`), auth.authorization_url);
  // The browser's part: the provider consents and redirects to the callback page.
  const consent = await fetch(auth.authorization_url, { redirect: 'manual' });
  const back = new URL(consent.headers.get('location'));
  const page = await (await fetch(new URL(back.pathname + back.search, worker.url))).text();
  const relayed = JSON.parse(/var result = (\{.*?\});/.exec(page)[1]);
  assert.equal(relayed.state, auth.state);
  const done = await finishOAuth(api, relayed.state, relayed.code);
  assert.equal(done.status, 'connected');
  assert.equal(done.datasource.integration_id, 'xero');
  // The examples' client builder is the same client.
  const list = await client(worker.url, () => issuer.token('user_c4')).get('/api/v1/datasources');
  assert.deepEqual(list.data.map((d) => d.id), [done.datasource.id]);
});
