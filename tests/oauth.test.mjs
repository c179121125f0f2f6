// OAuth connections through the built Worker: Xero against a real OAuth 2.0
// authorization server (oauth2-mock-server, made to enforce PKCE, client
// auth and single-use rotating refresh tokens), Enphase against a fake that
// speaks its query-string token quirk. Covers the full flow (the callback
// page relays, the signed-in user completes), a forwarded authorization URL,
// state misuse, cancellation, concurrent and rotating refresh, invalid_grant,
// re-authorisation revoking the grant it replaces, revocation.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FRONTEND, newIssuer, workerVars } from './helpers/auth.mjs';
import { d1 } from './helpers/d1.mjs';
import { expectProblem, userClient } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';
import { enphase } from './fakes/enphase.mjs';
import { xero } from './fakes/xero.mjs';

const issuer = newIssuer();
let worker, xr, en;
const seen = [];

before(async () => {
  xr = await xero({ clientId: 'xero-client', clientSecret: 'xero-secret-Do-Not-Leak' });
  en = await enphase({ clientId: 'enphase-client', clientSecret: 'enphase-secret-Do-Not-Leak', apiKey: 'enphase-app-key' });
  worker = await startWorker({
    vars: workerVars(issuer, {
      ...xr.vars,
      ENPHASE_CLIENT_ID: 'enphase-client',
      ENPHASE_CLIENT_SECRET: 'enphase-secret-Do-Not-Leak',
      ENPHASE_API_KEY: 'enphase-app-key',
      ENPHASE_AUTHORIZE_URL: `${en.url}/oauth/authorize`,
      ENPHASE_TOKEN_URL: `${en.url}/oauth/token`,
      ENPHASE_API_BASE: en.url,
      FRONTEND_ORIGIN: FRONTEND,
    }),
  });
});
after(async () => {
  await worker?.stop();
  await xr?.close();
  await en?.close();
});

const api = userClient(() => worker, issuer, seen);

/** What the user's browser does: open the provider URL, follow its redirect. */
async function consent(authorizationUrl) {
  const res = await fetch(authorizationUrl, { redirect: 'manual' });
  assert.equal(res.status, 302, `provider answered ${res.status}`);
  return new URL(res.headers.get('location'));
}

/** The browser landing on the Worker's callback. */
async function land(callbackUrl, headers = {}) {
  const local = new URL(callbackUrl.pathname + callbackUrl.search, worker.url);
  const res = await fetch(local, { headers });
  const text = await res.text();
  seen.push(text);
  return { status: res.status, headers: res.headers, text };
}

function posted(page) {
  const m = /var result = (\{.*?\});/.exec(page);
  return m && JSON.parse(m[1]);
}

/** What the frontend does with the page's message: complete as the user. */
async function complete(user, relayed) {
  const body = relayed.code ? { state: relayed.state, code: relayed.code } : { state: relayed.state, error: relayed.error ?? 'access_denied' };
  return api(user, 'POST', '/api/v1/datasources/oauth/complete', body);
}

