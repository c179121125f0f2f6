// The edges a review found in connections, each tried the way an attacker or
// a broken provider would: bodies that stream past the limit, providers that
// redirect, stall, flood or answer with markup, refresh races that could
// spend a rotating token twice or break a fresh connection, a keep-alive job
// that must back off, rate limits, and configuration that must not pass.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { d1 } from './helpers/d1.mjs';
import { expectProblem, userClient } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';
import { octopus } from './fakes/keyed.mjs';
import { listen } from './fakes/server.mjs';
import { xero } from './fakes/xero.mjs';
import { awayFromBoundary, sleep, until } from './helpers/clock.mjs';

const issuer = newIssuer();
const KEY = 'sk_live_Aa1Bb2Cc3Dd4Ee5Ff6Gg';
const KEY_2 = 'sk_live_Zz9Yy8Xx7Ww6Vv5Uu4Tt';
const seen = [];
let worker, octo, xr, attacker;

before(async () => {
  octo = await octopus({ accounts: { 'A-1B2C3D4E': { key: KEY, mpan: '1012345678901' }, 'A-AAAA0001': { key: KEY_2, mpan: '1098765432109' } } });
  xr = await xero({ clientId: 'xero-client', clientSecret: 'xero-secret-Do-Not-Leak' });
  attacker = await listen((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  worker = await startWorker({ vars: workerVars(issuer, { OCTOPUS_API_BASE: octo.url, ...xr.vars }) });
});
after(async () => {
  await worker?.stop();
  await octo?.close();
  await xr?.close();
  await attacker?.close();
});

const api = userClient(() => worker, issuer, seen);
const octopusBody = (key = KEY, account = 'A-1B2C3D4E') => ({ integration_id: 'octopus-energy', credentials: { api_key: key, account_number: account } });
const row = (id, cols) => d1(worker, `SELECT ${cols} FROM datasources WHERE id = '${id}'`)[0];

async function connectXero(user) {
  const auth = await api(user, 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero' });
  const consent = await fetch(auth.body.authorization_url, { redirect: 'manual' });
  const back = new URL(consent.headers.get('location'));
  const done = await api(user, 'POST', '/api/v1/datasources/oauth/complete', { state: back.searchParams.get('state'), code: back.searchParams.get('code') });
  assert.equal(done.status, 201, JSON.stringify(done.body));
  return done.body.datasource;
}

/** A body the client produces lazily, counting what the server pulled. */
function streamed(total, chunk = 64 * 1024) {
  const pulled = { bytes: 0 };
  const piece = new Uint8Array(chunk).fill(0x20);
  const stream = new ReadableStream({
    pull(controller) {
      if (pulled.bytes >= total) return controller.close();
      pulled.bytes += chunk;
      controller.enqueue(piece);
    },
  });
  return { stream, pulled };
}

describe('2. request bodies are bounded while they stream', () => {
  test('a chunked body of no declared length stops at the limit with 413', async () => {
    // The client sends a little more than the limit and then holds the
    // request open without ending it. A server that reads bodies whole waits
    // for the end forever; one that counts as it reads answers 413 at once.
    // (Sending on after that would race the server's close: a reset can
    // swallow the answer.) node:http, because fetch gives no response before
    // it has sent the whole body.
    const url = new URL('/api/v1/datasources', worker.url);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const { status, body } = await new Promise((resolve, reject) => {
      const req = http.request(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${issuer.token('user_body')}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      });
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error('no answer within 20 s: the body was not bounded while streaming'));
      }, 20_000);
      req.on('response', (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      for (let sent = 0; sent <= 1024 * 1024; sent += chunk.length) req.write(chunk);
    });
    assert.equal(status, 413, body);
    assert.equal(JSON.parse(body).type, '/problems/payload-too-large');
    assert.equal((await worker.fetch('/api/v1/health')).status, 200, 'the isolate survived');
  });

  test('a chunked JSON body under the limit is read whole and used', async () => {
    const id = (await api('user_body', 'POST', '/api/v1/datasources', octopusBody())).body.id;
    const json = new TextEncoder().encode(JSON.stringify({ display_name: 'Streamed name' }));
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(json.slice(0, 5));
        c.enqueue(json.slice(5));
        c.close();
      },
    });
    const res = await worker.fetch(`/api/v1/datasources/${id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${issuer.token('user_body')}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).display_name, 'Streamed name');
  });

  test('a missing content type on a JSON route is 415 whatever the length', async () => {
    const auth = { authorization: `Bearer ${issuer.token('user_body')}` };
    await expectProblem(assert, await worker.fetch('/api/v1/datasources', { method: 'POST', headers: auth }), 415);
    const { stream } = streamed(10);
    await expectProblem(assert, await worker.fetch('/api/v1/datasources', { method: 'POST', headers: auth, body: stream, duplex: 'half' }), 415);
  });
});

describe('3. outbound calls are bounded', () => {
  test('a provider redirect is not followed: the credentials never reach its target', async () => {
    octo.mode = 'redirect';
    octo.redirectTo = attacker.url;
    try {
      const res = await api('user_out', 'POST', '/api/v1/datasources', octopusBody());
      assert.equal(res.status, 502);
      assert.match(res.body.detail, /redirect \(307\)/);
    } finally {
      octo.mode = 'ok';
    }
    assert.equal(attacker.requests.length, 0, 'nothing was sent to the Location');
  });

  test('an oversized answer and a stalled body end in 502 instead of exhausting the isolate', async () => {
    try {
      octo.mode = 'huge';
      const huge = await api('user_out', 'POST', '/api/v1/datasources', octopusBody());
      assert.equal(huge.status, 502);
      assert.match(huge.body.detail, /exceeded/);
      octo.mode = 'stall';
      const started = Date.now();
      const stalled = await api('user_out', 'POST', '/api/v1/datasources', octopusBody());
      assert.equal(stalled.status, 502);
      assert.match(stalled.body.detail, /did not answer within 15s/);
      assert.ok(Date.now() - started < 25_000);
    } finally {
      octo.mode = 'ok';
    }
  });

  test('provider error text is cleaned and bounded before it is shown', async () => {
    octo.mode = 'hostile-error';
    try {
      const res = await api('user_out', 'POST', '/api/v1/datasources', octopusBody());
      assert.equal(res.status, 422);
      const detail = res.body.detail;
      assert.ok(!/[<>\u001b]/.test(detail), detail);
      assert.ok(detail.length < 400, `${detail.length} characters`);
      assert.match(detail, /Invalid API key/);
    } finally {
      octo.mode = 'ok';
    }
  });

  test('an absurd expires_in is clamped, not a panic', async () => {
    xr.control.accessTtl = 10000000000000;
    try {
      const ds = await connectXero('user_ttl');
      const years = (Date.parse(ds.token_expires_at) - Date.now()) / (365 * 86400_000);
      assert.ok(years > 0.99 && years < 1.01, `expires in ${years} years`);
    } finally {
      xr.control.accessTtl = 1800;
    }
  });
});

describe('4. refresh cannot lose or double-spend a rotating token', () => {
  test('a stalled token endpoint is cut at the deadline, the lease released and the failure counted', async () => {
    const ds = await connectXero('user_stall');
    xr.expireAccessTokens();
    xr.control.stallRefresh = true;
    const grants = xr.control.refreshGrants.length;
    const started = Date.now();
    let res;
    try {
      res = await api('user_stall', 'POST', `/api/v1/datasources/${ds.id}/check`);
    } finally {
      xr.control.stallRefresh = false;
    }
    const took = Date.now() - started;
    assert.equal(res.status, 502, JSON.stringify(res.body));
    assert.ok(took < 25_000, `gave up after ${took} ms`);
    assert.equal(xr.control.refreshGrants.length, grants + 1);
    const after = row(ds.id, 'status, refresh_lock_id, refresh_lock_until, refresh_failures');
    assert.deepEqual(after, { status: 'active', refresh_lock_id: null, refresh_lock_until: null, refresh_failures: 1 });
  });

  test("a loser's invalid_grant cannot mark a freshly refreshed connection reauth_required", async () => {
    const ds = await connectXero('user_race');
    xr.expireAccessTokens();
    const grants = xr.control.refreshGrants.length;
    // The loser's refresh request reaches Xero first and is held there,
    // unread; its lease lapses (as if it had hung), a winner claims the
    // lease, spends the same refresh token and stores the rotated one. Then
    // the loser's request is processed: the token is spent, invalid_grant.
    let release;
    xr.control.tokenHolds = [new Promise((r) => (release = r))];
    const held = xr.control.heldArrivals;
    const loser = api('user_race', 'POST', `/api/v1/datasources/${ds.id}/check`);
    await until(() => xr.control.heldArrivals === held + 1, 'the loser reached Xero');
    d1(worker, `UPDATE datasources SET refresh_lock_until = '2000-01-01T00:00:00Z' WHERE id = '${ds.id}'`);
    const winner = await api('user_race', 'POST', `/api/v1/datasources/${ds.id}/check`);
    assert.equal(winner.status, 200, JSON.stringify(winner.body));
    release();
    const l = await loser;
    assert.equal(xr.control.refreshGrants.length, grants + 2);
    assert.equal(xr.control.refreshGrants.at(-1), xr.control.refreshGrants.at(-2), 'the same token was presented twice');
    assert.equal(l.status, 200, `the loser used the winner's tokens: ${JSON.stringify(l.body)}`);
    const now = (await api('user_race', 'GET', `/api/v1/datasources/${ds.id}`)).body;
    assert.equal(now.status, 'active');
    xr.expireAccessTokens();
    assert.equal((await api('user_race', 'POST', `/api/v1/datasources/${ds.id}/check`)).status, 200, 'the stored rotated token works');
  });

  test('a check never overwrites credentials replaced while it ran', async () => {
    const id = (await api('user_cas', 'POST', '/api/v1/datasources', octopusBody())).body.id;
    octo.delayFor[KEY] = 3000;
    const calls = octo.requests.length;
    const slow = api('user_cas', 'POST', `/api/v1/datasources/${id}/check`);
    // Once its request reaches Octopus, the check has read the credentials.
    await until(() => octo.requests.length > calls, 'the check reached Octopus');
    // The key is revoked at Octopus and replaced by the user meanwhile.
    octo.revoked.add(KEY);
    const put = await api('user_cas', 'PUT', `/api/v1/datasources/${id}`, { credentials: { api_key: KEY_2, account_number: 'A-AAAA0001' } });
    assert.equal(put.status, 200);
    const check = await slow;
    delete octo.delayFor[KEY];
    octo.revoked.delete(KEY);
    assert.equal(check.status, 409, JSON.stringify(check.body));
    const ds = (await api('user_cas', 'GET', `/api/v1/datasources/${id}`)).body;
    assert.equal(ds.status, 'active');
    assert.equal(ds.last_error, null);
    assert.equal(ds.credential_hint, 'API key ••••u4Tt');
  });

  test('the keep-alive job backs off from a failing refresh and parks it after repeated failures', async () => {
    const ds = await connectXero('user_backoff');
    d1(worker, `UPDATE datasources SET tokens_refreshed_at = '2000-01-01T00:00:00Z' WHERE id = '${ds.id}'`);
    xr.control.refreshStatus = 503;
    try {
      const grants = xr.control.refreshGrants.length;
      assert.equal((await worker.scheduled('17 * * * *')).status, 200);
      assert.equal(xr.control.refreshGrants.length, grants + 1);
      let r = row(ds.id, 'status, refresh_failures, refresh_retry_at');
      assert.equal(r.status, 'active');
      assert.equal(r.refresh_failures, 1);
      const wait = Date.parse(r.refresh_retry_at) - Date.now();
      assert.ok(wait > 55 * 60_000 && wait <= 60 * 60_000, `retries in ${wait} ms`);
      assert.equal((await worker.scheduled('17 * * * *')).status, 200);
      assert.equal(xr.control.refreshGrants.length, grants + 1, 'not retried before its time');

      d1(worker, `UPDATE datasources SET refresh_failures = 4, refresh_retry_at = '2000-01-01T00:00:00Z' WHERE id = '${ds.id}'`);
      assert.equal((await worker.scheduled('17 * * * *')).status, 200);
      r = row(ds.id, 'status, last_error, refresh_failures');
      assert.equal(r.status, 'error');
      assert.equal(r.refresh_failures, 5);
      assert.match(r.last_error, /failed 5 times in a row/);
      assert.equal((await worker.scheduled('17 * * * *')).status, 200);
      assert.equal(xr.control.refreshGrants.length, grants + 2, 'a parked connection is left alone');
    } finally {
      xr.control.refreshStatus = null;
    }
    const check = await api('user_backoff', 'POST', `/api/v1/datasources/${ds.id}/check`);
    assert.equal(check.status, 200, 'a check brings it back');
    assert.equal(check.body.status, 'active');
    assert.equal(row(ds.id, 'refresh_failures').refresh_failures, 0);
  });

  test('a provider outage at connect time leaves the connection active with last_error', async () => {
    xr.control.connectionsDown = true;
    try {
      const ds = await connectXero('user_down');
      assert.equal(ds.status, 'active');
      assert.match(ds.last_error, /first check could not run/);
    } finally {
      xr.control.connectionsDown = false;
    }
  });
});

