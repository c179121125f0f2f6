// Connecting key-based providers through the built Worker, against fakes of
// Octopus Energy, OpenAI and Anthropic on loopback: validation before
// storage, encryption bound to the row, user scoping, updates, checks,
// disconnects, the audit trail, and no secret in any response or log.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { d1 } from './helpers/d1.mjs';
import { expectProblem, userClient } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';
import { anthropic, octopus, openai } from './fakes/keyed.mjs';

const issuer = newIssuer();
const OCTO_KEY = 'sk_live_Aa1Bb2Cc3Dd4Ee5Ff6Gg';
const OCTO_KEY_2 = 'sk_live_Zz9Yy8Xx7Ww6Vv5Uu4Tt';
const OCTO_KEY_3 = 'sk_live_Cc3Dd4Ee5Ff6Gg7Hh8Ii';
const OPENAI_KEY = 'sk-admin-Qq1Rr2Ss3Tt4Uu5Vv6Ww7Xx8';
const ANTHROPIC_KEY = 'sk-ant-admin01-Mm1Nn2Oo3Pp4Qq5Rr6';
const SECRETS = [OCTO_KEY, OCTO_KEY_2, OCTO_KEY_3, OPENAI_KEY, ANTHROPIC_KEY];
const seen = []; // every response body, to check for secrets at the end

let worker, octo, oai, ant;

before(async () => {
  octo = await octopus({
    accounts: {
      'A-1B2C3D4E': { key: OCTO_KEY, mpan: '1012345678901' },
      'A-AAAA0001': { key: OCTO_KEY_2, mpan: '1098765432109' },
      'A-CCCC0003': { key: OCTO_KEY_3, mpan: '1011111111111' },
    },
  });
  oai = await openai({ adminKeys: [OPENAI_KEY] });
  ant = await anthropic({ adminKeys: [ANTHROPIC_KEY] });
  worker = await startWorker({
    vars: workerVars(issuer, { OCTOPUS_API_BASE: octo.url, OPENAI_API_BASE: oai.url, ANTHROPIC_API_BASE: ant.url }),
  });
});
after(async () => {
  await worker?.stop();
  await Promise.all([octo?.close(), oai?.close(), ant?.close()]);
});

const api = userClient(() => worker, issuer, seen);

const octopusBody = (key = OCTO_KEY, account = 'A-1B2C3D4E', name = 'Head office') => ({
  integration_id: 'octopus-energy',
  display_name: name,
  credentials: { api_key: key, account_number: account },
});

async function count(user) {
  return (await api(user, 'GET', '/api/v1/datasources')).body.pagination.total;
}

