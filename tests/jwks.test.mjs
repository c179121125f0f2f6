// Keys from a JWKS URL (CLERK_JWKS_URL): fetched from a fake Clerk on
// loopback, cached per isolate, refetched at most once a minute for an
// unknown `kid`.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { newIssuer, workerVars } from './helpers/auth.mjs';
import { startWorker } from './helpers/worker.mjs';

const issuer = newIssuer('ins_2abc');
const stranger = newIssuer('ins_unknown');
let jwksFetches = 0;
let server;
let worker;

before(async () => {
  server = http.createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    jwksFetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [issuer.jwk()] }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const vars = workerVars(issuer, { CLERK_JWKS_URL: `http://127.0.0.1:${server.address().port}/.well-known/jwks.json` });
  delete vars.CLERK_JWT_KEY;
  worker = await startWorker({ vars });
});
after(async () => {
  await worker?.stop();
  server?.close();
});

const me = (token) => worker.fetch('/api/v1/me', { headers: { authorization: `Bearer ${token}` } });

test('a token whose kid is in the JWKS is accepted, and the set is cached', async () => {
  for (let i = 0; i < 3; i++) {
    const res = await me(issuer.token('user_jwks'));
    assert.equal(res.status, 200);
  }
  assert.equal(jwksFetches, 1);
});

test('an unknown kid is refused without refetching within the minute', async () => {
  const before = jwksFetches;
  for (let i = 0; i < 3; i++) {
    const res = await me(stranger.token('user_jwks'));
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.match(body.detail, /unknown key/);
  }
  assert.equal(jwksFetches, before);
});

describe('an issuer key endpoint that fails or is slow', () => {
  let flaky, flakyWorker;
  const control = { mode: 'fail', fetches: 0 };
  before(async () => {
    flaky = http.createServer((req, res) => {
      control.fetches += 1;
      if (control.mode === 'fail') return res.writeHead(500).end('upstream error');
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [issuer.jwk()] })), 400);
    });
    await new Promise((r) => flaky.listen(0, '127.0.0.1', r));
    const vars = workerVars(issuer, { CLERK_JWKS_URL: `http://127.0.0.1:${flaky.address().port}/.well-known/jwks.json` });
    delete vars.CLERK_JWT_KEY;
    flakyWorker = await startWorker({ vars });
  });
  after(async () => {
    await flakyWorker?.stop();
    flaky?.close();
  });

  const call = () => flakyWorker.fetch('/api/v1/me', { headers: { authorization: `Bearer ${issuer.token('user_jwks')}` } });

  test('a failed fetch with nothing cached is an opaque 503 and backs off', async () => {
    const first = await call();
    assert.equal(first.status, 503);
    const body = await first.json();
    assert.ok(!body.detail.includes('127.0.0.1') && !/500|upstream/.test(body.detail), body.detail);
    for (let i = 0; i < 4; i++) assert.equal((await call()).status, 503);
    assert.equal(control.fetches, 1, 'no refetch during the backoff');
  });

  test('concurrent requests share one fetch', async () => {
    control.mode = 'slow';
    await new Promise((r) => setTimeout(r, 1100)); // past the first backoff step
    const before = control.fetches;
    const results = await Promise.all(Array.from({ length: 8 }, call));
    assert.deepEqual(results.map((r) => r.status), Array(8).fill(200), flakyWorker.logs().slice(-3000));
    assert.equal(control.fetches - before, 1);
  });
});
