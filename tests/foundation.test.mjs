// The cross-cutting behaviour every endpoint relies on, through the built
// Worker in workerd: health, routing errors, body limits, CORS, auth, logs.

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { FRONTEND, newIssuer, workerVars } from './helpers/auth.mjs';
import { expectProblem } from './helpers/http.mjs';
import { startWorker } from './helpers/worker.mjs';

const issuer = newIssuer();
let worker;

before(async () => {
  worker = await startWorker({ vars: workerVars(issuer) });
});
after(() => worker?.stop());

const lastMigration = readdirSync(new URL('../migrations', import.meta.url)).filter((f) => f.endsWith('.sql')).sort().at(-1);

describe('health', () => {
  test('reports version, D1 and the applied schema version', async () => {
    const res = await worker.fetch('/api/v1/health');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
    const body = await res.json();
    assert.equal(body.status, 'ok');
    assert.equal(body.database, 'ok');
    assert.equal(body.schema_version, lastMigration);
    assert.match(body.version, /^\d+\.\d+\.\d+/);
  });

  test('HEAD answers like GET without a body', async () => {
    const res = await worker.fetch('/api/v1/health', { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });

  test('each request gets its own id', async () => {
    const a = await worker.fetch('/api/v1/health');
    const b = await worker.fetch('/api/v1/health');
    assert.notEqual(a.headers.get('x-request-id'), b.headers.get('x-request-id'));
  });
});

describe('routing errors', () => {
  test('unknown route is a 404 problem', async () => {
    const body = await expectProblem(assert, await worker.fetch('/api/v1/nope'), 404);
    assert.equal(body.type, '/problems/not-found');
    assert.equal(body.instance, '/api/v1/nope');
  });

  test('the test panic route does not exist unless enabled', async () => {
    await expectProblem(assert, await worker.fetch('/api/v1/_test/panic'), 404);
  });

  test('wrong method is a 405 with Allow', async () => {
    const res = await worker.fetch('/api/v1/health', { method: 'DELETE' });
    assert.equal(res.headers.get('allow'), 'GET, HEAD, OPTIONS');
    await expectProblem(assert, res, 405);
  });

  test('a method the platform does not know is a 405, not served as GET', async () => {
    for (const method of ['QUERY', 'PROPFIND']) {
      const res = await worker.fetch('/api/v1/integrations', { method });
      assert.equal(res.headers.get('allow'), 'GET, HEAD, OPTIONS', method);
      await expectProblem(assert, res, 405);
    }
  });
});

describe('request bodies', () => {
  // Every known path accepts JSON bodies within 1 MiB only, checked from the
  // headers before the method or anything else.
  test('a body that is not JSON is 415', async () => {
    const res = await worker.fetch('/api/v1/me', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    const body = await expectProblem(assert, res, 415);
    assert.equal(body.type, '/problems/unsupported-media-type');
  });

  test('a body over the limit is 413', async () => {
    const res = await worker.fetch('/api/v1/me', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(1024 * 1024 + 10) }),
    });
    const body = await expectProblem(assert, res, 413);
    assert.equal(body.type, '/problems/payload-too-large');
  });

  test('an acceptable body on a path without that method is 405', async () => {
    const res = await worker.fetch('/api/v1/me', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    await expectProblem(assert, res, 405);
  });
});

describe('CORS', () => {
  const preflight = (origin, method = 'GET', headers = 'authorization') =>
    worker.fetch('/api/v1/me', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
    });

  test('preflight from the frontend is allowed with credentials', async () => {
    const res = await preflight(FRONTEND);
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), FRONTEND);
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
    assert.match(res.headers.get('access-control-allow-methods'), /\bGET\b/);
    assert.equal(res.headers.get('access-control-allow-headers'), 'authorization');
    assert.match(res.headers.get('vary'), /Origin/);
  });

  test('preflight from another origin gets no CORS headers', async () => {
    const res = await preflight('https://evil.test.invalid');
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    assert.equal(res.headers.get('access-control-allow-credentials'), null);
  });

  test('preflight for a method the path lacks is refused', async () => {
    const res = await preflight(FRONTEND, 'DELETE');
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  test('actual responses echo the allowed origin and expose the request id', async () => {
    const res = await worker.fetch('/api/v1/health', { headers: { origin: FRONTEND } });
    assert.equal(res.headers.get('access-control-allow-origin'), FRONTEND);
    assert.match(res.headers.get('access-control-expose-headers'), /X-Request-Id/);
    const other = await worker.fetch('/api/v1/health', { headers: { origin: 'https://evil.test.invalid' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    assert.match(other.headers.get('vary'), /Origin/);
  });

  test('errors carry CORS headers too, so the frontend can read them', async () => {
    const res = await worker.fetch('/api/v1/me', { headers: { origin: FRONTEND } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('access-control-allow-origin'), FRONTEND);
  });
});

describe('GET /api/v1/me', () => {
  const me = (headers = {}) => worker.fetch('/api/v1/me', { headers });

  test('401 without a token, with a Bearer challenge', async () => {
    const res = await me();
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="api"');
    const body = await expectProblem(assert, res, 401);
    assert.equal(body.type, '/problems/unauthorized');
  });

  test('200 with a valid token, as bearer or __session cookie', async () => {
    for (const headers of [
      { authorization: `Bearer ${issuer.token('user_alice')}` },
      { cookie: `theme=dark; __session=${issuer.token('user_alice')}` },
    ]) {
      const res = await me(headers);
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.user_id, 'user_alice');
      assert.match(body.session_id, /^sess_/);
    }
  });

  test('401 for expired, foreign, wrong-issuer and garbage tokens', async () => {
    const stranger = newIssuer('test-key-1');
    const now = Math.floor(Date.now() / 1000);
    const cases = {
      expired: issuer.token('user_alice', { now: now - 3600, ttlSeconds: 60 }),
      foreign: stranger.token('user_alice'),
      wrongIssuer: issuer.sign(
        { alg: 'RS256', typ: 'JWT', kid: issuer.kid },
        { sub: 'user_alice', iss: 'https://other.invalid', exp: now + 60, iat: now },
      ),
      garbage: 'not-a-jwt',
    };
    for (const [name, token] of Object.entries(cases)) {
      const res = await me({ authorization: `Bearer ${token}` });
      assert.equal(res.status, 401, name);
      assert.match(res.headers.get('www-authenticate'), /invalid_token/, name);
    }
  });

  test('the log line names the user, and no log holds a token', async () => {
    const token = issuer.token('user_logged');
    const res = await me({ authorization: `Bearer ${token}` });
    const requestId = res.headers.get('x-request-id');
    const line = await worker.logLine(requestId);
    assert.equal(line.user_id, 'user_logged');
    assert.equal(line.route, '/api/v1/me');
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    const logs = worker.logs();
    assert.ok(!logs.includes(token.split('.')[2]), 'token signature appears in logs');
    assert.ok(!logs.includes(token.split('.')[1]), 'token payload appears in logs');
    assert.ok(!logs.includes(workerVars(issuer).ENCRYPTION_KEY), 'encryption key appears in logs');
  });
});

describe('OpenAPI', () => {
  test('the document is served and describes the problem shape', async () => {
    const res = await worker.fetch('/api/v1/openapi.json');
    assert.equal(res.status, 200);
    const doc = await res.json();
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/api/v1/me'].get.security.length > 0);
    assert.ok(doc.components.schemas.Problem.required.includes('request_id'));
  });
});
