// Connections over time: the scheduled job keeps OAuth grants alive for
// connections nobody used, and encryption keys rotate without losing data.

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
    const page = await (await fetch(new URL(back.pathname + back.search, worker.url))).text();
    const id = /"datasource_id":"([^"]+)"/.exec(page)[1];

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

test('rotating ENCRYPTION_KEY: old rows still open, and are re-encrypted when next written', async () => {
  const vars = { OCTOPUS_API_BASE: octo.url };
  const first = await startWorker({ vars: workerVars(issuer, { ...vars, ENCRYPTION_KEY: OLD_KEY }) });
  const id = (await call(first, 'user_k', 'POST', '/api/v1/datasources', {
    integration_id: 'octopus-energy',
    credentials: { api_key: OCTO_KEY, account_number: 'A-1B2C3D4E' },
  })).body.id;
  const [{ credentials: sealedOld }] = d1(first, `SELECT credentials FROM datasources WHERE id = '${id}'`);
  await first.stop({ keepData: true });

  const second = await startWorker({
    persistDir: first.persistDir,
    vars: workerVars(issuer, { ...vars, ENCRYPTION_KEY: NEW_KEY, ENCRYPTION_KEYS: OLD_KEY }),
  });
  try {
    assert.equal((await call(second, 'user_k', 'POST', `/api/v1/datasources/${id}/check`)).status, 200, 'the retired key still decrypts');
    const [{ credentials: stillOld }] = d1(second, `SELECT credentials FROM datasources WHERE id = '${id}'`);
    assert.equal(stillOld, sealedOld, 'reading does not rewrite');
    const put = await call(second, 'user_k', 'PUT', `/api/v1/datasources/${id}`, { credentials: { api_key: OCTO_KEY, account_number: 'A-1B2C3D4E' } });
    assert.equal(put.status, 200);
    const [{ credentials: sealedNew }] = d1(second, `SELECT credentials FROM datasources WHERE id = '${id}'`);
    assert.notEqual(sealedNew.split('.')[1], sealedOld.split('.')[1], 'written under the new key id');
  } finally {
    await second.stop();
  }
});