describe('connecting with an API key', () => {
  test('a valid Octopus key is checked with Octopus, stored encrypted and active', async () => {
    const calls = octo.requests.length;
    const res = await api('user_a', 'POST', '/api/v1/datasources', octopusBody());
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.get('location'), `/api/v1/datasources/${res.body.id}`);
    assert.equal(res.body.status, 'active');
    assert.equal(res.body.integration_name, 'Octopus Energy');
    assert.equal(res.body.credential_hint, 'API key ••••f6Gg');
    assert.equal(res.body.provider.meter_points[0].mpan, '1012345678901');
    assert.equal(octo.requests.length, calls + 1, 'exactly one validation call');
    const call = octo.requests.at(-1);
    assert.equal(call.path, '/v1/accounts/A-1B2C3D4E/');
    assert.equal(call.headers.authorization, `Basic ${Buffer.from(`${OCTO_KEY}:`).toString('base64')}`);
    const [row] = d1(worker, `SELECT credentials FROM datasources WHERE id = '${res.body.id}'`);
    assert.match(row.credentials, /^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    assert.ok(!row.credentials.includes(OCTO_KEY));
  });

  test('a key the provider rejects is a 422 with its reason, and nothing is stored', async () => {
    const before = await count('user_a');
    const res = await api('user_a', 'POST', '/api/v1/datasources', octopusBody('sk_live_WrongWrongWrong1234'));
    assert.equal(res.status, 422);
    assert.equal(res.body.field, 'credentials');
    assert.match(res.body.detail, /Octopus Energy rejected the credentials: Invalid API key\./);
    const wrongAccount = await api('user_a', 'POST', '/api/v1/datasources', octopusBody(OCTO_KEY, 'A-AAAA0001'));
    assert.equal(wrongAccount.status, 422);
    assert.equal(await count('user_a'), before);
  });

  test('fields that fail the catalog patterns are 422 per field without calling the provider', async () => {
    const calls = octo.requests.length;
    const res = await api('user_a', 'POST', '/api/v1/datasources', {
      integration_id: 'octopus-energy',
      credentials: { api_key: 'not-a-key', extra: 'x' },
    });
    assert.equal(res.status, 422);
    const fields = res.body.errors.map((e) => e.field).sort();
    assert.deepEqual(fields, ['credentials.account_number', 'credentials.api_key', 'credentials.extra']);
    assert.equal(octo.requests.length, calls);
  });

  test('malformed JSON is a 400 and an unknown member a 422, with nothing stored', async () => {
    const before = await count('user_a');
    const res = await worker.fetch('/api/v1/datasources', {
      method: 'POST',
      headers: { authorization: `Bearer ${issuer.token('user_a')}`, 'content-type': 'application/json' },
      body: '{"integration_id": "octopus-energy",',
    });
    const problem = await expectProblem(assert, res, 400);
    assert.match(problem.detail, /not valid JSON/);
    const extra = await api('user_a', 'POST', '/api/v1/datasources', { ...octopusBody(), admin: true });
    assert.equal(extra.status, 422);
    assert.equal(extra.body.field, 'admin');
    // null is not "left out": the document types no field nullable here.
    for (const [field, value] of [['display_name', null], ['sync_frequency_minutes', null], ['settings', null]]) {
      const res = await api('user_a', 'POST', '/api/v1/datasources', { ...octopusBody(), [field]: value });
      assert.equal(res.status, 422, field);
      assert.equal(res.body.field, field);
      assert.match(res.body.detail, /must not be null/);
    }
    const nullSetting = await api('user_a', 'POST', '/api/v1/datasources', { ...octopusBody(), settings: { scope2_location: null } });
    assert.equal(nullSetting.status, 422);
    assert.equal(nullSetting.body.field, 'settings.scope2_location');
    assert.equal(await count('user_a'), before);
  });

  test('integrations without a key connector are refused with a reason', async () => {
    for (const [id, reason] of [['solaredge', /not supported yet/], ['xero', /OAuth/], ['nope', /unknown integration/]]) {
      const res = await api('user_a', 'POST', '/api/v1/datasources', { integration_id: id });
      assert.equal(res.status, 422, id);
      assert.equal(res.body.field, 'integration_id');
      assert.match(res.body.detail, reason);
    }
  });

  test('throttling and outages are 503, unreachable providers 502, and nothing is stored', async () => {
    const before = await count('user_a');
    octo.throttle = true;
    const throttled = await api('user_a', 'POST', '/api/v1/datasources', octopusBody());
    octo.throttle = false;
    assert.equal(throttled.status, 503);
    ant.mode = 'overloaded';
    const overloaded = await api('user_a', 'POST', '/api/v1/datasources', { integration_id: 'anthropic', credentials: { admin_key: ANTHROPIC_KEY } });
    assert.equal(overloaded.status, 503);
    ant.mode = 'reset';
    const reset = await api('user_a', 'POST', '/api/v1/datasources', { integration_id: 'anthropic', credentials: { admin_key: ANTHROPIC_KEY } });
    assert.equal(reset.status, 502);
    assert.equal(reset.body.type, '/problems/bad-gateway');
    ant.mode = 'ok';
    assert.equal(await count('user_a'), before);
  });

  test('OpenAI and Anthropic admin keys are validated with each provider', async () => {
    const good = await api('user_ai', 'POST', '/api/v1/datasources', { integration_id: 'openai', credentials: { admin_key: OPENAI_KEY } });
    assert.equal(good.status, 201);
    assert.equal(oai.requests.at(-1).headers.authorization, `Bearer ${OPENAI_KEY}`);
    const bad = await api('user_ai', 'POST', '/api/v1/datasources', { integration_id: 'openai', credentials: { admin_key: 'sk-admin-WrongWrongWrongWrong00' } });
    assert.equal(bad.status, 422);
    assert.match(bad.body.detail, /Incorrect API key provided/);
    const claude = await api('user_ai', 'POST', '/api/v1/datasources', { integration_id: 'anthropic', credentials: { admin_key: ANTHROPIC_KEY } });
    assert.equal(claude.status, 201);
    assert.equal(ant.requests.at(-1).headers['x-api-key'], ANTHROPIC_KEY);
    assert.equal(ant.requests.at(-1).headers['anthropic-version'], '2023-06-01');
  });
});

