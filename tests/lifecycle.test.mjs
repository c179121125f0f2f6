// Connections over time: the scheduled job keeps OAuth grants alive for
// connections nobody used (and backs off from ones that keep failing), and
// encryption keys rotate to the end without losing data.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { d1 } from './helpers/d1.mjs';
import { startWorker } from './helpers/worker.mjs';
import { octopus } from './fakes/keyed.mjs';
import { xero } from './fakes/xero.mjs';

const issuer = newIssuer();
const OLD_KEY = randomBytes(32).toString('base64');
const NEW_KEY = randomBytes(32).toString('base64');
const OCTO_KEY = 'sk_live_Aa1Bb2Cc3Dd4Ee5Ff6Gg';
let xr, octo;

before(async () => {
  xr = await xero({ clientId: 'xero-client', clientSecret: 'xero-secret' });
  octo = await octopus({ accounts: { 'A-1B2C3D4E': { key: OCTO_KEY, mpan: '1012345678901' } } });
});
after(async () => {
  await xr?.close();
  await octo?.close();
});

const call = (worker, user, method, path, body) =>
  worker
    .fetch(path, {
      method,
      headers: { authorization: `Bearer ${issuer.token(user)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    .then(async (res) => ({ status: res.status, body: res.status === 204 ? null : await res.json() }));

test('the scheduled job refreshes week-old OAuth grants, as system:cron', async () => {
  const worker = await startWorker({ vars: workerVars(issuer, xr.vars) });
  try {
    const auth = (await call(worker, 'user_s', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero' })).body;
    const consent = await fetch(auth.authorization_url, { redirect: 'manual' });
    const back = new URL(consent.headers.get('location'));
    await fetch(new URL(back.pathname + back.search, worker.url));
    const done = await call(worker, 'user_s', 'POST', '/api/v1/datasources/oauth/complete', {
      state: back.searchParams.get('state'),
      code: back.searchParams.get('code'),
    });
    const id = done.body.datasource.id;

    const before = xr.control.refreshGrants.length;
    assert.equal((await worker.scheduled('17 * * * *')).status, 200);
    assert.equal(xr.control.refreshGrants.length, before, 'a fresh grant is left alone');

    d1(worker, `UPDATE datasources SET tokens_refreshed_at = '2000-01-01T00:00:00Z' WHERE id = '${id}'`);
    assert.equal((await worker.scheduled('17 * * * *')).status, 200);
    assert.equal(xr.control.refreshGrants.length, before + 1);
    const audit = (await call(worker, 'user_s', 'GET', `/api/v1/datasources/${id}/audit`)).body.data;
    assert.equal(audit[0].action, 'refresh');
    assert.equal(audit[0].actor, 'system:cron');
    const [row] = d1(worker, `SELECT tokens_refreshed_at FROM datasources WHERE id = '${id}'`);
    assert.ok(row.tokens_refreshed_at > '2001');
  } finally {
    await worker.stop();
  }
});

const keyOf = (worker, id) => d1(worker, `SELECT credentials FROM datasources WHERE id = '${id}'`)[0].credentials.split('.')[1];
const health = async (worker) => (await (await worker.fetch('/api/v1/health')).json()).encryption;

test('rotating ENCRYPTION_KEY finishes: rows used are re-sealed on read, the rest by the cron, and health counts what is left', async () => {
  const vars = { OCTOPUS_API_BASE: octo.url };
  const first = await startWorker({ vars: workerVars(issuer, { ...vars, ENCRYPTION_KEY: OLD_KEY }) });
  const body = { integration_id: 'octopus-energy', credentials: { api_key: OCTO_KEY, account_number: 'A-1B2C3D4E' } };
  const used = (await call(first, 'user_k', 'POST', '/api/v1/datasources', body)).body.id;
  const idle = (await call(first, 'user_k', 'POST', '/api/v1/datasources', body)).body.id;
  const switchedOff = (await call(first, 'user_k', 'POST', '/api/v1/datasources', body)).body.id;
  await call(first, 'user_k', 'PUT', `/api/v1/datasources/${switchedOff}`, { enabled: false });
  const oldKid = keyOf(first, used);
  await first.stop({ keepData: true });

  // A deployment that lost the old key: a configuration fault, not tampering.
  const forgetful = await startWorker({ persistDir: first.persistDir, vars: workerVars(issuer, { ...vars, ENCRYPTION_KEY: NEW_KEY }) });
  try {
    const res = await forgetful.fetch(`/api/v1/datasources/${used}/check`, { method: 'POST', headers: { authorization: `Bearer ${issuer.token('user_k')}` } });
    assert.equal(res.status, 500);
    const problem = await res.json();
    assert.ok(!/key|ENCRYPTION/.test(problem.detail), 'the cause stays in the log');
    const line = await forgetful.logLine(problem.request_id, (l) => l.error);
    assert.match(line.error, /ENCRYPTION_KEYS/);
    const [row] = d1(forgetful, `SELECT status, last_error FROM datasources WHERE id = '${used}'`);
    assert.deepEqual(row, { status: 'active', last_error: null }, 'the row is untouched');
  } finally {
    await forgetful.stop({ keepData: true });
  }

  const second = await startWorker({
    persistDir: first.persistDir,
    vars: workerVars(issuer, { ...vars, ENCRYPTION_KEY: NEW_KEY, ENCRYPTION_KEYS: OLD_KEY }),
  });
  try {
    const before = await health(second);
    assert.notEqual(before.active_key_id, oldKid);
    assert.deepEqual(before.rows_by_key, [{ key_id: oldKid, rows: 3 }]);

    assert.equal((await call(second, 'user_k', 'POST', `/api/v1/datasources/${used}/check`)).status, 200, 'the retired key still decrypts');
    assert.equal(keyOf(second, used), before.active_key_id, 're-sealed under the active key when read');
    assert.equal(keyOf(second, idle), oldKid);

    assert.equal((await second.scheduled('17 * * * *')).status, 200);
    for (const id of [idle, switchedOff]) assert.equal(keyOf(second, id), before.active_key_id, 'the cron re-sealed the rest');
    assert.deepEqual((await health(second)).rows_by_key, [{ key_id: before.active_key_id, rows: 3 }], 'the old key can be dropped');
    const audit = (await call(second, 'user_k', 'GET', `/api/v1/datasources/${idle}/audit`)).body.data;
    assert.equal(audit[0].action, 'reencrypt');
    assert.equal(audit[0].actor, 'system:cron');
  } finally {
    await second.stop({ keepData: true });
  }

  // The old key dropped: every row still opens.
  const third = await startWorker({ persistDir: first.persistDir, vars: workerVars(issuer, { ...vars, ENCRYPTION_KEY: NEW_KEY }) });
  try {
    for (const id of [used, idle]) assert.equal((await call(third, 'user_k', 'POST', `/api/v1/datasources/${id}/check`)).status, 200);
  } finally {
    await third.stop();
  }
});

test('a tampered ciphertext, and only that, marks the row as broken', async () => {
  const worker = await startWorker({ vars: workerVars(issuer, { OCTOPUS_API_BASE: octo.url }) });
  try {
    const id = (await call(worker, 'user_t', 'POST', '/api/v1/datasources', {
      integration_id: 'octopus-energy',
      credentials: { api_key: OCTO_KEY, account_number: 'A-1B2C3D4E' },
    })).body.id;
    const [{ credentials }] = d1(worker, `SELECT credentials FROM datasources WHERE id = '${id}'`);
    const flipped = credentials.slice(0, -2) + (credentials.at(-2) === 'A' ? 'B' : 'A') + credentials.at(-1);
    d1(worker, `UPDATE datasources SET credentials = '${flipped}' WHERE id = '${id}'`);
    const check = await call(worker, 'user_t', 'POST', `/api/v1/datasources/${id}/check`);
    assert.equal(check.status, 409);
    assert.match(check.body.detail, /failed authentication/);
    assert.ok(!check.body.detail.includes(OCTO_KEY));
    const ds = (await call(worker, 'user_t', 'GET', `/api/v1/datasources/${id}`)).body;
    assert.equal(ds.status, 'error');
  } finally {
    await worker.stop();
  }
});