describe('6. rate limits on what reaches a provider', () => {
  // The local limiter counts in windows of the clock's minutes: a loop
  // straddling one would see two allowances.
  test('one user looping on check gets 429 with Retry-After; the provider sees at most the limit', async () => {
    await awayFromBoundary(60_000, 20_000);
    const id = (await api('user_loop', 'POST', '/api/v1/datasources', octopusBody())).body.id;
    const calls = octo.requests.length;
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await api('user_loop', 'POST', `/api/v1/datasources/${id}/check`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    assert.equal(octo.requests.length - calls, 5);
    const res = await worker.fetch(`/api/v1/datasources/${id}/check`, { method: 'POST', headers: { authorization: `Bearer ${issuer.token('user_loop')}` } });
    const problem = await expectProblem(assert, res, 429);
    assert.equal(res.headers.get('retry-after'), '60');
    assert.equal(problem.type, '/problems/rate-limited');
  });

  test('POST /datasources is not a free oracle for stolen keys', async () => {
    await awayFromBoundary(60_000, 20_000);
    const calls = octo.requests.length;
    const statuses = [];
    for (let i = 0; i < 12; i++) {
      const guess = `sk_live_Guess${String(i).padStart(2, '0')}Aa1Bb2Cc3Dd4`;
      statuses.push((await api('user_oracle', 'POST', '/api/v1/datasources', octopusBody(guess))).status);
    }
    assert.deepEqual(statuses.slice(10), [429, 429]);
    assert.ok(statuses.slice(0, 10).every((s) => s === 422), statuses.join(','));
    assert.equal(octo.requests.length - calls, 10, 'the provider saw only the allowed attempts');
  });
});

describe('7. smaller items', () => {
  test('provider facts live apart from settings and the user cannot edit them', async () => {
    const created = (await api('user_info', 'POST', '/api/v1/datasources', octopusBody())).body;
    assert.equal(created.provider.meter_points[0].mpan, '1012345678901');
    const put = await api('user_info', 'PUT', `/api/v1/datasources/${created.id}`, { settings: { provider: { meter_points: [{ mpan: 'forged' }] } } });
    assert.equal(put.status, 200);
    assert.equal(put.body.provider.meter_points[0].mpan, '1012345678901');
    assert.deepEqual(put.body.settings, { provider: { meter_points: [{ mpan: 'forged' }] } }, 'settings are only settings');
  });

  test('audit reads use the index that matches their query', () => {
    const plan = d1(worker, "EXPLAIN QUERY PLAN SELECT id FROM audit_log WHERE user_id = 'u' AND datasource_id = 'd' ORDER BY created_at DESC LIMIT 200");
    assert.ok(plan.some((p) => /audit_log_by_datasource/.test(p.detail)), JSON.stringify(plan));
  });

  test('an internal error on the callback page is logged with its cause', async () => {
    d1(worker, 'ALTER TABLE oauth_states RENAME TO oauth_states_gone');
    try {
      const res = await worker.fetch('/api/v1/oauth/xero/callback?code=c&state=s');
      assert.equal(res.status, 500);
      const page = await res.text();
      assert.match(page, /internal error/);
      const line = await worker.logLine(res.headers.get('x-request-id'), (l) => l.error);
      assert.match(line.error, /D1/);
    } finally {
      d1(worker, 'ALTER TABLE oauth_states_gone RENAME TO oauth_states');
    }
  });

  test('no key, client secret or token appears in any response or log', async () => {
    await sleep(200);
    const logs = worker.logs();
    for (const secret of [KEY, KEY_2, 'xero-secret-Do-Not-Leak', ...xr.control.issuedRefresh]) {
      assert.ok(!seen.some((b) => b.includes(secret)), `a response contains ${secret.slice(0, 12)}`);
      assert.ok(!logs.includes(secret), `the log contains ${secret.slice(0, 12)}`);
    }
  });
});

describe('7. production configuration', () => {
  let prod;
  before(async () => {
    prod = await startWorker({
      vars: workerVars(issuer, {
        ENVIRONMENT: 'production',
        ALLOWED_ORIGINS: 'http://app.example.com',
        FRONTEND_ORIGIN: 'https://app.example.com',
        CLERK_ISSUER: 'https://clerk.example.com',
      }),
      ready: 500,
    });
  });
  after(() => prod?.stop());

  test('http:// origins and a missing PUBLIC_BASE_URL refuse to serve, naming the setting in the log only', async () => {
    const res = await prod.fetch('/api/v1/integrations');
    const problem = await expectProblem(assert, res, 500);
    assert.ok(!/PUBLIC_BASE_URL|ALLOWED_ORIGINS/.test(problem.detail));
    const line = await prod.logLine(problem.request_id, (l) => l.error);
    assert.match(line.error, /PUBLIC_BASE_URL must be set in production/);
  });
});