describe('managing datasources', () => {
  let id;
  before(async () => {
    id = (await api('user_b', 'POST', '/api/v1/datasources', octopusBody(OCTO_KEY, 'A-1B2C3D4E', 'Warehouse'))).body.id;
  });

  test('lists are scoped to the user and paginated', async () => {
    for (let i = 0; i < 2; i++) await api('user_b', 'POST', '/api/v1/datasources', octopusBody(OCTO_KEY, 'A-1B2C3D4E', `Site ${i}`));
    const page1 = await api('user_b', 'GET', '/api/v1/datasources?per_page=2');
    assert.equal(page1.body.pagination.total, 3);
    assert.equal(page1.body.data.length, 2);
    const page2 = await api('user_b', 'GET', '/api/v1/datasources?per_page=2&page=2');
    assert.equal(page2.body.data.length, 1);
    const ids = [...page1.body.data, ...page2.body.data].map((d) => d.id);
    assert.ok(ids.includes(id));
    const other = await api('user_c', 'GET', '/api/v1/datasources');
    assert.equal(other.body.pagination.total, 0);
    const bad = await api('user_b', 'GET', '/api/v1/datasources?per_page=1000');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'per_page');
  });

  test("another user's datasource is a 404 for every operation", async () => {
    for (const [method, path, body] of [
      ['GET', `/api/v1/datasources/${id}`],
      ['PUT', `/api/v1/datasources/${id}`, { display_name: 'mine now' }],
      ['POST', `/api/v1/datasources/${id}/check`],
      ['GET', `/api/v1/datasources/${id}/audit`],
      ['DELETE', `/api/v1/datasources/${id}`],
    ]) {
      const res = await api('user_c', method, path, body);
      assert.equal(res.status, 404, `${method} ${path}`);
    }
    assert.equal((await api('user_b', 'GET', `/api/v1/datasources/${id}`)).body.display_name, 'Warehouse');
  });

  test('PUT changes settings; disabling and re-enabling move the status', async () => {
    const res = await api('user_b', 'PUT', `/api/v1/datasources/${id}`, { display_name: 'Warehouse 2', sync_frequency_minutes: 60, settings: { site: 'north' } });
    assert.equal(res.status, 200);
    assert.equal(res.body.display_name, 'Warehouse 2');
    assert.equal(res.body.sync_frequency_minutes, 60);
    assert.equal(res.body.settings.site, 'north');
    const off = await api('user_b', 'PUT', `/api/v1/datasources/${id}`, { enabled: false });
    assert.equal(off.body.status, 'disabled');
    assert.equal((await api('user_b', 'POST', `/api/v1/datasources/${id}/check`)).status, 409);
    const on = await api('user_b', 'PUT', `/api/v1/datasources/${id}`, { enabled: true });
    assert.equal(on.body.status, 'active');
    const invalid = await api('user_b', 'PUT', `/api/v1/datasources/${id}`, { sync_frequency_minutes: 1 });
    assert.equal(invalid.status, 422);
    assert.equal(invalid.body.field, 'sync_frequency_minutes');
    assert.equal((await api('user_b', 'PUT', `/api/v1/datasources/${id}`, {})).status, 422);
  });

  test('new credentials are validated first; rejected ones leave the old ones in place', async () => {
    const rejected = await api('user_b', 'PUT', `/api/v1/datasources/${id}`, { credentials: { api_key: 'sk_live_WrongWrongWrong1234', account_number: 'A-1B2C3D4E' } });
    assert.equal(rejected.status, 422);
    const still = await api('user_b', 'GET', `/api/v1/datasources/${id}`);
    assert.equal(still.body.credential_hint, 'API key ••••f6Gg');
    const replaced = await api('user_b', 'PUT', `/api/v1/datasources/${id}`, { credentials: { api_key: OCTO_KEY_2, account_number: 'A-AAAA0001' } });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    assert.equal(replaced.body.credential_hint, 'API key ••••u4Tt');
    const check = await api('user_b', 'POST', `/api/v1/datasources/${id}/check`);
    assert.equal(check.status, 200);
    assert.equal(check.body.status, 'active');
    assert.equal(octo.requests.at(-1).path, '/v1/accounts/A-AAAA0001/');
  });

  test('a check that the provider refuses records the error on the datasource', async () => {
    const victim = (await api('user_b', 'POST', '/api/v1/datasources', octopusBody(OCTO_KEY_3, 'A-CCCC0003', 'Revoked'))).body.id;
    octo.revoked.add(OCTO_KEY_3); // the user regenerated the key at Octopus
    const res = await api('user_b', 'POST', `/api/v1/datasources/${victim}/check`);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'error');
    assert.match(res.body.last_error, /Invalid API key/);
  });

  test('DELETE destroys the credentials at once and keeps the audit trail', async () => {
    const gone = (await api('user_b', 'POST', '/api/v1/datasources', octopusBody(OCTO_KEY, 'A-1B2C3D4E', 'Temporary'))).body.id;
    await api('user_b', 'POST', `/api/v1/datasources/${gone}/check`);
    const del = await api('user_b', 'DELETE', `/api/v1/datasources/${gone}`);
    assert.equal(del.status, 204);
    assert.equal((await api('user_b', 'GET', `/api/v1/datasources/${gone}`)).status, 404);
    assert.equal((await api('user_b', 'DELETE', `/api/v1/datasources/${gone}`)).status, 404);
    const [row] = d1(worker, `SELECT credentials, credential_hint, status, deleted_at FROM datasources WHERE id = '${gone}'`);
    assert.equal(row.credentials, null);
    assert.equal(row.credential_hint, null);
    assert.ok(row.deleted_at);
    const audit = await api('user_b', 'GET', `/api/v1/datasources/${gone}/audit`);
    assert.equal(audit.status, 200);
    const actions = audit.body.data.map((e) => e.action);
    assert.deepEqual([...actions].reverse(), ['connect', 'decrypt', 'check', 'delete']);
    assert.ok(audit.body.data.every((e) => e.actor === 'user:user_b' && /^[0-9a-f]{32}$/.test(e.request_id)));
  });
});

