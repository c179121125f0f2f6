// The local-development path: the Worker configured by the generated
// .dev.vars accepts a token from `npm run token`, through the same
// verification as production (there is no bypass to test instead).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { ROOT, projectEnv } from '../scripts/lib/toolchain.mjs';
import { startWorker } from './helpers/worker.mjs';

let worker;
before(async () => {
  worker = await startWorker({ vars: null });
});
after(() => worker?.stop());

function npmToken(userId) {
  const res = spawnSync('npm', ['run', '--silent', 'token', '--', userId], { cwd: ROOT, env: projectEnv(), encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  return res.stdout.trim();
}

test('a token from `npm run token` is accepted by GET /api/v1/me', async () => {
  const token = npmToken('user_dev_42');
  assert.equal(token.split('.').length, 3);
  const res = await worker.fetch('/api/v1/me', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).user_id, 'user_dev_42');
});

test('without a token the same Worker answers 401', async () => {
  const res = await worker.fetch('/api/v1/me');
  assert.equal(res.status, 401);
});