async function connectXero(user, extra = {}) {
  const auth = await api(user, 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero', display_name: 'Books', ...extra });
  assert.equal(auth.status, 201, JSON.stringify(auth.body));
  const back = await consent(auth.body.authorization_url);
  const page = await land(back);
  assert.equal(page.status, 200, page.text);
  const relayed = posted(page.text);
  const done = await complete(user, relayed);
  assert.ok([200, 201].includes(done.status), JSON.stringify(done.body));
  return { auth: auth.body, back, page, relayed, done, id: done.body.datasource.id };
}

const count = () => d1(worker, 'SELECT COUNT(*) AS n FROM datasources')[0].n;

describe('Xero (authorization code + PKCE, form body, Basic auth)', () => {
  test('authorize -> consent -> callback -> active, with tenants and no tokens shown', async () => {
    const auth = await api('user_x', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero', display_name: 'Books' });
    assert.equal(auth.status, 201);
    const url = new URL(auth.body.authorization_url);
    assert.equal(url.origin + url.pathname, `${xr.base}/authorize`);
    assert.equal(url.searchParams.get('client_id'), 'xero-client');
    assert.equal(url.searchParams.get('state'), auth.body.state);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.match(url.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.match(url.searchParams.get('scope'), /offline_access/);
    assert.equal(url.searchParams.get('redirect_uri'), `${worker.url}/api/v1/oauth/xero/callback`);
    const expiry = Date.parse(auth.body.expires_at) - Date.now();
    assert.ok(expiry > 9 * 60_000 && expiry <= 10 * 60_000 + 2000, `state expires in ${expiry} ms`);

    const before = count();
    const page = await land(await consent(auth.body.authorization_url));
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /text\/html/);
    assert.match(page.headers.get('content-security-policy'), /script-src 'nonce-[A-Za-z0-9_-]+'/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.ok(page.text.includes(`postMessage(result, ${JSON.stringify(FRONTEND)})`), 'posts to the configured origin only');
    const relayed = posted(page.text);
    assert.equal(relayed.source, 'carbon-oauth');
    assert.equal(relayed.status, 'authorized');
    assert.equal(relayed.state, auth.body.state);
    assert.equal(count(), before, 'the callback alone stores nothing');

    const done = await complete('user_x', relayed);
    assert.equal(done.status, 201, JSON.stringify(done.body));
    assert.equal(done.body.status, 'connected');
    assert.equal(done.headers.get('location'), `/api/v1/datasources/${done.body.datasource.id}`);
    const ds = await api('user_x', 'GET', `/api/v1/datasources/${done.body.datasource.id}`);
    assert.equal(ds.body.status, 'active');
    assert.equal(ds.body.auth_type, 'oauth2');
    assert.equal(ds.body.display_name, 'Books');
    assert.equal(ds.body.provider.tenants[0].name, 'Maple Florists Ltd');
    assert.deepEqual(ds.body.settings, {}, 'provider facts are not user settings');
    assert.ok(Date.parse(ds.body.token_expires_at) > Date.now());
    assert.equal(xr.api.requests.at(-1).path, '/connections');
  });

  test('only read scopes and offline_access are requested, no identity scopes', async () => {
    const auth = await api('user_x', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero' });
    const scopes = new URL(auth.body.authorization_url).searchParams.get('scope').split(' ').sort();
    assert.deepEqual(scopes, ['accounting.banktransactions.read', 'accounting.invoices.read', 'accounting.settings.read', 'offline_access']);
  });

  test('authorize checks a name as create does; a null datasource_id is no datasource_id', async () => {
    for (const display_name of ['', '   ', 'x'.repeat(201)]) {
      const res = await api('user_x', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero', display_name });
      assert.equal(res.status, 422, JSON.stringify(display_name));
      assert.equal(res.body.field, 'display_name');
    }
    const ok = await api('user_x', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero', datasource_id: null });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  test('a forwarded authorization URL cannot connect anyone else\'s organisation to its requester', async () => {
    // Mallory starts an authorisation and sends the provider URL to Victor.
    const auth = await api('user_mallory', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero' });
    const before = count();
    const exchangesBefore = xr.control.issuedRefresh.length;
    // Victor approves; his browser (no session: Clerk tokens last 60 s) lands on the callback.
    const page = await land(await consent(auth.body.authorization_url));
    assert.equal(page.status, 200);
    assert.equal(count(), before, 'the callback stored nothing');
    assert.equal(xr.control.issuedRefresh.length, exchangesBefore, 'no code was exchanged');
    const relayed = posted(page.text);
    // Victor, signed in, cannot complete Mallory's state either...
    const victor = await complete('user_victor', relayed);
    assert.equal(victor.status, 400);
    assert.equal(victor.body.type, '/problems/bad-request');
    // ...and Mallory holds the state but not the code Victor's browser got.
    // The provider answers invalid_grant: a 422 on the code, not a gateway error.
    const guessed = await complete('user_mallory', { state: auth.body.state, code: 'not-the-code' });
    assert.equal(guessed.status, 422);
    assert.equal(guessed.body.errors[0].field, 'code');
    assert.equal(count(), before, 'nothing was stored for anyone');
    assert.equal((await api('user_mallory', 'GET', '/api/v1/datasources')).body.pagination.total, 0);
    assert.equal((await api('user_victor', 'GET', '/api/v1/datasources')).body.pagination.total, 0);
  });

  test('a state used by another user fails without spending it; a replay fails', async () => {
    const auth = await api('user_owner', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero' });
    const relayed = posted((await land(await consent(auth.body.authorization_url))).text);
    const other = await complete('user_other', relayed);
    assert.equal(other.status, 400);
    const mine = await complete('user_owner', relayed);
    assert.equal(mine.status, 201, 'the owner can still complete');
    const before = count();
    const replay = await complete('user_owner', relayed);
    assert.equal(replay.status, 400);
    assert.equal(count(), before);
    // The callback says at once that the link is spent.
    const again = await land(new URL(`/api/v1/oauth/xero/callback?code=${relayed.code}&state=${relayed.state}`, worker.url));
    assert.equal(again.status, 400);
    assert.equal(posted(again.text).status, 'error');
  });

  test('missing, unknown, foreign and expired states are 400 problems for JSON clients', async () => {
    const json = { accept: 'application/json' };
    await expectProblem(assert, await worker.fetch('/api/v1/oauth/xero/callback?code=abc', { headers: json }), 400);
    await expectProblem(assert, await worker.fetch('/api/v1/oauth/xero/callback?code=abc&state=forged', { headers: json }), 400);

    const auth = (await api('user_x', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero' })).body;
    const onEnphase = await worker.fetch(`/api/v1/oauth/enphase/callback?code=abc&state=${auth.state}`, { headers: json });
    await expectProblem(assert, onEnphase, 400);
    const relayed = await (await worker.fetch(`/api/v1/oauth/xero/callback?code=abc&state=${auth.state}`, { headers: json })).json();
    assert.deepEqual(relayed, { source: 'carbon-oauth', status: 'authorized', integration_id: 'xero', state: auth.state, code: 'abc' });

    const old = (await api('user_x', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero' })).body;
    const back = await consent(old.authorization_url);
    d1(worker, "UPDATE oauth_states SET expires_at = '2000-01-01T00:00:00Z' WHERE used_at IS NULL");
    const late = await land(back);
    assert.equal(late.status, 400);
    const lateComplete = await complete('user_x', { state: old.state, code: back.searchParams.get('code') });
    assert.equal(lateComplete.status, 400);
  });

  test('access_denied ends as cancelled and stores nothing', async () => {
    const before = (await api('user_y', 'GET', '/api/v1/datasources')).body.pagination.total;
    const auth = (await api('user_y', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero' })).body;
    const page = await land(new URL(`/api/v1/oauth/xero/callback?error=access_denied&error_description=User+cancelled&state=${auth.state}`, worker.url));
    assert.equal(page.status, 200);
    const relayed = posted(page.text);
    assert.deepEqual(relayed, { source: 'carbon-oauth', status: 'cancelled', integration_id: 'xero', state: auth.state });
    const done = await complete('user_y', relayed);
    assert.deepEqual(done.body, { status: 'cancelled' });
    assert.equal((await api('user_y', 'GET', '/api/v1/datasources')).body.pagination.total, before);
  });

  test('a provider error other than access_denied is relayed to the frontend, and completes nothing', async () => {
    const auth = (await api('user_y', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero' })).body;
    const page = await land(new URL(`/api/v1/oauth/xero/callback?error=invalid_scope&error_description=No+such+scope&state=${auth.state}`, worker.url));
    assert.equal(page.status, 200, 'the callback relayed what the provider said');
    const relayed = posted(page.text);
    assert.equal(relayed.status, 'error');
    assert.match(relayed.error, /the provider refused: invalid_scope: No such scope/);
    // A redirect with neither a code nor an error is malformed: 400.
    const neither = await land(new URL(`/api/v1/oauth/xero/callback?state=${auth.state}`, worker.url));
    assert.equal(neither.status, 400);
  });

  test('concurrent checks on an expiring token make exactly one refresh request', async () => {
    xr.control.accessTtl = 60; // inside the refresh margin from the start
    const { id } = await connectXero('user_z');
    xr.control.accessTtl = 1800;
    const refreshesBefore = xr.control.refreshGrants.length;
    const results = await Promise.all(Array.from({ length: 5 }, () => api('user_z', 'POST', `/api/v1/datasources/${id}/check`)));
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200, 200], JSON.stringify(results.map((r) => r.body)));
    assert.equal(xr.control.refreshGrants.length - refreshesBefore, 1, 'one refresh reached the provider');
    const ds = await api('user_z', 'GET', `/api/v1/datasources/${id}`);
    assert.equal(ds.body.status, 'active');
    assert.ok(Date.parse(ds.body.token_expires_at) - Date.now() > 20 * 60_000);
  });

  test('a 401 forces one refresh that uses the rotated refresh token', async () => {
    const { id } = await connectXero('user_r');
    const issuedBefore = xr.control.issuedRefresh.at(-1);
    xr.expireAccessTokens();
    const check = await api('user_r', 'POST', `/api/v1/datasources/${id}/check`);
    assert.equal(check.status, 200, JSON.stringify(check.body));
    assert.equal(xr.control.refreshGrants.at(-1), issuedBefore, 'the latest refresh token was presented');
    // And again: the token issued by that refresh is the one stored now.
    const rotated = xr.control.issuedRefresh.at(-1);
    assert.notEqual(rotated, issuedBefore);
    xr.expireAccessTokens();
    assert.equal((await api('user_r', 'POST', `/api/v1/datasources/${id}/check`)).status, 200);
    assert.equal(xr.control.refreshGrants.at(-1), rotated);
  });

  test('invalid_grant on refresh moves the datasource to reauth_required, with the reason', async () => {
    const { id } = await connectXero('user_g');
    xr.control.failRefreshWith = 'invalid_grant';
    xr.expireAccessTokens();
    const check = await api('user_g', 'POST', `/api/v1/datasources/${id}/check`);
    xr.control.failRefreshWith = null;
    assert.equal(check.status, 409);
    const ds = await api('user_g', 'GET', `/api/v1/datasources/${id}`);
    assert.equal(ds.body.status, 'reauth_required');
    assert.match(ds.body.last_error, /invalid_grant/);

    // Switching it off and on does not pretend it is healthy.
    await api('user_g', 'PUT', `/api/v1/datasources/${id}`, { enabled: false });
    assert.equal((await api('user_g', 'GET', `/api/v1/datasources/${id}`)).body.status, 'disabled');
    await api('user_g', 'PUT', `/api/v1/datasources/${id}`, { enabled: true });
    assert.equal((await api('user_g', 'GET', `/api/v1/datasources/${id}`)).body.status, 'reauth_required');

    // Re-authorising the same datasource brings it back.
    const again = await connectXero('user_g', { datasource_id: id });
    assert.equal(again.id, id);
    assert.equal(again.done.status, 200);
    assert.equal((await api('user_g', 'GET', `/api/v1/datasources/${id}`)).body.status, 'active');
  });

  test('re-authorising revokes the grant it replaces', async () => {
    const { id } = await connectXero('user_ra');
    const replaced = xr.control.issuedRefresh.at(-1);
    const again = await connectXero('user_ra', { datasource_id: id });
    assert.equal(again.done.status, 200);
    assert.ok(xr.control.revoked.includes(replaced), 'the replaced refresh token was revoked');
    assert.ok(!xr.control.revoked.includes(xr.control.issuedRefresh.at(-1)), 'the new grant is kept');
    const audit = await api('user_ra', 'GET', `/api/v1/datasources/${id}/audit`);
    assert.ok(audit.body.data.some((e) => e.action === 'revoke_replaced'));
  });

  test('a code exchanged for a datasource deleted meanwhile is revoked, not dropped', async () => {
    const { id } = await connectXero('user_rd');
    const auth = await api('user_rd', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero', datasource_id: id });
    const relayed = posted((await land(await consent(auth.body.authorization_url))).text);
    assert.equal((await api('user_rd', 'DELETE', `/api/v1/datasources/${id}`)).status, 204);
    const done = await complete('user_rd', relayed);
    assert.equal(done.status, 404);
    assert.match(done.body.detail, /deleted during the authorisation; grant revoked/);
    assert.ok(xr.control.revoked.includes(xr.control.issuedRefresh.at(-1)), 'the new grant was revoked');
  });

  test('DELETE revokes the grant at Xero and destroys the tokens', async () => {
    const { id } = await connectXero('user_d');
    const refreshToken = xr.control.issuedRefresh.at(-1);
    assert.equal((await api('user_d', 'DELETE', `/api/v1/datasources/${id}`)).status, 204);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(xr.control.revoked.includes(refreshToken), 'the refresh token was revoked');
    const [row] = d1(worker, `SELECT credentials FROM datasources WHERE id = '${id}'`);
    assert.equal(row.credentials, null);
    const audit = await api('user_d', 'GET', `/api/v1/datasources/${id}/audit`);
    assert.match(audit.body.data[0].detail, /revoked/);
  });
});

describe('Enphase (grant parameters in the query string)', () => {
  test('the full flow works against Enphase token-request quirks', async () => {
    const auth = await api('user_e', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'enphase' });
    assert.equal(auth.status, 201);
    const url = new URL(auth.body.authorization_url);
    assert.equal(url.searchParams.get('code_challenge'), null, 'Enphase does not do PKCE');
    const page = await land(await consent(auth.body.authorization_url));
    assert.equal(page.status, 200, page.text);
    const done = await complete('user_e', posted(page.text));
    assert.equal(done.status, 201, JSON.stringify(done.body));
    const token = en.requests.find((r) => r.path === '/oauth/token');
    assert.equal(token.query.grant_type, 'authorization_code');
    assert.equal(token.body, '');
    const ds = await api('user_e', 'GET', `/api/v1/datasources/${done.body.datasource.id}`);
    assert.equal(ds.body.status, 'active');
    assert.equal(ds.body.provider.systems[0].system_id, 698905955);
  });
});

test('no client secret, access token or refresh token appears in any response or log', async () => {
  await new Promise((r) => setTimeout(r, 300));
  const logs = worker.logs();
  const secrets = ['xero-secret-Do-Not-Leak', 'enphase-secret-Do-Not-Leak', ...xr.control.issuedRefresh];
  for (const secret of secrets) {
    assert.ok(!seen.some((b) => b.includes(secret)), `a response contains ${secret.slice(0, 12)}`);
    assert.ok(!logs.includes(secret), `the log contains ${secret.slice(0, 12)}`);
  }
});

describe('a server without OAuth clients or with a bad encryption key', () => {
  let bare;
  before(async () => {
    bare = await startWorker({ vars: workerVars(issuer, { ENCRYPTION_KEY: 'dG9vLXNob3J0' }) });
  });
  after(() => bare?.stop());

  test('authorize answers 503 naming the missing setting', async () => {
    const res = await bare.fetch('/api/v1/datasources/oauth/authorize', {
      method: 'POST',
      headers: { authorization: `Bearer ${issuer.token('user_q')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ integration_id: 'enphase' }),
    });
    const body = await expectProblem(assert, res, 503);
    assert.match(body.detail, /ENPHASE_CLIENT_ID/);
  });

  test('a malformed ENCRYPTION_KEY is an opaque 500 whose log line names it', async () => {
    const res = await bare.fetch('/api/v1/datasources', {
      method: 'POST',
      headers: { authorization: `Bearer ${issuer.token('user_q')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ integration_id: 'octopus-energy', credentials: { api_key: 'sk_live_Aa1Bb2Cc3Dd4Ee5Ff6Gg', account_number: 'A-1B2C3D4E' } }),
    });
    const body = await expectProblem(assert, res, 500);
    assert.ok(!body.detail.includes('ENCRYPTION_KEY'));
    const line = await bare.logLine(body.request_id, (l) => l.error);
    assert.match(line.error, /ENCRYPTION_KEY must decode to 32 bytes/);
  });
});