describe('credentials bound to their row', () => {
  test('a ciphertext copied into another row fails loudly and puts that row in error', async () => {
    const a = (await api('user_d', 'POST', '/api/v1/datasources', octopusBody(OCTO_KEY, 'A-1B2C3D4E', 'A'))).body.id;
    const b = (await api('user_d', 'POST', '/api/v1/datasources', octopusBody(OCTO_KEY_2, 'A-AAAA0001', 'B'))).body.id;
    d1(worker, `UPDATE datasources SET credentials = (SELECT credentials FROM datasources WHERE id = '${a}') WHERE id = '${b}'`);
    const calls = octo.requests.length;
    const res = await api('user_d', 'POST', `/api/v1/datasources/${b}/check`);
    assert.equal(res.status, 409);
    assert.match(res.body.detail, /could not be decrypted/);
    assert.equal(octo.requests.length, calls, "A's key was never used for B");
    const row = await api('user_d', 'GET', `/api/v1/datasources/${b}`);
    assert.equal(row.body.status, 'error');
    assert.match(row.body.last_error, /tampered or moved/);
    assert.equal((await api('user_d', 'POST', `/api/v1/datasources/${a}/check`)).status, 200, 'A itself is fine');
  });

  test('a tampered ciphertext fails the same way', async () => {
    const c = (await api('user_d', 'POST', '/api/v1/datasources', octopusBody(OCTO_KEY, 'A-1B2C3D4E', 'C'))).body.id;
    const [{ credentials }] = d1(worker, `SELECT credentials FROM datasources WHERE id = '${c}'`);
    const parts = credentials.split('.');
    const flipped = parts[3][0] === 'A' ? `B${parts[3].slice(1)}` : `A${parts[3].slice(1)}`;
    d1(worker, `UPDATE datasources SET credentials = '${[...parts.slice(0, 3), flipped].join('.')}' WHERE id = '${c}'`);
    const res = await api('user_d', 'POST', `/api/v1/datasources/${c}/check`);
    assert.equal(res.status, 409);
  });
});

test('no secret appears in any response or log line', async () => {
  await new Promise((r) => setTimeout(r, 300));
  const logs = worker.logs();
  for (const secret of SECRETS) {
    assert.ok(!seen.some((body) => body.includes(secret)), `a response contains ${secret.slice(0, 10)}…`);
    assert.ok(!logs.includes(secret), `the log contains ${secret.slice(0, 10)}…`);
  }
});

test('a request without a session is refused before anything else', async () => {
  const res = await worker.fetch('/api/v1/datasources', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(octopusBody()) });
  await expectProblem(assert, res, 401);
});
