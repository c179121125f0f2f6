// OAuth connections through the built Worker: Xero against a real OAuth 2.0
// authorization server (oauth2-mock-server, made to enforce PKCE, client
// auth and single-use rotating refresh tokens), Enphase against a fake that
// speaks its query-string token quirk. Covers the full flow, state misuse,
// cancellation, concurrent and rotating refresh, invalid_grant, revocation.

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

async function connectXero(user, extra = {}) {
  const auth = await api(user, 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero', display_name: 'Books', ...extra });
  assert.equal(auth.status, 201, JSON.stringify(auth.body));
  const back = await consent(auth.body.authorization_url);
  const page = await land(back);
  assert.equal(page.status, 200, page.text);
  return { auth: auth.body, back, page, id: posted(page.text).datasource_id };
}

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

    const page = await land(await consent(auth.body.authorization_url));
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /text\/html/);
    assert.match(page.headers.get('content-security-policy'), /script-src 'nonce-[A-Za-z0-9_-]+'/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.ok(page.text.includes(`postMessage(result, ${JSON.stringify(FRONTEND)})`), 'posts to the configured origin only');
    const result = posted(page.text);
    assert.equal(result.status, 'connected');

    const ds = await api('user_x', 'GET', `/api/v1/datasources/${result.datasource_id}`);
    assert.equal(ds.body.status, 'active');
    assert.equal(ds.body.auth_type, 'oauth2');
    assert.equal(ds.body.display_name, 'Books');
    assert.equal(ds.body.settings.provider.tenants[0].name, 'Maple Florists Ltd');
    assert.ok(Date.parse(ds.body.token_expires_at) > Date.now());
    assert.equal(xr.api.requests.at(-1).path, '/connections');
  });

  test('a used state cannot be replayed, and nothing more is stored', async () => {
    const { back } = await connectXero('user_x');
    const before = (await api('user_x', 'GET', '/api/v1/datasources')).body.pagination.total;
    const replay = await land(back);
    assert.equal(replay.status, 400);
    assert.equal(posted(replay.text).status, 'error');
    assert.equal((await api('user_x', 'GET', '/api/v1/datasources')).body.pagination.total, before);
  });

  test('missing, unknown, foreign and expired states are 400 problems for JSON clients', async () => {
    const json = { accept: 'application/json' };
    await expectProblem(assert, await worker.fetch('/api/v1/oauth/xero/callback?code=abc', { headers: json }), 400);
    await expectProblem(assert, await worker.fetch('/api/v1/oauth/xero/callback?code=abc&state=forged', { headers: json }), 400);

    const auth = (await api('user_x', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero' })).body;
    const onEnphase = await worker.fetch(`/api/v1/oauth/enphase/callback?code=abc&state=${auth.state}`, { headers: json });
    await expectProblem(assert, onEnphase, 400);

    const mine = (await api('user_x', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero' })).body;
    const back = await consent(mine.authorization_url);
    const stolen = await land(back, { cookie: `__session=${issuer.token('user_mallory')}` });
    assert.equal(stolen.status, 400, 'a state issued to someone else is refused');

    const old = (await api('user_x', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero' })).body;
    d1(worker, "UPDATE oauth_states SET expires_at = '2000-01-01T00:00:00Z' WHERE used_at IS NULL");
    const late = await land(await consent(old.authorization_url));
    assert.equal(late.status, 400);
  });

  test('access_denied ends as cancelled and stores nothing', async () => {
    const before = (await api('user_y', 'GET', '/api/v1/datasources')).body.pagination.total;
    const auth = (await api('user_y', 'POST', '/api/v1/datasources/oauth/authorize', { integration_id: 'xero' })).body;
    const page = await land(new URL(`/api/v1/oauth/xero/callback?error=access_denied&error_description=User+cancelled&state=${auth.state}`, worker.url));
    assert.equal(page.status, 200);
    assert.deepEqual(posted(page.text), { status: 'cancelled' });
    assert.equal((await api('user_y', 'GET', '/api/v1/datasources')).body.pagination.total, before);
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
    assert.equal((await api('user_g', 'GET', `/api/v1/datasources/${id}`)).body.status, 'active');
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
    const token = en.requests.find((r) => r.path === '/oauth/token');
    assert.equal(token.query.grant_type, 'authorization_code');
    assert.equal(token.body, '');
    const id = posted(page.text).datasource_id;
    const ds = await api('user_e', 'GET', `/api/v1/datasources/${id}`);
    assert.equal(ds.body.status, 'active');
    assert.equal(ds.body.settings.provider.systems[0].system_id, 698905955);
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
    await new Promise((r) => setTimeout(r, 200));
    const line = bare.logLines().find((l) => l.request_id === body.request_id);
    assert.match(line.error, /ENCRYPTION_KEY must decode to 32 bytes/);
  });
});
